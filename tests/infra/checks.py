"""Offline checks of the Terraform in infra/terraform.

Every check is a plain function taking the Terraform directory and returning a list
of problems (empty = pass), so the tests can run the same code on the real directory
and on deliberately broken copies of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
SCHEMA_FIXTURE = REPO_ROOT / "infra" / "schema" / "azurerm_schema.json"
CHECKOV_POLICIES = REPO_ROOT / "infra" / "checkov"
CHECKOV_BIN = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
FORMAT_SCRIPT = Path(__file__).resolve().parent / "hcl_format.mjs"

HCL_SUFFIXES = (".tf", ".tfvars", ".tftest.hcl")
FLEX_APP = "azurerm_function_app_flex_consumption"

# App settings the Functions platform or runtime owns; Terraform may set them although
# the app never reads them. (A plain `AzureWebJobsStorage` is refused separately.)
RUNTIME_SETTING_PATTERNS = (
    re.compile(r"^AzureWebJobsStorage__\w+$"),
    re.compile(r"^AzureWebJobs\w+$"),
    re.compile(r"^FUNCTIONS_\w+$"),
    re.compile(r"^WEBSITE_\w+$"),
    re.compile(r"^APPLICATIONINSIGHTS_\w+$"),
    re.compile(r"^SCM_\w+$"),
)
IDENTITY_HOST_STORAGE = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
}
KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(SecretUri=\$\{azurerm_key_vault_secret\.\w+\.versionless_id\}\)$"
)

# Block keys that are Terraform meta-arguments or parser bookkeeping, not provider schema.
META_ARGUMENTS = {
    "count",
    "for_each",
    "depends_on",
    "lifecycle",
    "provider",
    "provisioner",
    "connection",
    "alias",
    "version",
}

# Output values touching these need sensitive = true.
SECRET_REFERENCES = re.compile(
    r"random_password\.|azurerm_key_vault_secret\.\w+\.value\b|connection_string|"
    r"(primary|secondary)_(access_)?key|instrumentation_key|\.result\b|client_secret|password"
)
# Role assignment scopes that are too broad.
BROAD_SCOPES = re.compile(
    r"azurerm_resource_group\.|data\.azurerm_subscription|azurerm_subscription\.|management_group|"
    r"^/subscriptions/[^/]+/?$|^/subscriptions/[^/]+/resourceGroups/[^/]+/?$|^/$"
)
# Storage accounts allowed to keep shared keys, with the reason (also in the .tf).
SHARED_KEY_EXEMPT = {
    "ml": "Azure ML system datastores use account keys; azurerm cannot set systemDatastoresAuthMode",
}


# --- parsing -------------------------------------------------------------------------------


def hcl_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.name.endswith(HCL_SUFFIXES) and ".terraform" not in p.parts
    )


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


def load(path: Path) -> dict[str, Any]:
    """The parsed file (cached per path and modification; callers must not mutate it)."""
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@cache
def _load(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    with open(path) as handle:
        return _normalize(hcl2.load(handle))


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _is_block(item: Any) -> bool:
    """A block body, or a labeled block (``dynamic "name" {...}``: label -> body)."""
    if not isinstance(item, dict):
        return False
    if item.get("__is_block__"):
        return True
    return bool(item) and all(isinstance(v, dict) and v.get("__is_block__") for v in item.values())


def _is_block_list(raw: Any) -> bool:
    return isinstance(raw, list) and bool(raw) and all(_is_block(item) for item in raw)


def _normalize(node: Any) -> Any:
    """python-hcl2 (7+) output in the shape the checks read.

    Labels and string literals lose their HCL quotes (``"\"models\""`` -> ``"models"``;
    expressions stay ``"${...}"``), parser metadata (``__is_block__``, ``__comments__``)
    is dropped, and inside a block every attribute is wrapped in a one-item list while
    nested blocks stay lists of bodies, so `value()` reads both alike.
    """
    if isinstance(node, str):
        return _unquote(node)
    if isinstance(node, list):
        return [_normalize(item) for item in node]
    if not isinstance(node, dict):
        return node
    is_body = bool(node.get("__is_block__"))
    out: dict[str, Any] = {}
    for key, raw in node.items():
        if key.startswith("__"):
            continue
        if is_body and not _is_block_list(raw):
            out[_unquote(key)] = [_normalize(raw)]
        else:
            out[_unquote(key)] = _normalize(raw)
    return out


def check_parse(directory: Path) -> list[str]:
    problems = []
    for path in hcl_files(directory):
        try:
            load(path)
        except Exception as exc:  # noqa: BLE001 - the parser raises lark errors of many kinds
            problems.append(f"{path.relative_to(directory)}: {type(exc).__name__}: {exc}")
    return problems


def blocks(directory: Path, kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every `resource`/`data` block; (name, "", body) for others."""
    for path in tf_files(directory):
        for entry in load(path).get(kind, []):
            for first_label, inner in entry.items():
                if kind in ("resource", "data"):
                    for name, body in inner.items():
                        yield first_label, name, body
                else:
                    yield first_label, "", inner


def value(body: dict[str, Any], key: str) -> Any:
    """An attribute's value (the parser wraps each in a list)."""
    raw = body.get(key)
    return raw[0] if isinstance(raw, list) and raw else raw


def all_locals(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in tf_files(directory):
        for entry in load(path).get("locals", []):
            merged.update({k: v for k, v in entry.items() if not k.startswith("__")})
    return merged


def resolve(expr: Any, local_values: dict[str, Any], depth: int = 0) -> Any:
    """Follow `${local.a.b}` references to literal values where possible."""
    if depth > 10 or not isinstance(expr, str):
        return expr
    match = re.fullmatch(r"\$\{local\.([\w.]+)\}", expr)
    if not match:
        return expr
    current: Any = local_values
    for part in match.group(1).split("."):
        if not isinstance(current, dict) or part not in current:
            return expr
        current = _unwrap(current[part])
    return resolve(current, local_values, depth + 1)


def _unwrap(raw: Any) -> Any:
    return raw[0] if isinstance(raw, list) and len(raw) == 1 else raw


def single_resource(directory: Path, rtype: str) -> tuple[str, dict[str, Any]]:
    found = [(name, body) for t, name, body in blocks(directory, "resource") if t == rtype]
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {rtype}, found {len(found)}")
    return found[0]


# --- formatting ----------------------------------------------------------------------------


def check_format(directory: Path) -> list[str]:
    """Files that `terraform fmt` (hclwrite, via @cdktf/hcl-tools) would change."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required for the HCL format check")
    files = [str(p) for p in hcl_files(directory)]
    result = subprocess.run([node, str(FORMAT_SCRIPT), *files], capture_output=True, text=True, timeout=120)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"hcl_format.mjs failed: {result.stderr}")
    return [line for line in result.stdout.splitlines() if line.strip()]


# --- checkov -------------------------------------------------------------------------------


def checkov_available() -> bool:
    return CHECKOV_BIN.is_file() and os.access(CHECKOV_BIN, os.X_OK)


def run_checkov(directory: Path) -> dict[str, Any]:
    """checkov's JSON report for the directory, with the project's custom policies."""
    cmd = [
        str(CHECKOV_BIN),
        "-d",
        str(directory),
        "--framework",
        "terraform",
        "--external-checks-dir",
        str(CHECKOV_POLICIES),
        "--compact",
        "--skip-download",
        "-o",
        "json",
    ]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # offline: no guideline download
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=directory)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {result.returncode}: {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    if isinstance(report, list):  # one entry per framework
        report = next(r for r in report if r.get("check_type") == "terraform")
    return report


def checkov_failures(report: dict[str, Any]) -> list[str]:
    failed = report.get("results", {}).get("failed_checks", [])
    problems = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed]
    errors = report.get("summary", {}).get("parsing_errors", 0)
    if errors:
        problems.append(f"checkov could not parse {errors} file(s)")
    return problems


def checkov_unjustified_skips(report: dict[str, Any]) -> list[str]:
    """Skips must be inline `#checkov:skip=ID:reason` comments with a reason."""
    skipped = report.get("results", {}).get("skipped_checks", [])
    return [
        f"{c['check_id']} {c['resource']}"
        for c in skipped
        if not str(c.get("check_result", {}).get("suppress_comment", "")).strip()
        or c.get("check_result", {}).get("suppress_comment") == "No comment provided"
    ]


# --- provider schema -----------------------------------------------------------------------


@cache
def load_schema(path: Path = SCHEMA_FIXTURE) -> dict[str, Any]:
    return json.loads(path.read_text())


def _validate(body: dict[str, Any], node: dict[str, Any], where: str, top: bool) -> list[str]:
    problems: list[str] = []
    present: set[str] = set()
    for key, raw in body.items():
        if key.startswith("__") or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic":
            for entry in raw:
                for block_name, spec in entry.items():
                    present.add(block_name)
                    if block_name not in node["blocks"]:
                        problems.append(f"{where}: unknown dynamic block {block_name!r}")
                        continue
                    for content in spec.get("content", []):
                        problems += _validate(
                            content, node["blocks"][block_name], f"{where}.{block_name}", False
                        )
            continue
        present.add(key)
        if key in node["arguments"]:
            continue
        if key in node["blocks"]:
            for item in raw if isinstance(raw, list) else [raw]:
                if isinstance(item, dict):
                    problems += _validate(item, node["blocks"][key], f"{where}.{key}", False)
            continue
        problems.append(f"{where}: unknown argument or block {key!r}")
    for arg, required in node["arguments"].items():
        if required and arg not in present:
            problems.append(f"{where}: required argument {arg!r} is not set")
    for block_name, spec in node["blocks"].items():
        if spec["required"] and block_name not in present:
            problems.append(f"{where}: required block {block_name!r} is missing")
    return problems


def used_types(directory: Path) -> set[str]:
    """`resource.<type>`, `data.<type>` and `provider.<name>` of every block used."""
    return {f"{kind}.{t}" for kind in ("resource", "data", "provider") for t, _, _ in blocks(directory, kind)}


def check_schema_coverage(directory: Path, schema: dict[str, Any] | None = None) -> list[str]:
    schema = schema or load_schema()
    return [
        f"{key} is not in {SCHEMA_FIXTURE.name}: run python infra/schema/extract_schema.py"
        for key in sorted(used_types(directory) - set(schema["types"]))
    ]


def check_schema(directory: Path, schema: dict[str, Any] | None = None) -> list[str]:
    schema = schema or load_schema()
    problems: list[str] = []
    for kind in ("resource", "data", "provider"):
        for rtype, name, body in blocks(directory, kind):
            node = schema["types"].get(f"{kind}.{rtype}")
            if node is not None:
                where = f"{kind}.{rtype}.{name}" if name else f"{kind}.{rtype}"
                problems += _validate(body, node, where, True)
    return problems


# --- app settings consistency ----------------------------------------------------------------


def is_runtime_setting(name: str) -> bool:
    return any(p.match(name) for p in RUNTIME_SETTING_PATTERNS)


def terraform_app_settings(directory: Path) -> dict[str, Any]:
    """Settings the function app gets: its app_settings map plus what site_config adds."""
    _, body = single_resource(directory, FLEX_APP)
    settings = resolve(value(body, "app_settings"), all_locals(directory))
    if not isinstance(settings, dict):
        raise AssertionError(
            f"{FLEX_APP}.app_settings must be a literal map or a local holding one: {settings!r}"
        )
    settings = {k: v for k, v in settings.items() if not k.startswith("__")}
    site_config = value(body, "site_config") or {}
    if value(site_config, "application_insights_connection_string"):
        settings.setdefault(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            value(site_config, "application_insights_connection_string"),
        )
    return settings


def app_deployed_names() -> set[str]:
    from app.settings import deployed_setting_names

    return set(deployed_setting_names())


def app_known_names() -> set[str]:
    from app.settings import all_setting_names

    return set(all_setting_names())


def app_secret_names() -> set[str]:
    """Deployed settings typed SecretStr (must come from Key Vault), except App Insights."""
    from app.settings import Settings

    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if "SecretStr" in str(field.annotation) and extra.get("deployed") and isinstance(alias, str):
            names.add(alias)
    return {n for n in names if not n.startswith("APPLICATIONINSIGHTS_")}


def check_app_settings(
    directory: Path, deployed: set[str] | None = None, known: set[str] | None = None
) -> list[str]:
    deployed = app_deployed_names() if deployed is None else deployed
    known = app_known_names() if known is None else known
    settings = terraform_app_settings(directory)
    names = set(settings)
    problems = [f"deployed setting {n} is not set by Terraform" for n in sorted(deployed - names)]
    for name in sorted(names - deployed):
        if is_runtime_setting(name):
            continue
        reason = "is not a deployed setting" if name in known else "is not a setting the app reads"
        problems.append(f"Terraform sets {name}, which {reason}")
    if "AzureWebJobsStorage" in names:
        problems.append("plain AzureWebJobsStorage (a connection string) is set; use AzureWebJobsStorage__*")
    problems += [
        f"identity-based host storage setting {n} is missing" for n in sorted(IDENTITY_HOST_STORAGE - names)
    ]
    if settings.get("AzureWebJobsStorage__credential") not in (None, "managedidentity"):
        problems.append("AzureWebJobsStorage__credential must be 'managedidentity'")
    for name in sorted(app_secret_names() & names):
        if not KEY_VAULT_REFERENCE.match(str(settings[name])):
            problems.append(f"{name} must be a Key Vault reference to a secret's versionless_id")
    return problems


def check_app_settings_writers(directory: Path) -> list[str]:
    """Anything else writing the site's app settings writes the same map as the function app."""
    _, body = single_resource(directory, FLEX_APP)
    reference = str(value(body, "app_settings"))
    problems = []
    for rtype, name, action in blocks(directory, "resource"):
        if not rtype.startswith("azapi_") or "/config/appsettings" not in json.dumps(action):
            continue
        text = json.dumps(value(action, "body"))
        if not reference.startswith("${local.") or reference[2:-1] not in text:
            problems.append(f"{rtype}.{name} must write {reference} (the function app's app_settings)")
        if re.search(r'"AzureWebJobsStorage"', text):
            problems.append(f"{rtype}.{name} writes a plain AzureWebJobsStorage")
    return problems


def check_identity_settings(directory: Path) -> list[str]:
    """AZURE_CLIENT_ID and the host storage client id are the app's user-assigned identity."""
    settings = terraform_app_settings(directory)
    problems = []
    for name in ("AZURE_CLIENT_ID", "AzureWebJobsStorage__clientId"):
        if not re.fullmatch(r"\$\{azurerm_user_assigned_identity\.\w+\.client_id\}", str(settings.get(name))):
            problems.append(f"{name} must be a user-assigned identity's client_id")
    return problems


def check_containers(directory: Path) -> list[str]:
    """Container names and the settings that point at them agree with the app's defaults."""
    from app.settings import Settings

    expected = {
        "MODEL_FALLBACK_CONTAINER": Settings.model_fields["fallback_container"].default,
        "PREDICTION_LOG_CONTAINER": Settings.model_fields["prediction_log_container"].default,
    }
    local_values = all_locals(directory)
    containers = {
        name: resolve(value(body, "name"), local_values)
        for rtype, name, body in blocks(directory, "resource")
        if rtype == "azurerm_storage_container"
    }
    settings = terraform_app_settings(directory)
    problems = []
    for setting, default in expected.items():
        ref = re.fullmatch(r"\$\{azurerm_storage_container\.(\w+)\.name\}", str(settings.get(setting)))
        actual = containers.get(ref.group(1)) if ref else resolve(settings.get(setting), local_values)
        if actual != default:
            problems.append(f"{setting} is {actual!r} in Terraform, the app defaults to {default!r}")
    return problems


# --- structure -------------------------------------------------------------------------------


def check_outputs(directory: Path) -> list[str]:
    problems = []
    for name, _, body in blocks(directory, "output"):
        text = json.dumps(value(body, "value"))
        if SECRET_REFERENCES.search(text) and value(body, "sensitive") is not True:
            problems.append(f"output {name} exposes a secret without sensitive = true")
        if not value(body, "description"):
            problems.append(f"output {name} has no description")
    return problems


def check_function_identity(directory: Path) -> list[str]:
    _, body = single_resource(directory, FLEX_APP)
    identity = value(body, "identity")
    problems = []
    if not isinstance(identity, dict) or "UserAssigned" not in str(value(identity, "type")):
        problems.append(f"{FLEX_APP} needs a UserAssigned identity block")
    elif not value(identity, "identity_ids"):
        problems.append(f"{FLEX_APP} identity has no identity_ids")
    if value(body, "storage_authentication_type") != "UserAssignedIdentity":
        problems.append(f"{FLEX_APP}.storage_authentication_type must be UserAssignedIdentity")
    if value(body, "https_only") is not True:
        problems.append(f"{FLEX_APP}.https_only must be true")
    if (value(body, "runtime_name"), value(body, "runtime_version")) != ("python", "3.11"):
        problems.append(f"{FLEX_APP} must run python 3.11")
    return problems


def check_role_assignments(directory: Path) -> list[str]:
    local_values = all_locals(directory)
    problems = []
    for rtype, name, body in blocks(directory, "resource"):
        if rtype != "azurerm_role_assignment":
            continue
        scope = value(body, "scope")
        scopes = [scope]
        if scope == "${each.value}":
            mapping = resolve(value(body, "for_each"), local_values)
            scopes = list(mapping.values()) if isinstance(mapping, dict) else [mapping]
        for item in scopes:
            if not isinstance(item, str) or BROAD_SCOPES.search(item) or "${" not in item:
                problems.append(f"azurerm_role_assignment.{name}: scope {item!r} is not a specific resource")
        role = str(value(body, "role_definition_name") or "")
        if role in {"Owner", "Contributor", "User Access Administrator"}:
            problems.append(f"azurerm_role_assignment.{name}: broad role {role}")
        principal = str(value(body, "principal_id"))
        is_identity = "function_principal_id" in principal or "azurerm_user_assigned_identity" in principal
        if is_identity and value(body, "principal_type") != "ServicePrincipal":
            problems.append(
                f"azurerm_role_assignment.{name}: managed identity needs principal_type ServicePrincipal"
            )
    return problems


def check_model_signing(directory: Path) -> list[str]:
    """The signing key signs only; the app gets its public half and no role on the key."""
    problems = []
    keys = [
        (name, body)
        for rtype, name, body in blocks(directory, "resource")
        if rtype == "azurerm_key_vault_key"
    ]
    if len(keys) != 1:
        return [f"expected exactly one azurerm_key_vault_key (the model-signing key), found {len(keys)}"]
    name, body = keys[0]
    if value(body, "key_type") != "EC" or sorted(body.get("key_opts", [[]])[0]) != ["sign", "verify"]:
        problems.append(f"azurerm_key_vault_key.{name} must be an EC key with key_opts sign, verify")
    settings = resolve("${local.function_app_settings}", all_locals(directory))
    public = settings.get("MODEL_SIGNING_PUBLIC_KEYS") if isinstance(settings, dict) else None
    if _unwrap(public) != f"${{azurerm_key_vault_key.{name}.public_key_pem}}":
        problems.append(f"MODEL_SIGNING_PUBLIC_KEYS must be azurerm_key_vault_key.{name}.public_key_pem")
    for rtype, assignment, role_body in blocks(directory, "resource"):
        if rtype != "azurerm_role_assignment":
            continue
        on_key = f"azurerm_key_vault_key.{name}" in str(value(role_body, "scope"))
        principal = str(value(role_body, "principal_id"))
        if on_key and ("function_principal_id" in principal or "azurerm_user_assigned_identity" in principal):
            problems.append(
                f"azurerm_role_assignment.{assignment}: the function identity must hold "
                "no role on the signing key"
            )
        if on_key and value(role_body, "role_definition_name") != "Key Vault Crypto User":
            problems.append(f"azurerm_role_assignment.{assignment}: signers get Key Vault Crypto User only")
    return problems


def check_variables(directory: Path) -> list[str]:
    problems = []
    for name, _, body in blocks(directory, "variable"):
        if not value(body, "description"):
            problems.append(f"variable {name} has no description")
        if not value(body, "type"):
            problems.append(f"variable {name} has no type")
    return problems


def check_storage_accounts(directory: Path) -> list[str]:
    problems = []
    for rtype, name, body in blocks(directory, "resource"):
        if rtype != "azurerm_storage_account":
            continue
        where = f"azurerm_storage_account.{name}"
        if value(body, "allow_nested_items_to_be_public") is not False:
            problems.append(f"{where}: allow_nested_items_to_be_public must be false")
        if value(body, "min_tls_version") != "TLS1_2":
            problems.append(f"{where}: min_tls_version must be TLS1_2")
        if value(body, "https_traffic_only_enabled") is not True:
            problems.append(f"{where}: https_traffic_only_enabled must be true")
        if value(body, "shared_access_key_enabled") is not False and name not in SHARED_KEY_EXEMPT:
            problems.append(f"{where}: shared_access_key_enabled must be false")
        if value(body, "public_network_access_enabled") is True:
            problems.append(f"{where}: public_network_access_enabled must come from a variable")
    return problems


HOST_BODY_LIMIT_MAX = 32 * 1024 * 1024


def check_host_body_limit(directory: Path) -> list[str]:
    """The host's own request-body limit is set, at or above the app's MAX_BODY_BYTES (so
    the app still answers 413 itself) and far below the host's 100 MB default."""
    from app.settings import Settings

    raw = terraform_app_settings(directory).get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT")
    if raw is None:
        return ["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT is not set (the host buffers up to 100 MB)"]
    if not str(raw).isdigit():
        return [f"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a byte count: {raw!r}"]
    app_limit = Settings.model_fields["max_body_bytes"].default
    if not app_limit <= int(raw) <= HOST_BODY_LIMIT_MAX:
        return [
            f"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be between MAX_BODY_BYTES "
            f"({app_limit}) and {HOST_BODY_LIMIT_MAX}: {raw}"
        ]
    return []


def check_application_insights(directory: Path) -> list[str]:
    """Every Application Insights resource refuses instrumentation-key (local) auth."""
    return [
        f"azurerm_application_insights.{name}: local_authentication_disabled must be true"
        for rtype, name, body in blocks(directory, "resource")
        if rtype == "azurerm_application_insights"
        and value(body, "local_authentication_disabled") is not True
    ]


def structural_problems(directory: Path) -> list[str]:
    return (
        check_application_insights(directory)
        + check_host_body_limit(directory)
        + check_outputs(directory)
        + check_function_identity(directory)
        + check_role_assignments(directory)
        + check_model_signing(directory)
        + check_variables(directory)
        + check_storage_accounts(directory)
    )

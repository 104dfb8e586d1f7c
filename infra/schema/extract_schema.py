#!/usr/bin/env python3
"""Regenerate infra/schema/azurerm_schema.json, the offline provider schema fixture.

There is no terraform binary (so no `terraform providers schema -json`) in CI. The
prebuilt CDKTF provider packages on npm are generated from the provider schema: each
resource's `index.d.ts` has a `<Name>Config` interface whose properties carry the
snake_case argument name in a `{@link ...#arg_name ...}` JSDoc anchor, a `?` when the
argument is optional, and a nested `<Name><Block>` interface type for nested blocks.

This script installs the pinned packages into a temporary directory (never into the
project's package.json: @cdktf/provider-azurerm is several hundred MB), then extracts
only the resource and data source types that infra/terraform/*.tf uses.

    python infra/schema/extract_schema.py            # rewrite the fixture
    python infra/schema/extract_schema.py --check    # exit 1 if the fixture is stale

Run it after adding a resource type to the Terraform (tests/infra fails until you do).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TERRAFORM_DIR = HERE.parent / "terraform"
FIXTURE = HERE / "azurerm_schema.json"

# provider local name -> npm package pinned to a provider release.
PACKAGES: dict[str, str] = {
    "azurerm": "@cdktf/provider-azurerm@14.23.1",  # azurerm 4.55.0
    "random": "@cdktf/provider-random@12.0.1",  # random 3.7.x
}

# Providers without a CDKTF prebuilt package: hand-written from the provider docs.
# azapi 2.x `azapi_update_resource` (registry.terraform.io/providers/Azure/azapi/latest/docs).
MANUAL: dict[str, dict[str, Any]] = {
    "provider.azapi": {
        "source": "hand-written from the azapi 2.x documentation (no CDKTF package exists)",
        "arguments": {
            name: False
            for name in (
                "alias",
                "auxiliary_tenant_ids",
                "client_certificate",
                "client_certificate_password",
                "client_certificate_path",
                "client_id",
                "client_id_file_path",
                "client_secret",
                "client_secret_file_path",
                "custom_correlation_request_id",
                "default_location",
                "default_name",
                "default_tags",
                "disable_correlation_request_id",
                "disable_default_output",
                "disable_terraform_partner_id",
                "enable_preflight",
                "environment",
                "ignore_no_op_changes",
                "maximum_busy_retry_attempts",
                "oidc_azure_service_connection_id",
                "oidc_request_token",
                "oidc_request_url",
                "oidc_token",
                "oidc_token_file_path",
                "partner_id",
                "skip_provider_registration",
                "subscription_id",
                "tenant_id",
                "use_aks_workload_identity",
                "use_cli",
                "use_msi",
                "use_oidc",
            )
        },
        "blocks": {},
    },
    "resource.azapi_resource_action": {
        "source": "hand-written from the azapi 2.x documentation (no CDKTF package exists)",
        "arguments": {
            "type": True,
            "resource_id": True,
            "action": False,
            "body": False,
            "headers": False,
            "locks": False,
            "method": False,
            "query_parameters": False,
            "response_export_values": False,
            "retry": False,
            "sensitive_body": False,
            "sensitive_body_version": False,
            "sensitive_response_export_values": False,
            "when": False,
        },
        "blocks": {
            "timeouts": {
                "required": False,
                "arguments": {"create": False, "delete": False, "read": False, "update": False},
                "blocks": {},
            }
        },
    },
    "resource.azapi_update_resource": {
        "source": "hand-written from the azapi 2.x documentation (no CDKTF package exists)",
        "arguments": {
            "type": True,
            "body": False,
            "name": False,
            "parent_id": False,
            "resource_id": False,
            "ignore_body_changes": False,
            "ignore_casing": False,
            "ignore_missing_property": False,
            "locks": False,
            "read_headers": False,
            "read_query_parameters": False,
            "response_export_values": False,
            "retry": False,
            "sensitive_body": False,
            "sensitive_body_version": False,
            "update_headers": False,
            "update_query_parameters": False,
        },
        "blocks": {
            "timeouts": {
                "required": False,
                "arguments": {"create": False, "delete": False, "read": False, "update": False},
                "blocks": {},
            }
        },
    },
}

BLOCK_RE = re.compile(r'^\s*(resource|data)\s+"([A-Za-z0-9_]+)"\s+"[^"]+"', re.MULTILINE)
PROVIDER_RE = re.compile(r'^provider\s+"([A-Za-z0-9_]+)"', re.MULTILINE)
INTERFACE_RE = re.compile(r"^export interface (\w+)(?: extends [\w.]+)? \{$")
LINK_RE = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^ ]+#(\w+) ")
VERSION_RE = re.compile(r"registry\.terraform\.io/providers/[\w-]+/[\w-]+/(\d+\.\d+\.\d+)/")
PROP_RE = re.compile(r"^\s+readonly (\w+)(\??): (.+?);?$")


def used_types(directory: Path) -> set[str]:
    """`resource.<type>` / `data.<type>` / `provider.<name>` for every block in the .tf files."""
    found: set[str] = set()
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text()
        found.update(f"{kind}.{rtype}" for kind, rtype in BLOCK_RE.findall(text))
        found.update(f"provider.{name}" for name in PROVIDER_RE.findall(text))
    return found


def parse_interfaces(text: str) -> dict[str, list[tuple[str, bool, str]]]:
    """interface name -> [(snake_case name, required, TypeScript type)]."""
    interfaces: dict[str, list[tuple[str, bool, str]]] = {}
    current: list[tuple[str, bool, str]] | None = None
    anchor: str | None = None
    for line in text.splitlines():
        start = INTERFACE_RE.match(line)
        if start:
            current = interfaces.setdefault(start.group(1), [])
            anchor = None
            continue
        if current is None:
            continue
        if line == "}":
            current = None
            continue
        link = LINK_RE.search(line)
        if link:
            anchor = link.group(1)
            continue
        prop = PROP_RE.match(line)
        if prop and anchor:
            current.append((anchor, prop.group(2) != "?", prop.group(3)))
            anchor = None
    return interfaces


def build(interfaces: dict[str, list[tuple[str, bool, str]]], name: str) -> dict[str, Any]:
    arguments: dict[str, bool] = {}
    blocks: dict[str, Any] = {}
    for arg, required, ts_type in interfaces[name]:
        nested = ts_type.split("|")[0].strip().removesuffix("[]")
        if nested in interfaces and nested != name:
            blocks[arg] = {"required": required, **build(interfaces, nested)}
        else:
            arguments[arg] = required
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items()))}


def pascal(words: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", words))


def extract(lib: Path, key: str, provider: str) -> tuple[dict[str, Any], str | None]:
    kind, rtype = key.split(".", 1)
    short = rtype.removeprefix(f"{provider}_").replace("_", "-")
    folder = f"data-{provider}-{short}" if kind == "data" else short
    if kind == "provider":
        folder = "provider"
    elif not (lib / folder).is_dir():  # names clashing with JS/TS words get a suffix
        folder += "-resource"
    dts = (lib / folder / "index.d.ts").read_text()
    config = pascal(provider if kind == "provider" else folder) + (
        "ProviderConfig" if kind == "provider" else "Config"
    )
    interfaces = parse_interfaces(dts)
    if config not in interfaces:
        raise SystemExit(f"{key}: interface {config} not found in {folder}/index.d.ts")
    version = VERSION_RE.search(dts)
    return build(interfaces, config), version.group(1) if version else None


def generate(directory: Path) -> dict[str, Any]:
    wanted = used_types(directory)
    schema: dict[str, Any] = {"providers": {}, "types": {}}
    with tempfile.TemporaryDirectory(prefix="azschema-") as tmp:
        for provider, package in PACKAGES.items():
            keys = sorted(
                k
                for k in wanted
                if k.split(".", 1)[1].startswith(f"{provider}_") or k == f"provider.{provider}"
            )
            if not keys:
                continue
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                    "--prefix",
                    tmp,
                    package,
                ],
                check=True,
            )
            lib = Path(tmp, "node_modules", *package.rsplit("@", 1)[0].split("/"), "lib")
            versions: set[str] = set()
            for key in keys:
                schema["types"][key], version = extract(lib, key, provider)
                if version:
                    versions.add(version)
            schema["providers"][provider] = {"package": package, "provider_versions": sorted(versions)}
    for key, entry in MANUAL.items():
        if key in wanted:
            schema["types"][key] = entry
    missing = wanted - set(schema["types"])
    if missing:
        raise SystemExit(f"no schema source for: {', '.join(sorted(missing))}")
    schema["types"] = dict(sorted(schema["types"].items()))
    return schema


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the fixture differs")
    parser.add_argument("--terraform-dir", type=Path, default=TERRAFORM_DIR)
    args = parser.parse_args()
    text = json.dumps(generate(args.terraform_dir), indent=1, sort_keys=False) + "\n"
    if args.check:
        current = FIXTURE.read_text() if FIXTURE.exists() else ""
        if current != text:
            print(f"{FIXTURE} is stale: run python infra/schema/extract_schema.py", file=sys.stderr)
            return 1
        return 0
    FIXTURE.write_text(text)
    print(f"wrote {FIXTURE} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

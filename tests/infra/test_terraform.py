"""The real infra/terraform passes every offline check."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.infra import checks
from tests.infra.helpers import require_checkov

DIR = checks.TERRAFORM_DIR


def test_there_is_terraform_to_check() -> None:
    names = {p.name for p in checks.hcl_files(DIR)}
    expected = {
        "versions.tf",
        "providers.tf",
        "variables.tf",
        "outputs.tf",
        "main.tf",
        "storage.tf",
        "function_app.tf",
        "monitoring.tf",
        "ml_workspace.tf",
        "identity.tf",
        "rbac.tf",
        "key_vault.tf",
        "dev.tfvars",
        "prod.tfvars",
    }
    assert expected <= names
    assert any(name.endswith(".tftest.hcl") for name in names)
    assert (DIR / "backend.tf.example").is_file()


def test_every_file_parses() -> None:
    assert checks.check_parse(DIR) == []


def test_every_file_is_formatted() -> None:
    assert checks.check_format(DIR) == []


def test_arguments_exist_in_the_provider_schema() -> None:
    assert checks.check_schema(DIR) == []


def test_schema_fixture_covers_every_type_used() -> None:
    assert checks.check_schema_coverage(DIR) == []


def test_schema_fixture_matches_the_pinned_packages() -> None:
    spec = importlib.util.spec_from_file_location(
        "extract_schema", checks.REPO_ROOT / "infra/schema/extract_schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    schema = checks.load_schema()
    pinned = {name: {"package": package} for name, package in module.PACKAGES.items()}
    assert {name: {"package": p["package"]} for name, p in schema["providers"].items()} == pinned
    assert all(v.startswith("4.") for v in schema["providers"]["azurerm"]["provider_versions"])
    # extract_schema.py's own view of the used types agrees with the checks'.
    assert module.used_types(DIR) == checks.used_types(DIR)


def test_app_settings_are_exactly_the_deployed_settings() -> None:
    assert checks.check_app_settings(DIR) == []


def test_every_terraform_setting_is_read_by_the_app_or_the_runtime() -> None:
    known = checks.app_known_names()
    for name in checks.terraform_app_settings(DIR):
        assert name in known or checks.is_runtime_setting(name), name


def test_application_insights_comes_from_site_config() -> None:
    _, body = checks.single_resource(DIR, checks.FLEX_APP)
    assert checks.value(checks.value(body, "site_config"), "application_insights_connection_string")
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in checks.terraform_app_settings(DIR)


def test_app_settings_rewrite_uses_the_same_map() -> None:
    assert checks.check_app_settings_writers(DIR) == []


def test_identity_settings_point_at_the_user_assigned_identity() -> None:
    assert checks.check_identity_settings(DIR) == []


def test_container_names_match_the_app_defaults() -> None:
    assert checks.check_containers(DIR) == []


@pytest.mark.parametrize(
    "check",
    [
        checks.check_outputs,
        checks.check_function_identity,
        checks.check_role_assignments,
        checks.check_variables,
        checks.check_storage_accounts,
        checks.check_application_insights,
        checks.check_host_body_limit,
    ],
    ids=lambda f: f.__name__,
)
def test_structure(check: Any) -> None:
    assert check(DIR) == []


def test_both_environments_set_every_required_variable() -> None:
    required = {name for name, _, body in checks.blocks(DIR, "variable") if "default" not in body}
    for env in ("dev", "prod"):
        values = checks.load(DIR / "environments" / f"{env}.tfvars")
        assert required <= set(values), f"{env}.tfvars misses {required - set(values)}"
        declared = {name for name, _, _ in checks.blocks(DIR, "variable")}
        assert set(values) <= declared, f"{env}.tfvars sets undeclared {set(values) - declared}"


def test_checkov_passes(checkov_report: dict[str, Any]) -> None:
    assert checks.checkov_failures(checkov_report) == []
    assert checkov_report["summary"]["resource_count"] > 0


def test_checkov_skips_are_inline_and_justified(checkov_report: dict[str, Any]) -> None:
    assert checks.checkov_unjustified_skips(checkov_report) == []


def test_custom_policies_ran_and_passed(checkov_report: dict[str, Any]) -> None:
    passed = {
        c["check_id"]
        for c in checkov_report["results"]["passed_checks"]
        if c["resource"] == f"{checks.FLEX_APP}.this"
    }
    assert {f"CKV_MLSERVE_{i}" for i in range(1, 7)} <= passed


def test_missing_checkov_fails_in_ci_and_skips_locally(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(checks, "CHECKOV_BIN", tmp_path / "no-checkov")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/dev\.sh test"):
        require_checkov()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_checkov()

"""Each check fails on a deliberately broken copy of infra/terraform."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra import checks
from tests.infra.helpers import copy_terraform, mutate, require_checkov

BrokenCopy = Callable[[], Path]


# --- (a) a deployed setting dropped from either side -----------------------------------------


def test_setting_dropped_from_terraform_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(directory / "function_app.tf", "    MODEL_NAME                = var.model_name\n", "")
    assert "deployed setting MODEL_NAME is not set by Terraform" in checks.check_app_settings(directory)


def test_setting_added_to_the_app_but_not_terraform_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.settings

    deployed = app.settings.deployed_setting_names()
    monkeypatch.setattr(app.settings, "deployed_setting_names", lambda: deployed | {"MODEL_NEW_KNOB"})
    problems = checks.check_app_settings(checks.TERRAFORM_DIR)
    assert problems == ["deployed setting MODEL_NEW_KNOB is not set by Terraform"]


def test_setting_no_longer_deployed_by_the_app_fails() -> None:
    deployed = checks.app_deployed_names() - {"MODEL_ALIAS"}
    problems = checks.check_app_settings(checks.TERRAFORM_DIR, deployed=deployed)
    assert problems == ["Terraform sets MODEL_ALIAS, which is not a deployed setting"]


# --- (b) an unknown setting ----------------------------------------------------------------


def test_unknown_app_setting_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "function_app.tf",
        "  function_app_settings = {\n",
        '  function_app_settings = {\n    SURPRISE_KNOB = "1"\n',
    )
    assert "Terraform sets SURPRISE_KNOB, which is not a setting the app reads" in checks.check_app_settings(
        directory
    )


def test_connection_string_host_storage_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "function_app.tf",
        "  function_app_settings = {\n",
        '  function_app_settings = {\n    AzureWebJobsStorage = "x"\n',
    )
    assert any("plain AzureWebJobsStorage" in p for p in checks.check_app_settings(directory))


def test_secret_as_plain_value_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    path = directory / "function_app.tf"
    text = path.read_text()
    start = text.index("    ADMIN_API_KEY ")
    end = text.index("\n", start)
    path.write_text(text[:start] + "    ADMIN_API_KEY = random_password.admin_api_key.result" + text[end:])
    assert (
        "ADMIN_API_KEY must be a Key Vault reference to a secret's versionless_id"
        in checks.check_app_settings(directory)
    )


def test_app_settings_rewrite_with_another_map_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "function_app.tf",
        "properties = merge(local.function_app_settings, {",
        "properties = merge({}, {",
    )
    assert checks.check_app_settings_writers(directory) == [
        "azapi_resource_action.function_app_settings must write ${local.function_app_settings} "
        "(the function app's app_settings)"
    ]


def test_container_renamed_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "storage.tf",
        'models_container          = "models"',
        'models_container          = "model"',
    )
    assert checks.check_containers(directory)


# --- (c) public storage ----------------------------------------------------------------------


def test_public_storage_fails_structure(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "storage.tf",
        "allow_nested_items_to_be_public   = false",
        "allow_nested_items_to_be_public   = true",
    )
    problems = checks.check_storage_accounts(directory)
    assert "azurerm_storage_account.data: allow_nested_items_to_be_public must be false" in problems


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "shared_access_key_enabled         = false",
            "shared_access_key_enabled         = true",
            "shared_access_key_enabled",
        ),
        (
            'min_tls_version                   = "TLS1_2"',
            'min_tls_version                   = "TLS1_0"',
            "min_tls_version",
        ),
        (
            "https_traffic_only_enabled        = true",
            "https_traffic_only_enabled        = false",
            "https_traffic",
        ),
        (
            "public_network_access_enabled     = var.public_network_access_enabled",
            "public_network_access_enabled     = true",
            "public_network_access_enabled",
        ),
    ],
)
def test_weakened_storage_fails_structure(broken_copy: BrokenCopy, old: str, new: str, expected: str) -> None:
    directory = broken_copy()
    mutate(directory / "storage.tf", old, new)
    assert any(expected in p for p in checks.check_storage_accounts(directory))


@pytest.mark.parametrize("file", ["ml_workspace.tf", "monitoring.tf"])
def test_application_insights_with_local_auth_fails(broken_copy: BrokenCopy, file: str) -> None:
    directory = broken_copy()
    mutate(directory / file, "  local_authentication_disabled = true\n", "")
    problems = checks.check_application_insights(directory)
    assert len(problems) == 1 and "local_authentication_disabled must be true" in problems[0]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("", "is not set"),
        ('    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = "104857600"\n', "between MAX_BODY_BYTES"),
        ('    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = "1024"\n', "between MAX_BODY_BYTES"),
    ],
)
def test_host_body_limit_missing_or_out_of_range_fails(
    broken_copy: BrokenCopy, new: str, expected: str
) -> None:
    directory = broken_copy()
    mutate(directory / "function_app.tf", '    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = "25165824"\n', new)
    problems = checks.check_host_body_limit(directory)
    assert len(problems) == 1 and expected in problems[0], problems


# --- (d) formatting --------------------------------------------------------------------------


def test_unformatted_file_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "identity.tf",
        "  name                = local.names.identity",
        "  name   =   local.names.identity",
    )
    assert checks.check_format(directory) == [str(directory / "identity.tf")]


# --- (e) provider schema ---------------------------------------------------------------------


def test_misspelled_argument_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(directory / "function_app.tf", "  https_only ", "  http_only  ")
    problems = checks.check_schema(directory)
    assert (
        "resource.azurerm_function_app_flex_consumption.this: unknown argument or block 'http_only'"
        in problems
    )


def test_misspelled_nested_argument_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(directory / "function_app.tf", "    minimum_tls_version ", "    min_tls_version     ")
    problems = checks.check_schema(directory)
    assert any("site_config: unknown argument or block 'min_tls_version'" in p for p in problems)


def test_misspelled_provider_feature_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "providers.tf",
        "purge_soft_deleted_workspace_on_destroy",
        "purge_soft_delete_workspace_on_destroy",
    )
    problems = checks.check_schema(directory)
    assert any(
        "machine_learning: unknown argument or block 'purge_soft_delete_workspace_on_destroy'" in p
        for p in problems
    )


def test_missing_required_argument_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(directory / "function_app.tf", '  runtime_version        = "3.11"\n', "")
    problems = checks.check_schema(directory)
    assert (
        "resource.azurerm_function_app_flex_consumption.this: required argument 'runtime_version' is not set"
        in problems
    )


def test_new_resource_type_needs_a_schema_refresh(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    (directory / "extra.tf").write_text('resource "azurerm_container_registry" "x" {\n  name = "x"\n}\n')
    problems = checks.check_schema_coverage(directory)
    assert len(problems) == 1
    assert problems[0].startswith("resource.azurerm_container_registry is not in azurerm_schema.json")


# --- structure -------------------------------------------------------------------------------


def test_secret_output_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    with (directory / "outputs.tf").open("a") as handle:
        handle.write('\noutput "leak" {\n  description = "x"\n')
        handle.write("  value       = random_password.admin_api_key.result\n}\n")
    assert checks.check_outputs(directory) == ["output leak exposes a secret without sensitive = true"]


def test_resource_group_scope_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "rbac.tf",
        "scope                = azurerm_storage_container.models.id",
        "scope                = azurerm_resource_group.this.id",
    )
    assert any("is not a specific resource" in p for p in checks.check_role_assignments(directory))


def test_untyped_variable_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    with (directory / "variables.tf").open("a") as handle:
        handle.write('\nvariable "loose" {\n  default = 1\n}\n')
    assert checks.check_variables(directory) == [
        "variable loose has no description",
        "variable loose has no type",
    ]


# --- checkov on a broken copy ----------------------------------------------------------------

FLEX_BREAKAGES = [
    (
        "  https_only                                     = true",
        "  https_only                                     = false",
    ),
    ('    minimum_tls_version      = "1.2"', '    minimum_tls_version      = "1.0"'),
    ('    type         = "UserAssigned"', '    type         = "None"'),
    (
        '  storage_authentication_type       = "UserAssignedIdentity"',
        '  storage_authentication_type       = "StorageAccountConnectionString"',
    ),
    (
        "  webdeploy_publish_basic_authentication_enabled = false",
        "  webdeploy_publish_basic_authentication_enabled = true",
    ),
    (
        "  public_network_access_enabled                  = var.public_network_access_enabled",
        "  public_network_access_enabled                  = true",
    ),
]


@pytest.fixture(scope="module")
def broken_checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_checkov()
    directory = copy_terraform(tmp_path_factory.mktemp("broken-checkov"))
    for old, new in FLEX_BREAKAGES:
        mutate(directory / "function_app.tf", old, new)
    mutate(
        directory / "storage.tf",
        "allow_nested_items_to_be_public   = false",
        "allow_nested_items_to_be_public   = true",
    )
    # A skip without a reason.
    mutate(
        directory / "key_vault.tf",
        "#checkov:skip=CKV_AZURE_41:Consumed",
        "#checkov:skip=CKV_AZURE_41\n  # Consumed",
    )
    return checks.run_checkov(directory)


def _failed(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}


@pytest.mark.parametrize("number", range(1, 7))
def test_each_custom_policy_fails_on_a_broken_copy(
    broken_checkov_report: dict[str, Any], number: int
) -> None:
    assert (f"CKV_MLSERVE_{number}", f"{checks.FLEX_APP}.this") in _failed(broken_checkov_report)


def test_checkov_flags_public_blob_access(broken_checkov_report: dict[str, Any]) -> None:
    assert ("CKV_AZURE_190", "azurerm_storage_account.data") in _failed(broken_checkov_report)


def test_skip_without_reason_is_reported(broken_checkov_report: dict[str, Any]) -> None:
    assert checks.checkov_unjustified_skips(broken_checkov_report) == [
        "CKV_AZURE_41 azurerm_key_vault_secret.admin_api_key"
    ]


# --- the model-signing key ------------------------------------------------------------------


def test_function_identity_with_a_role_on_the_signing_key_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    (directory / "extra.tf").write_text(
        'resource "azurerm_role_assignment" "function_signs" {\n'
        "  scope                = azurerm_key_vault_key.model_signing.resource_versionless_id\n"
        '  role_definition_name = "Key Vault Crypto User"\n'
        "  principal_id         = local.function_principal_id\n"
        '  principal_type       = "ServicePrincipal"\n'
        "}\n"
    )
    assert (
        "azurerm_role_assignment.function_signs: the function identity must hold no role on the signing key"
    ) in checks.check_model_signing(directory)


def test_public_key_setting_not_from_the_signing_key_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "function_app.tf",
        "MODEL_SIGNING_PUBLIC_KEYS = azurerm_key_vault_key.model_signing.public_key_pem",
        'MODEL_SIGNING_PUBLIC_KEYS = "-----BEGIN PUBLIC KEY-----"',
    )
    assert (
        "MODEL_SIGNING_PUBLIC_KEYS must be azurerm_key_vault_key.model_signing.public_key_pem"
        in checks.check_model_signing(directory)
    )


def test_signing_key_that_can_decrypt_fails(broken_copy: BrokenCopy) -> None:
    directory = broken_copy()
    mutate(
        directory / "key_vault.tf",
        'key_opts     = ["sign", "verify"]',
        'key_opts     = ["sign", "verify", "decrypt"]',
    )
    assert any("key_opts sign, verify" in p for p in checks.check_model_signing(directory))

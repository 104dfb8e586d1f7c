"""checkov policies for azurerm_function_app_flex_consumption (CKV_MLSERVE_1..6).

Built-in checkov checks target azurerm_linux_function_app; these cover the Flex
Consumption resource the service is deployed with.
"""

from __future__ import annotations

from typing import Any

from _helpers import first, is_false, is_true, is_variable_reference

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

RESOURCE = ["azurerm_function_app_flex_consumption"]


class _FlexCheck(BaseResourceCheck):
    def __init__(self, check_id: str, name: str, category: CheckCategories) -> None:
        super().__init__(name=name, id=check_id, categories=[category], supported_resources=RESOURCE)

    def evaluate(self, conf: dict[str, Any]) -> bool:
        raise NotImplementedError

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED if self.evaluate(conf) else CheckResult.FAILED


class HttpsOnly(_FlexCheck):
    def __init__(self) -> None:
        super().__init__("CKV_MLSERVE_1", "Flex function app accepts HTTPS only", CheckCategories.ENCRYPTION)

    def evaluate(self, conf: dict[str, Any]) -> bool:
        return is_true(first(conf, "https_only"))


class MinimumTls(_FlexCheck):
    def __init__(self) -> None:
        super().__init__(
            "CKV_MLSERVE_2", "Flex function app requires TLS 1.2 or higher", CheckCategories.ENCRYPTION
        )

    def evaluate(self, conf: dict[str, Any]) -> bool:
        site_config = first(conf, "site_config")
        if not isinstance(site_config, dict):
            return False
        return str(first(site_config, "minimum_tls_version")) in {"1.2", "1.3"}


class ManagedIdentity(_FlexCheck):
    def __init__(self) -> None:
        super().__init__("CKV_MLSERVE_3", "Flex function app has a managed identity", CheckCategories.IAM)

    def evaluate(self, conf: dict[str, Any]) -> bool:
        identity = first(conf, "identity")
        if not isinstance(identity, dict):
            return False
        kind = str(first(identity, "type") or "")
        if "UserAssigned" in kind and not first(identity, "identity_ids"):
            return False
        return "Assigned" in kind


class IdentityStorageAuth(_FlexCheck):
    def __init__(self) -> None:
        super().__init__(
            "CKV_MLSERVE_4",
            "Flex function app reaches its deployment storage with a managed identity, not a key",
            CheckCategories.IAM,
        )

    def evaluate(self, conf: dict[str, Any]) -> bool:
        auth = first(conf, "storage_authentication_type")
        if first(conf, "storage_access_key"):
            return False
        if auth == "SystemAssignedIdentity":
            return True
        return auth == "UserAssignedIdentity" and bool(first(conf, "storage_user_assigned_identity_id"))


class BasicAuthPublishingOff(_FlexCheck):
    def __init__(self) -> None:
        super().__init__(
            "CKV_MLSERVE_5",
            "Flex function app disables basic-auth (webdeploy/SCM) publishing credentials",
            CheckCategories.IAM,
        )

    def evaluate(self, conf: dict[str, Any]) -> bool:
        # The provider defaults this to true, so it must be set explicitly. Flex
        # Consumption has no FTP publishing (no ftp_* argument exists in the schema).
        return is_false(first(conf, "webdeploy_publish_basic_authentication_enabled"))


class PublicNetworkAccessFromVariable(_FlexCheck):
    def __init__(self) -> None:
        super().__init__(
            "CKV_MLSERVE_6",
            "Flex function app public network access is an explicit per-environment variable",
            CheckCategories.NETWORKING,
        )

    def evaluate(self, conf: dict[str, Any]) -> bool:
        # Unset means the provider default (enabled); a literal true hard-codes exposure.
        value = first(conf, "public_network_access_enabled")
        return is_false(value) or is_variable_reference(value)


checks = [
    HttpsOnly(),
    MinimumTls(),
    ManagedIdentity(),
    IdentityStorageAuth(),
    BasicAuthPublishingOff(),
    PublicNetworkAccessFromVariable(),
]

terraform {
  # 1.7: mock_provider in `terraform test`.
  required_version = ">= 1.7"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.42 introduced `rbac_authorization_enabled` (the Key Vault name that survives 5.0);
      # everything else here exists since 4.21 (Flex Consumption function apps).
      version = ">= 4.42, < 5.0"
    }
    azapi = {
      source = "Azure/azapi"
      # Only for settings azurerm does not expose yet (see function_app.tf).
      version = ">= 2.4, < 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}

provider "azurerm" {
  # null: taken from ARM_SUBSCRIPTION_ID (or `az account show`).
  subscription_id = var.subscription_id

  # Every storage account has shared keys disabled, so blob/container data-plane calls
  # made by the provider must use Entra ID.
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy               = var.key_vault_purge_on_destroy
      purge_soft_deleted_secrets_on_destroy      = var.key_vault_purge_on_destroy
      recover_soft_deleted_key_vaults            = true
      recover_soft_deleted_secrets               = true
      purge_soft_deleted_keys_on_destroy         = false
      purge_soft_deleted_certificates_on_destroy = false
    }

    machine_learning {
      purge_soft_deleted_workspace_on_destroy = var.ml_workspace_purge_on_destroy
    }

    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
}

# Two accounts for the service, split by who may write where:
#   data: the model fallback ("models") and prediction log ("prediction-logs") containers,
#         read/written through container-scoped role assignments only;
#   host: the Functions runtime's own storage (AzureWebJobsStorage: host locks, keys)
#         and the Flex Consumption deployment package container. The runtime needs
#         Storage Blob Data Owner on its host account (rbac.tf); keeping it apart means
#         that grant never reaches the models container.
# Both: TLS 1.2, HTTPS only, no anonymous blob access, no shared keys (Entra ID only).

locals {
  # Must equal app.settings.Settings defaults (checked by tests/infra).
  models_container          = "models"
  prediction_logs_container = "prediction-logs"
}

resource "azurerm_storage_account" "data" {
  #checkov:skip=CKV_AZURE_33:Queue service is unused; the account holds blobs only.
  #checkov:skip=CKV_AZURE_35:No VNet/private endpoints here; Flex instances reach storage over the public endpoint with Entra ID auth (public_network_access_enabled is per environment).
  #checkov:skip=CKV_AZURE_59:public_network_access_enabled is a required per-environment variable, not a literal.
  #checkov:skip=CKV_AZURE_206:Replication is a variable (storage_replication_type); ZRS/GZRS in prod.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys are accepted; no customer-managed key requirement.
  #checkov:skip=CKV2_AZURE_33:Private endpoints are out of scope (no VNet in this configuration).
  #checkov:skip=CKV2_AZURE_21:Blob reads/writes/deletes go to Log Analytics via azurerm_monitor_diagnostic_setting.data_blobs (monitoring.tf); checkov only recognises classic storage analytics logging.
  name                              = local.names.storage_data
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.storage_replication_type
  access_tier                       = "Hot"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  public_network_access_enabled     = var.public_network_access_enabled
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false

  blob_properties {
    versioning_enabled  = true
    change_feed_enabled = true

    delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  tags = local.tags
}

resource "azurerm_storage_container" "models" {
  #checkov:skip=CKV2_AZURE_21:Blob access is logged through Azure Monitor diagnostic settings (monitoring.tf), not classic storage analytics.
  name                  = local.models_container
  storage_account_id    = azurerm_storage_account.data.id
  container_access_type = "private"
}

resource "azurerm_storage_container" "prediction_logs" {
  #checkov:skip=CKV2_AZURE_21:Blob access is logged through Azure Monitor diagnostic settings (monitoring.tf), not classic storage analytics.
  name                  = local.prediction_logs_container
  storage_account_id    = azurerm_storage_account.data.id
  container_access_type = "private"
}

resource "azurerm_storage_account" "host" {
  #checkov:skip=CKV_AZURE_33:Queue service is unused by the HTTP-only function app.
  #checkov:skip=CKV_AZURE_35:No VNet/private endpoints here; Flex instances reach storage over the public endpoint with Entra ID auth.
  #checkov:skip=CKV_AZURE_59:public_network_access_enabled is a required per-environment variable, not a literal.
  #checkov:skip=CKV_AZURE_206:Host storage holds only re-creatable runtime state and the deployment package; LRS is enough.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys are accepted; no customer-managed key requirement.
  #checkov:skip=CKV2_AZURE_33:Private endpoints are out of scope (no VNet in this configuration).
  #checkov:skip=CKV2_AZURE_21:Runtime host storage; blob read logging not required.
  name                              = local.names.storage_host
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "LRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  public_network_access_enabled     = var.public_network_access_enabled
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false

  blob_properties {
    delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  tags = local.tags
}

# Flex Consumption pulls the deployment package (zip) from this container.
resource "azurerm_storage_container" "deployment" {
  #checkov:skip=CKV2_AZURE_21:Blob access is logged through Azure Monitor diagnostic settings (monitoring.tf), not classic storage analytics.
  name                  = local.names.deployment_container
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

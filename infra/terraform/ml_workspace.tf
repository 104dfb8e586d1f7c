# Azure Machine Learning workspace: the MLflow tracking server and model registry.
# It gets its own Key Vault, storage account and Application Insights so that its
# service-managed access never touches the serving side's resources.

resource "azurerm_key_vault" "ml" {
  #checkov:skip=CKV_AZURE_109:No VNet/private endpoints; the workspace and its clients use the public endpoint (RBAC-only access).
  #checkov:skip=CKV_AZURE_189:public_network_access_enabled is a required per-environment variable, not a literal.
  #checkov:skip=CKV2_AZURE_32:Private endpoints are out of scope (no VNet in this configuration).
  name                          = local.names.key_vault_ml
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = var.public_network_access_enabled

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow"
  }

  tags = local.tags
}

resource "azurerm_storage_account" "ml" {
  #checkov:skip=CKV2_AZURE_40:Azure ML creates its system datastores with account keys; azurerm cannot set systemDatastoresAuthMode=identity (hashicorp/terraform-provider-azurerm#22150).
  #checkov:skip=CKV_AZURE_33:Queue service is unused.
  #checkov:skip=CKV_AZURE_35:No VNet/private endpoints in this configuration.
  #checkov:skip=CKV_AZURE_59:public_network_access_enabled is a required per-environment variable, not a literal.
  #checkov:skip=CKV_AZURE_206:Replication is a variable (storage_replication_type).
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys are accepted; no customer-managed key requirement.
  #checkov:skip=CKV2_AZURE_33:Private endpoints are out of scope (no VNet in this configuration).
  #checkov:skip=CKV2_AZURE_21:Blob read logging not required for the workspace store.
  name                              = local.names.storage_ml
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.storage_replication_type
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = true
  public_network_access_enabled     = var.public_network_access_enabled
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false

  blob_properties {
    versioning_enabled = true

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

# The workspace's Application Insights accepts no instrumentation-key ingestion: only
# Entra ID-authenticated senders (a leaked connection string cannot write to it).
resource "azurerm_application_insights" "ml" {
  name                          = local.names.app_insights_ml
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  application_type              = "web"
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  retention_in_days             = var.log_retention_days
  local_authentication_disabled = true
  tags                          = local.tags
}

resource "azurerm_machine_learning_workspace" "this" {
  #checkov:skip=CKV_AZURE_144:public_network_access_enabled is a required per-environment variable; no private endpoints in this configuration.
  #checkov:skip=CKV_AZURE_236:Microsoft-managed encryption keys are accepted.
  name                          = local.names.ml_workspace
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  application_insights_id       = azurerm_application_insights.ml.id
  key_vault_id                  = azurerm_key_vault.ml.id
  storage_account_id            = azurerm_storage_account.ml.id
  public_network_access_enabled = var.public_network_access_enabled
  sku_name                      = "Basic"
  v1_legacy_mode_enabled        = false

  identity {
    type = "SystemAssigned"
  }

  tags = local.tags
}

locals {
  # The workspace exports no MLflow URI; this is the documented format:
  # azureml://<region>.api.azureml.ms/mlflow/v1.0<workspace ARM id>.
  mlflow_tracking_uri = "azureml://${azurerm_machine_learning_workspace.this.location}.api.azureml.ms/mlflow/v1.0${azurerm_machine_learning_workspace.this.id}"
}

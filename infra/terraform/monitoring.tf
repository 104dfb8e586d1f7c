resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

# Workspace-based Application Insights for the function app (request telemetry,
# the app's own OpenTelemetry export via APPLICATIONINSIGHTS_CONNECTION_STRING).
# Local (instrumentation-key) auth is off: the host and the app send with the function's
# identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, Monitoring Metrics Publisher).
resource "azurerm_application_insights" "this" {
  name                          = local.names.app_insights
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  application_type              = "web"
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  retention_in_days             = var.log_retention_days
  local_authentication_disabled = true
  tags                          = local.tags
}

# Audit trails in Log Analytics: who read the secrets, and every blob read/write/delete
# on the model and prediction log containers.
resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                       = "to-${local.names.log_analytics}"
  target_resource_id         = azurerm_key_vault.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category_group = "audit"
  }
}

resource "azurerm_monitor_diagnostic_setting" "data_blobs" {
  name                       = "to-${local.names.log_analytics}"
  target_resource_id         = "${azurerm_storage_account.data.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

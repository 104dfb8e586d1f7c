locals {
  # Exactly the settings marked deployed=True in app/settings.py (tests/infra checks both
  # directions), plus the runtime's identity-based host storage connection. There is
  # deliberately no plain AzureWebJobsStorage (that would be a connection string).
  # APPLICATIONINSIGHTS_CONNECTION_STRING comes from site_config.
  function_app_settings = {
    AzureWebJobsStorage__accountName = azurerm_storage_account.host.name
    AzureWebJobsStorage__credential  = "managedidentity"
    AzureWebJobsStorage__clientId    = azurerm_user_assigned_identity.function.client_id
    # The host's own telemetry authenticates with the identity (local auth is off).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "ClientId=${azurerm_user_assigned_identity.function.client_id};Authorization=AAD"

    AZURE_CLIENT_ID           = azurerm_user_assigned_identity.function.client_id
    MLFLOW_TRACKING_URI       = local.mlflow_tracking_uri
    MODEL_NAME                = var.model_name
    MODEL_ALIAS               = var.model_alias
    MODEL_FLAVOR              = var.model_flavor
    MODEL_REFRESH_SECONDS     = tostring(var.model_refresh_seconds)
    REGISTRY_TIMEOUT_SECONDS  = tostring(var.registry_timeout_seconds)
    MODEL_STORAGE_ACCOUNT_URL = trimsuffix(azurerm_storage_account.data.primary_blob_endpoint, "/")
    MODEL_FALLBACK_CONTAINER  = azurerm_storage_container.models.name
    PREDICTION_LOG_ENABLED    = tostring(var.prediction_log_enabled)
    PREDICTION_LOG_CONTAINER  = azurerm_storage_container.prediction_logs.name
    # The public half of the Key Vault signing key: the app verifies, it cannot sign.
    MODEL_SIGNING_PUBLIC_KEYS = azurerm_key_vault_key.model_signing.public_key_pem
    REGISTRY_WRITES_ENABLED   = tostring(var.registry_writes_enabled)
    ADMIN_API_KEY             = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.admin_api_key.versionless_id})"
    MLFLOW_WEBHOOK_SECRET     = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.webhook_secret.versionless_id})"

    # The host reads a whole request body before the worker sees it (its default limit is
    # 100 MB). 24 MiB keeps the app's JSON 413 for bodies just over MAX_BODY_BYTES (20 MiB)
    # and lets the host refuse anything larger; raise both together.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = "25165824"
  }
}

resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_212:Flex Consumption (FC1) scales per instance; worker count/zone redundancy are not plan settings here.
  #checkov:skip=CKV_AZURE_225:Flex Consumption (FC1) has no zone-redundant plan setting.
  name                = local.names.service_plan
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azurerm_function_app_flex_consumption" "this" {
  name                = local.names.function_app
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  service_plan_id     = azurerm_service_plan.this.id

  runtime_name           = "python"
  runtime_version        = "3.11"
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_in_mb

  # Deployment package storage, reached with the user-assigned identity (no keys).
  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.function.id

  https_only                                     = true
  public_network_access_enabled                  = var.public_network_access_enabled
  webdeploy_publish_basic_authentication_enabled = false
  client_certificate_enabled                     = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.function.id]
  }

  dynamic "always_ready" {
    for_each = var.always_ready_instance_count > 0 ? [var.always_ready_instance_count] : []
    content {
      name           = "http"
      instance_count = always_ready.value
    }
  }

  site_config {
    minimum_tls_version      = "1.2"
    scm_minimum_tls_version  = "1.2"
    http2_enabled            = true
    remote_debugging_enabled = false
    # Sets APPLICATIONINSIGHTS_CONNECTION_STRING (a setting the app reads).
    application_insights_connection_string = azurerm_application_insights.this.connection_string
  }

  # See local.function_app_settings below.
  app_settings = local.function_app_settings

  tags = local.tags

  # The host must reach its storage and Key Vault the moment it starts.
  depends_on = [
    azurerm_role_assignment.function_host_storage_owner,
    azurerm_role_assignment.function_models_reader,
    azurerm_role_assignment.function_prediction_logs_contributor,
    azurerm_role_assignment.function_key_vault_secrets_user,
    azurerm_role_assignment.function_ml_registry_reader,
  ]
}

# Key Vault references resolve with the system-assigned identity unless the site's
# keyVaultReferenceIdentity names another one; this app has only the user-assigned
# identity. azurerm_function_app_flex_consumption has no key_vault_reference_identity_id
# yet (hashicorp/terraform-provider-azurerm#28928), so it is set through the ARM API.
resource "azapi_update_resource" "function_key_vault_reference_identity" {
  type        = "Microsoft.Web/sites@2024-04-01"
  resource_id = azurerm_function_app_flex_consumption.this.id

  body = {
    properties = {
      keyVaultReferenceIdentity = azurerm_user_assigned_identity.function.id
    }
  }

  response_export_values = []

  lifecycle {
    # An azurerm update of the site can reset the property: re-apply after each one.
    replace_triggered_by = [azurerm_function_app_flex_consumption.this]
  }
}

# azurerm (4.x) also writes a plain `AzureWebJobsStorage` connection string with an empty
# account key for identity-based storage_authentication_type, and hides it from state
# (hashicorp/terraform-provider-azurerm#29693, #30732). The Functions host would prefer it
# over the AzureWebJobsStorage__* identity settings and fail (shared keys are off). Replace
# the whole app settings collection with exactly the intended one after every change
# of the function app.
resource "azapi_resource_action" "function_app_settings" {
  type        = "Microsoft.Web/sites/config@2024-04-01"
  resource_id = "${azurerm_function_app_flex_consumption.this.id}/config/appsettings"
  method      = "PUT"

  body = {
    properties = merge(local.function_app_settings, {
      APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_application_insights.this.connection_string
    })
  }

  response_export_values = []

  # One write to the site at a time.
  depends_on = [azapi_update_resource.function_key_vault_reference_identity]

  lifecycle {
    replace_triggered_by = [azurerm_function_app_flex_consumption.this]
  }
}

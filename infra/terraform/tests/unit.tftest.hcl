# Plan-only unit tests with mocked providers: no Azure credentials, no resources.
#   cd infra/terraform && terraform init -backend=false && terraform test

mock_provider "azurerm" {
  mock_data "azurerm_client_config" {
    defaults = {
      tenant_id       = "00000000-0000-0000-0000-000000000001"
      object_id       = "00000000-0000-0000-0000-000000000002"
      client_id       = "00000000-0000-0000-0000-000000000003"
      subscription_id = "00000000-0000-0000-0000-000000000004"
    }
  }
}

mock_provider "azapi" {
  # `output` is dynamically typed: mocks cannot invent a value for it.
  mock_resource "azapi_update_resource" {
    defaults = {
      output = {}
    }
  }

  mock_resource "azapi_resource_action" {
    defaults = {
      output = {}
    }
  }
}

mock_provider "random" {}

variables {
  environment                   = "dev"
  location                      = "westeurope"
  public_network_access_enabled = true
}

run "function_app_is_hardened" {
  command = plan

  assert {
    condition     = azurerm_function_app_flex_consumption.this.https_only == true
    error_message = "The function app must accept HTTPS only."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.site_config[0].minimum_tls_version == "1.2"
    error_message = "The function app must require TLS 1.2."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.webdeploy_publish_basic_authentication_enabled == false
    error_message = "Basic-auth publishing must be off."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.storage_authentication_type == "UserAssignedIdentity"
    error_message = "Deployment storage must be reached with the user-assigned identity."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.identity[0].type == "UserAssigned"
    error_message = "The function app must run as its user-assigned identity."
  }

  assert {
    condition = (
      azurerm_function_app_flex_consumption.this.runtime_name == "python" &&
      azurerm_function_app_flex_consumption.this.runtime_version == "3.11"
    )
    error_message = "The function app must run Python 3.11."
  }

  assert {
    condition     = azurerm_service_plan.this.sku_name == "FC1"
    error_message = "The plan must be Flex Consumption (FC1)."
  }
}

# apply against mocks (nothing is created): Key Vault reference URIs are only known
# after the mocked secrets exist.
run "app_settings_use_identities_and_key_vault" {
  command = apply

  assert {
    condition     = !contains(keys(azurerm_function_app_flex_consumption.this.app_settings), "AzureWebJobsStorage")
    error_message = "No connection-string AzureWebJobsStorage: host storage uses the identity."
  }

  assert {
    condition     = !contains(keys(azapi_resource_action.function_app_settings.body.properties), "AzureWebJobsStorage")
    error_message = "The app settings rewrite must not bring back a plain AzureWebJobsStorage."
  }

  assert {
    condition     = azapi_resource_action.function_app_settings.method == "PUT"
    error_message = "The app settings rewrite must replace the whole collection."
  }

  assert {
    condition = alltrue([
      for name in ["AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId"] :
      contains(keys(azurerm_function_app_flex_consumption.this.app_settings), name)
    ])
    error_message = "Identity-based AzureWebJobsStorage__* settings are missing."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.app_settings["AzureWebJobsStorage__credential"] == "managedidentity"
    error_message = "AzureWebJobsStorage__credential must be managedidentity."
  }

  assert {
    condition = alltrue([
      for name in ["ADMIN_API_KEY", "MLFLOW_WEBHOOK_SECRET"] :
      startswith(azurerm_function_app_flex_consumption.this.app_settings[name], "@Microsoft.KeyVault(SecretUri=")
    ])
    error_message = "Secrets must be Key Vault references."
  }

  assert {
    condition = (
      azurerm_function_app_flex_consumption.this.app_settings["MODEL_FALLBACK_CONTAINER"] == "models" &&
      azurerm_function_app_flex_consumption.this.app_settings["PREDICTION_LOG_CONTAINER"] == "prediction-logs"
    )
    error_message = "Container settings must match the app defaults."
  }
}

run "storage_is_hardened" {
  command = plan

  assert {
    condition = alltrue([
      for account in [azurerm_storage_account.data, azurerm_storage_account.host] :
      account.shared_access_key_enabled == false &&
      account.allow_nested_items_to_be_public == false &&
      account.min_tls_version == "TLS1_2" &&
      account.https_traffic_only_enabled == true
    ])
    error_message = "Service storage accounts must disable shared keys and public blobs and require TLS 1.2 over HTTPS."
  }

  assert {
    condition     = azurerm_storage_account.data.blob_properties[0].versioning_enabled == true
    error_message = "Blob versioning must be on for the model account."
  }

  assert {
    condition     = azurerm_storage_container.models.name == "models" && azurerm_storage_container.prediction_logs.name == "prediction-logs"
    error_message = "Container names must match the app defaults."
  }
}

run "key_vault_is_protected" {
  command = plan

  assert {
    condition = alltrue([
      for vault in [azurerm_key_vault.this, azurerm_key_vault.ml] :
      vault.purge_protection_enabled && vault.rbac_authorization_enabled
    ])
    error_message = "Key Vaults need purge protection and RBAC authorization."
  }
}

run "least_privilege_roles" {
  command = plan

  assert {
    condition     = azurerm_role_assignment.function_models_reader.role_definition_name == "Storage Blob Data Reader"
    error_message = "The function reads models only."
  }

  assert {
    condition = alltrue([
      for assignment in [
        azurerm_role_assignment.function_models_reader,
        azurerm_role_assignment.function_prediction_logs_contributor,
        azurerm_role_assignment.function_host_storage_owner,
        azurerm_role_assignment.function_ml_registry_reader,
      ] : assignment.principal_type == "ServicePrincipal"
    ])
    error_message = "Managed identity role assignments need principal_type ServicePrincipal."
  }

  assert {
    condition     = alltrue([for action in azurerm_role_definition.ml_registry_reader.permissions[0].actions : endswith(action, "/read")])
    error_message = "The custom ML role must be read-only."
  }
}

run "prod_settings" {
  command = plan

  variables {
    environment                 = "prod"
    storage_replication_type    = "ZRS"
    always_ready_instance_count = 1
    maximum_instance_count      = 100
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.always_ready[0].instance_count == 1
    error_message = "always_ready_instance_count must reach the function app."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.maximum_instance_count == 100
    error_message = "maximum_instance_count must reach the function app."
  }
}

run "rejects_unknown_environment" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}

run "rejects_invalid_instance_memory" {
  command = plan

  variables {
    instance_memory_in_mb = 1024
  }

  expect_failures = [var.instance_memory_in_mb]
}

run "telemetry_uses_entra_id" {
  command = plan

  assert {
    condition     = azurerm_application_insights.this.local_authentication_disabled == true
    error_message = "Application Insights must refuse instrumentation-key-only ingestion."
  }

  assert {
    condition     = startswith(azurerm_function_app_flex_consumption.this.app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"], "ClientId=")
    error_message = "The Functions host must send telemetry with the user-assigned identity."
  }
}

run "model_signing_key_is_non_exportable_and_only_signers_may_use_it" {
  command = plan

  assert {
    condition     = azurerm_key_vault_key.model_signing.key_type == "EC" && azurerm_key_vault_key.model_signing.curve == "P-256"
    error_message = "The model-signing key must be an EC P-256 key (what the OpenSSF model-signing format verifies)."
  }

  assert {
    condition     = toset(azurerm_key_vault_key.model_signing.key_opts) == toset(["sign", "verify"])
    error_message = "The model-signing key may only sign and verify."
  }

  assert {
    condition     = alltrue([for a in azurerm_role_assignment.model_signer_crypto_user : a.role_definition_name == "Key Vault Crypto User"])
    error_message = "Signers get Key Vault Crypto User, nothing broader."
  }

  assert {
    condition     = length(azurerm_role_assignment.model_signer_crypto_user) == 1
    error_message = "By default only the deploying principal may sign."
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.this.app_settings["REGISTRY_WRITES_ENABLED"] == "false"
    error_message = "By default the function app is read-only on the registry and the fallback."
  }

  assert {
    condition     = length(azurerm_role_assignment.function_models_writer) == 0 && length(azurerm_role_assignment.function_ml_registry_writer) == 0
    error_message = "The function identity gets no write roles unless registry_writes_enabled is set."
  }
}

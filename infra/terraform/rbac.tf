# Least-privilege role assignments, each on the narrowest scope that works.
# All function-identity assignments use principal_type = "ServicePrincipal" so ARM
# does not wait on directory replication of a just-created identity.

locals {
  function_principal_id = azurerm_user_assigned_identity.function.principal_id
  deployer_object_id    = data.azurerm_client_config.current.object_id

  function_secrets = {
    admin_api_key  = azurerm_key_vault_secret.admin_api_key.resource_versionless_id
    webhook_secret = azurerm_key_vault_secret.webhook_secret.resource_versionless_id
  }
}

# --- function identity: service data ---------------------------------------------------

# Read-only on the fallback models (the app never writes there).
resource "azurerm_role_assignment" "function_models_reader" {
  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# Sends telemetry with Entra ID (the app's OpenTelemetry exporter and the Functions host).
resource "azurerm_role_assignment" "function_telemetry_publisher" {
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# Appends prediction log blobs.
resource "azurerm_role_assignment" "function_prediction_logs_contributor" {
  scope                = azurerm_storage_container.prediction_logs.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# Functions host storage (AzureWebJobsStorage__*) and the deployment package container.
# The host creates its own containers (azure-webjobs-hosts, azure-webjobs-secrets),
# keeps the function keys there and takes blob leases for its locks; Microsoft documents
# Storage Blob Data Owner on the host storage account for identity-based
# AzureWebJobsStorage. That also covers the Flex Consumption deployment container
# (Storage Blob Data Contributor would suffice there alone). The account holds nothing
# else: the models and prediction logs live in the data account.
# No queue/table roles: the app has HTTP triggers only.
resource "azurerm_role_assignment" "function_host_storage_owner" {
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# Key Vault references: read exactly the two secrets the app settings point at.
resource "azurerm_role_assignment" "function_key_vault_secrets_user" {
  for_each = local.function_secrets

  scope                = each.value
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# MLflow registry reads (resolve alias -> version, download the model), nothing else.
# Custom role definitions can only be made assignable at resource group (or wider)
# scope; the assignment below is what limits it to the workspace.
resource "azurerm_role_definition" "ml_registry_reader" {
  name        = local.names.ml_registry_reader
  scope       = azurerm_resource_group.this.id
  description = "Read-only MLflow model registry access for the serving function app."

  permissions {
    actions     = var.ml_registry_reader_actions
    not_actions = []
  }

  assignable_scopes = [azurerm_resource_group.this.id]
}

resource "azurerm_role_assignment" "function_ml_registry_reader" {
  scope              = azurerm_machine_learning_workspace.this.id
  role_definition_id = azurerm_role_definition.ml_registry_reader.role_definition_resource_id
  principal_id       = local.function_principal_id
  principal_type     = "ServicePrincipal"
}

# --- deploying principal -----------------------------------------------------------------
# principal_type is left to ARM: the deployer may be a user (az login) or a service
# principal (CI); a wrong explicit type fails the assignment.

# Write the generated secrets (key_vault.tf) and let operators read them back.
resource "azurerm_role_assignment" "deployer_key_vault_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = local.deployer_object_id
}

# Create (and rotate) the model-signing key; no data-plane use of other keys is needed.
resource "azurerm_role_assignment" "deployer_key_vault_crypto_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Crypto Officer"
  principal_id         = local.deployer_object_id
}

# Sign models (train/register/sign/promote from CI or an operator's shell): sign with
# exactly this key, nothing else. Defaults to the deploying principal.
resource "azurerm_role_assignment" "model_signer_crypto_user" {
  for_each = toset(coalescelist(var.model_signer_object_ids, [local.deployer_object_id]))

  scope                = azurerm_key_vault_key.model_signing.resource_versionless_id
  role_definition_name = "Key Vault Crypto User"
  principal_id         = each.value
}

# Optional (off by default): let the admin API's promote/rollback write from Azure.
# Without it the function identity is read-only on the registry and the fallback, and
# REGISTRY_WRITES_ENABLED=false makes those routes answer 403 naming the CLI.
resource "azurerm_role_assignment" "function_models_writer" {
  count = var.registry_writes_enabled ? 1 : 0

  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "function_ml_registry_writer" {
  count = var.registry_writes_enabled ? 1 : 0

  scope                = azurerm_machine_learning_workspace.this.id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = local.function_principal_id
  principal_type       = "ServicePrincipal"
}

# Publish verified fallback models into the models container.
resource "azurerm_role_assignment" "deployer_models_contributor" {
  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = local.deployer_object_id
}

# Train, log and register models in the MLflow registry.
resource "azurerm_role_assignment" "deployer_ml_data_scientist" {
  scope                = azurerm_machine_learning_workspace.this.id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = local.deployer_object_id
}

# No output carries a secret value: read secrets from Key Vault (see README.md).

output "resource_group_name" {
  description = "Resource group holding every resource."
  value       = azurerm_resource_group.this.name
}

output "function_app_name" {
  description = "Function app name (for `func azure functionapp publish` / `az functionapp ...`)."
  value       = azurerm_function_app_flex_consumption.this.name
}

output "function_app_default_hostname" {
  description = "Default host name of the function app."
  value       = azurerm_function_app_flex_consumption.this.default_hostname
}

output "function_app_url" {
  description = "Base URL of the serving API."
  value       = "https://${azurerm_function_app_flex_consumption.this.default_hostname}"
}

output "function_identity_client_id" {
  description = "Client id of the function app's user-assigned managed identity (AZURE_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.function.client_id
}

output "mlflow_tracking_uri" {
  description = "MLflow tracking/registry URI of the Azure ML workspace (MLFLOW_TRACKING_URI)."
  value       = local.mlflow_tracking_uri
}

output "ml_workspace_name" {
  description = "Azure Machine Learning workspace name."
  value       = azurerm_machine_learning_workspace.this.name
}

output "storage_account_name" {
  description = "Storage account holding the model fallback and prediction log containers."
  value       = azurerm_storage_account.data.name
}

output "storage_account_blob_endpoint" {
  description = "Blob endpoint of the data storage account (MODEL_STORAGE_ACCOUNT_URL)."
  value       = trimsuffix(azurerm_storage_account.data.primary_blob_endpoint, "/")
}

output "model_fallback_container" {
  description = "Container for verified fallback models (MODEL_FALLBACK_CONTAINER)."
  value       = azurerm_storage_container.models.name
}

output "prediction_log_container" {
  description = "Container for prediction logs (PREDICTION_LOG_CONTAINER)."
  value       = azurerm_storage_container.prediction_logs.name
}

output "key_vault_name" {
  description = "Key Vault holding the admin API key and the MLflow webhook secret."
  value       = azurerm_key_vault.this.name
}

output "admin_api_key_secret_name" {
  description = "Name (not value) of the admin API key secret in key_vault_name."
  value       = azurerm_key_vault_secret.admin_api_key.name
}

output "webhook_secret_name" {
  description = "Name (not value) of the MLflow webhook secret in key_vault_name."
  value       = azurerm_key_vault_secret.webhook_secret.name
}

output "model_signing_key_id" {
  description = "Versionless id of the Key Vault model-signing key: MODEL_SIGNING_KEY for `python -m app sign|train|promote` in CI."
  value       = azurerm_key_vault_key.model_signing.versionless_id
}

output "model_signing_public_key_pem" {
  description = "Public half of the model-signing key (what MODEL_SIGNING_PUBLIC_KEYS holds; verify with `model_signing verify key`)."
  value       = azurerm_key_vault_key.model_signing.public_key_pem
}

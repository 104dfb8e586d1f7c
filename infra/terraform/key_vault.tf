# Holds the service's secrets. The function app reads them through Key Vault
# references (function_app.tf) with its user-assigned identity; nobody reads the
# values from Terraform outputs.
resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:No VNet/private endpoints; Key Vault references from Flex Consumption use the public endpoint (RBAC-only access).
  #checkov:skip=CKV_AZURE_189:public_network_access_enabled is a required per-environment variable, not a literal.
  #checkov:skip=CKV2_AZURE_32:Private endpoints are out of scope (no VNet in this configuration).
  name                          = local.names.key_vault
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

resource "random_password" "admin_api_key" {
  length  = 48
  special = false
}

resource "random_password" "webhook_secret" {
  length  = 48
  special = false
}

resource "azurerm_key_vault_secret" "admin_api_key" {
  #checkov:skip=CKV_AZURE_41:Consumed by an app setting Key Vault reference; an expiry would silently break the admin API. Rotate by replacing random_password.admin_api_key.
  name         = "admin-api-key"
  value        = random_password.admin_api_key.result
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain"
  tags         = local.tags

  # Data-plane write: the deploying principal needs Key Vault Secrets Officer first.
  depends_on = [azurerm_role_assignment.deployer_key_vault_secrets_officer]
}

resource "azurerm_key_vault_secret" "webhook_secret" {
  #checkov:skip=CKV_AZURE_41:Consumed by an app setting Key Vault reference; an expiry would silently break MLflow webhooks. Rotate by replacing random_password.webhook_secret.
  name         = "mlflow-webhook-secret"
  value        = random_password.webhook_secret.result
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain"
  tags         = local.tags

  depends_on = [azurerm_role_assignment.deployer_key_vault_secrets_officer]
}

# The model-signing key (review findings F1/F2): the private half never leaves the vault.
# `python -m app sign|train|register` signs with it through CryptographyClient.sign
# (MODEL_SIGNING_KEY = this key's versionless id); the function app gets only the public
# half, as an app setting (MODEL_SIGNING_PUBLIC_KEYS), and holds no role on the key.
resource "azurerm_key_vault_key" "model_signing" {
  #checkov:skip=CKV_AZURE_40:An expiry would stop every instance from verifying new models at once; rotate by adding a key version and re-signing (README "Trust model").
  #checkov:skip=CKV_AZURE_112:HSM-backed keys need the premium SKU; the key is non-exportable software-protected (sign/verify only).
  name         = "model-signing"
  key_vault_id = azurerm_key_vault.this.id
  key_type     = "EC"
  curve        = "P-256"
  key_opts     = ["sign", "verify"]
  tags         = local.tags

  # Data-plane write: creating a key needs Key Vault Crypto Officer first.
  depends_on = [azurerm_role_assignment.deployer_key_vault_crypto_officer]
}

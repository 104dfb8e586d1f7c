# The function app runs as this user-assigned identity: it reads models, writes
# prediction logs, resolves Key Vault references and talks to the MLflow registry.
# AZURE_CLIENT_ID tells DefaultAzureCredential in the app to pick it.
resource "azurerm_user_assigned_identity" "function" {
  name                = local.names.identity
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

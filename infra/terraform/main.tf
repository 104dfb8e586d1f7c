data "azurerm_client_config" "current" {}

# Globally unique names (storage accounts, Key Vaults, the function app host name)
# get a short random suffix that is stable for the lifetime of the state.
resource "random_string" "suffix" {
  length  = 5
  lower   = true
  numeric = true
  upper   = false
  special = false
}

locals {
  suffix = random_string.suffix.result
  # <abbreviation>-<workload>-<environment>-<suffix> (Cloud Adoption Framework abbreviations).
  base = "${var.workload}-${var.environment}-${local.suffix}"
  # Storage accounts and Key Vaults: at most 24 characters, storage without dashes.
  compact = "${var.workload}${var.environment}${local.suffix}"

  names = {
    resource_group       = "rg-${local.base}"
    identity             = "id-${local.base}"
    storage_data         = "st${local.compact}"
    storage_host         = "stfn${local.compact}"
    storage_ml           = "stml${local.compact}"
    service_plan         = "asp-${local.base}"
    function_app         = "func-${local.base}"
    log_analytics        = "log-${local.base}"
    app_insights         = "appi-${local.base}"
    app_insights_ml      = "appi-mlw-${local.base}"
    key_vault            = "kv-${local.compact}"
    key_vault_ml         = "kvml-${local.compact}"
    ml_workspace         = "mlw-${local.base}"
    ml_registry_reader   = "mlflow-registry-reader-${local.base}"
    deployment_container = "app-package"
  }

  tags = merge(var.tags, {
    workload    = var.workload
    environment = var.environment
    managed-by  = "terraform"
  })
}

resource "azurerm_resource_group" "this" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

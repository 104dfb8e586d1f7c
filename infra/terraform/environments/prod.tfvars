environment = "prod"
location    = "westeurope"

# Set to false only after adding private endpoints / VNet integration.
public_network_access_enabled = true

# Keep soft-deleted secrets and workspaces recoverable.
key_vault_purge_on_destroy    = false
ml_workspace_purge_on_destroy = false

storage_replication_type        = "ZRS"
blob_soft_delete_retention_days = 30
log_retention_days              = 90

maximum_instance_count      = 100
instance_memory_in_mb       = 2048
always_ready_instance_count = 1

model_name               = "diabetes-regressor"
model_alias              = "champion"
model_refresh_seconds    = 60
registry_timeout_seconds = 8
prediction_log_enabled   = true

tags = {
  cost-center = "ml-prod"
}

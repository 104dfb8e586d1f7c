environment = "dev"
location    = "westeurope"

# No private networking is provisioned: the service is reached over public endpoints.
public_network_access_enabled = true

# Throwaway environment: purge soft-deleted secrets/workspaces on destroy so names free up.
key_vault_purge_on_destroy    = true
ml_workspace_purge_on_destroy = true

storage_replication_type        = "LRS"
blob_soft_delete_retention_days = 7
log_retention_days              = 30

maximum_instance_count      = 40
instance_memory_in_mb       = 2048
always_ready_instance_count = 0

model_name             = "diabetes-regressor"
model_alias            = "champion"
model_refresh_seconds  = 60
prediction_log_enabled = true

tags = {
  cost-center = "ml-dev"
}

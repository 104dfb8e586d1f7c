# Remote state in Azure Storage, configured at init time (partial configuration), e.g.
#   terraform init \
#     -backend-config="resource_group_name=rg-tfstate" \
#     -backend-config="storage_account_name=sttfstate<unique>" \
#     -backend-config="container_name=tfstate" \
#     -backend-config="key=mlflow-serving-dev.tfstate" \
#     -backend-config="use_azuread_auth=true"
# or put those lines in a file and pass -backend-config=<file>; backend.tf.example shows
# the full block. `terraform init -backend=false` skips it (terraform test, local checks).
terraform {
  backend "azurerm" {}
}

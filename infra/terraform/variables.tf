variable "subscription_id" {
  type        = string
  description = "Azure subscription to deploy into. Leave null to use ARM_SUBSCRIPTION_ID (or the Azure CLI's current subscription)."
  default     = null
  nullable    = true

  validation {
    condition     = var.subscription_id == null || can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID or null."
  }
}

variable "workload" {
  type        = string
  description = "Short workload name used in every resource name (lowercase letters and digits)."
  default     = "mlserve"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.workload))
    error_message = "workload must be 2-10 lowercase letters/digits, starting with a letter (storage account names are short)."
  }
}

variable "environment" {
  type        = string
  description = "Environment name: dev, test or prod."

  validation {
    condition     = contains(["dev", "test", "prod"], var.environment)
    error_message = "environment must be one of dev, test, prod."
  }
}

variable "location" {
  type        = string
  description = "Azure region for every resource, e.g. westeurope (must offer Flex Consumption)."

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be a region name such as westeurope (lowercase, no spaces)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags merged into the default tags (workload, environment, managed-by)."
  default     = {}
}

variable "public_network_access_enabled" {
  type        = bool
  description = "Whether the function app, storage accounts, Key Vaults and ML workspace accept traffic from public networks. No private endpoints or VNet integration are provisioned here, so false only works once you add them. Deliberately has no default: choose per environment."
}

variable "key_vault_purge_on_destroy" {
  type        = bool
  description = "Provider feature key_vault.purge_soft_delete_on_destroy (and for secrets): purge soft-deleted Key Vault objects on destroy. dev: true so names can be reused; prod: false. Purge protection still keeps the vaults themselves for their retention period."
  default     = false
}

variable "ml_workspace_purge_on_destroy" {
  type        = bool
  description = "Provider feature machine_learning.purge_soft_deleted_workspace_on_destroy: purge the soft-deleted ML workspace on destroy. dev: true; prod: false (keeps the registry recoverable)."
  default     = false
}

variable "storage_replication_type" {
  type        = string
  description = "Replication of the model/prediction-log storage account."
  default     = "ZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be one of LRS, ZRS, GRS, GZRS, RAGRS, RAGZRS."
  }
}

variable "blob_soft_delete_retention_days" {
  type        = number
  description = "Days deleted blobs and containers stay recoverable."
  default     = 14

  validation {
    condition     = var.blob_soft_delete_retention_days >= 1 && var.blob_soft_delete_retention_days <= 365
    error_message = "blob_soft_delete_retention_days must be between 1 and 365."
  }
}

variable "maximum_instance_count" {
  type        = number
  description = "Flex Consumption scale-out limit for the function app."
  default     = 40

  validation {
    condition     = var.maximum_instance_count >= 40 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be between 40 and 1000 (Flex Consumption limits)."
  }
}

variable "instance_memory_in_mb" {
  type        = number
  description = "Memory per Flex Consumption instance, in MB."
  default     = 2048

  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_in_mb)
    error_message = "instance_memory_in_mb must be 512, 2048 or 4096."
  }
}

variable "always_ready_instance_count" {
  type        = number
  description = "Always-ready instances for the HTTP trigger group (0 = none, scale from zero)."
  default     = 0

  validation {
    condition     = var.always_ready_instance_count >= 0 && floor(var.always_ready_instance_count) == var.always_ready_instance_count
    error_message = "always_ready_instance_count must be a whole number >= 0."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Log Analytics / Application Insights retention in days."
  default     = 30

  validation {
    condition     = contains([30, 60, 90, 120, 180, 270, 365, 550, 730], var.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 120, 180, 270, 365, 550, 730."
  }
}

variable "model_name" {
  type        = string
  description = "Registered MLflow model the service serves (app setting MODEL_NAME)."
  default     = "diabetes-regressor"

  validation {
    condition     = length(trimspace(var.model_name)) > 0
    error_message = "model_name must not be empty."
  }
}

variable "model_alias" {
  type        = string
  description = "Registry alias to serve (app setting MODEL_ALIAS), e.g. champion."
  default     = "champion"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.model_alias))
    error_message = "model_alias must contain only letters, digits, '-' and '_'."
  }
}

variable "model_flavor" {
  type        = string
  description = "Flavor of the served model (app setting MODEL_FLAVOR): its library is imported while the registry answers at cold start. Build the zip with the same flavor (python -m deploy build-zip --flavors)."
  default     = "sklearn"

  validation {
    condition     = contains(["sklearn", "xgboost", "lightgbm", "onnx", "python_function"], var.model_flavor)
    error_message = "model_flavor must be one of sklearn, xgboost, lightgbm, onnx, python_function."
  }
}

variable "model_refresh_seconds" {
  type        = number
  description = "How often each instance re-resolves the alias (app setting MODEL_REFRESH_SECONDS); 0 disables."
  default     = 60

  validation {
    condition     = var.model_refresh_seconds >= 0 && var.model_refresh_seconds <= 86400
    error_message = "model_refresh_seconds must be between 0 and 86400."
  }
}

variable "registry_timeout_seconds" {
  type        = number
  description = "Budget for one MLflow registry call (app setting REGISTRY_TIMEOUT_SECONDS)."
  default     = 8

  validation {
    condition     = var.registry_timeout_seconds >= 0.5 && var.registry_timeout_seconds <= 25
    error_message = "registry_timeout_seconds must be between 0.5 and 25."
  }
}

variable "prediction_log_enabled" {
  type        = bool
  description = "Write sampled prediction logs to the prediction-logs container (app setting PREDICTION_LOG_ENABLED)."
  default     = false
}

variable "ml_registry_reader_actions" {
  type        = list(string)
  description = "Actions of the custom read-only role the function identity gets on the ML workspace (MLflow registry reads and artifact download)."
  # From Microsoft's "MLflow operations" scopes (how-to-assign-roles): registry reads incl.
  # the download URI are models/*/read; run metrics are experiments (V1) or jobs (V2);
  # azureml-mlflow downloads artifact files through the workspace artifact service, whose
  # contentinfo call (a short-lived SAS for the file) is metadata/artifacts/read.
  default = [
    "Microsoft.MachineLearningServices/workspaces/read",
    "Microsoft.MachineLearningServices/workspaces/models/read",
    "Microsoft.MachineLearningServices/workspaces/models/*/read",
    "Microsoft.MachineLearningServices/workspaces/experiments/read",
    "Microsoft.MachineLearningServices/workspaces/experiments/*/read",
    "Microsoft.MachineLearningServices/workspaces/jobs/read",
    "Microsoft.MachineLearningServices/workspaces/metadata/artifacts/read",
    "Microsoft.MachineLearningServices/workspaces/datastores/read",
  ]

  validation {
    condition = length(var.ml_registry_reader_actions) > 0 && alltrue([
      for action in var.ml_registry_reader_actions :
      startswith(action, "Microsoft.MachineLearningServices/workspaces/") && (endswith(action, "/read"))
    ])
    error_message = "ml_registry_reader_actions must be non-empty read actions under Microsoft.MachineLearningServices/workspaces/."
  }
}

variable "model_signer_object_ids" {
  type        = list(string)
  description = "Object ids of the principals that sign models (Key Vault Crypto User on the signing key only). Empty: the deploying principal."
  default     = []

  validation {
    condition     = alltrue([for id in var.model_signer_object_ids : can(regex("^[0-9a-fA-F-]{36}$", id))])
    error_message = "model_signer_object_ids must be object GUIDs."
  }
}

variable "registry_writes_enabled" {
  type        = bool
  description = "Let the admin API promote/roll back from Azure (grants the function identity write on the registry and the models container). Off: promotion runs from the CLI/CI identity."
  default     = false
}

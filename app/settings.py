"""Every setting the service reads, in one place.

Settings come from environment variables (Azure app settings, `local.settings.json`
values under `func start`, or a shell). Fields marked ``deployed=True`` are the ones
Terraform must set in Azure; `tests/infra` checks both sides stay in step.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)
# App Service leaves a reference's literal text as the value when it cannot resolve it; that
# text is predictable (vault and secret names), so it must never act as a key or secret.
UNRESOLVED_REFERENCE_PREFIXES = ("@microsoft.keyvault(", "@microsoft.appconfiguration(")


def _deployed(**kwargs: Any) -> Any:
    """A field that Terraform sets as an app setting in Azure."""
    extra = kwargs.pop("json_schema_extra", {}) | {"deployed": True}
    return Field(json_schema_extra=extra, **kwargs)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    # --- MLflow registry ---------------------------------------------------------------
    mlflow_tracking_uri: str = _deployed(
        default="http://127.0.0.1:5000",
        validation_alias="MLFLOW_TRACKING_URI",
        description="Any MLflow tracking URI: http(s)://, sqlite:///, azureml://",
    )
    model_name: str = _deployed(default="diabetes-regressor", validation_alias="MODEL_NAME")
    model_alias: str | None = _deployed(default="champion", validation_alias="MODEL_ALIAS")
    model_stage: str | None = Field(default=None, validation_alias="MODEL_STAGE")
    model_version: str | None = Field(default=None, validation_alias="MODEL_VERSION")
    model_uri: str | None = Field(default=None, validation_alias=AliasChoices("MODEL_URI", "MODEL_VARIANT"))
    model_run_id: str | None = Field(default=None, validation_alias="MODEL_RUN_ID")
    model_run_name: str | None = Field(default=None, validation_alias="MODEL_RUN_NAME")
    model_artifact_path: str = Field(default="model", validation_alias="MODEL_ARTIFACT_PATH")
    use_mlflow_registry: bool = Field(default=True, validation_alias="USE_MLFLOW_REGISTRY")
    registry_timeout_seconds: float = _deployed(
        default=8.0, ge=0.5, le=25.0, validation_alias="REGISTRY_TIMEOUT_SECONDS"
    )
    model_download_timeout_seconds: float = Field(
        default=20.0,
        ge=1.0,
        le=300.0,
        validation_alias="MODEL_DOWNLOAD_TIMEOUT_SECONDS",
        description="Budget for downloading and deserializing a resolved model version.",
    )
    model_refresh_seconds: float = _deployed(
        default=60.0,
        ge=0.0,
        le=86400.0,
        validation_alias="MODEL_REFRESH_SECONDS",
        description="How often each instance re-resolves its alias/stage; 0 turns it off.",
    )
    experiment_name: str = Field(default="diabetes", validation_alias="MLFLOW_EXPERIMENT_NAME")

    # --- blob fallback -----------------------------------------------------------------
    storage_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("MODEL_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"),
        description="Connection string (local/Azurite). In Azure use the account URL.",
    )
    storage_account_url: str | None = _deployed(
        default=None,
        validation_alias="MODEL_STORAGE_ACCOUNT_URL",
        description="https://<account>.blob.core.windows.net, used with managed identity.",
    )
    azure_client_id: str | None = _deployed(
        default=None,
        validation_alias="AZURE_CLIENT_ID",
        description="Client id of the user-assigned managed identity.",
    )
    fallback_container: str = _deployed(default="models", validation_alias="MODEL_FALLBACK_CONTAINER")
    fallback_enabled: bool = Field(default=True, validation_alias="MODEL_FALLBACK_ENABLED")
    allow_pickle: bool = Field(
        default=False,
        validation_alias="ALLOW_PICKLE",
        description="Accept plain-pickle fallbacks (after the digest check). Off: skops only.",
    )
    model_flavor: Literal["sklearn", "xgboost", "lightgbm", "onnx", "python_function"] = _deployed(
        default="sklearn",
        validation_alias="MODEL_FLAVOR",
        description="The flavor the served model is expected to have: at cold start its library "
        "is imported while the registry answers. A model of another flavor still "
        "loads, without that head start.",
    )
    skops_trusted_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="SKOPS_TRUSTED_TYPES",
        description="Extra types the operator trusts when loading skops files (any source).",
    )

    # --- model signatures --------------------------------------------------------------
    model_signing_public_keys: str | None = _deployed(
        default=None,
        validation_alias="MODEL_SIGNING_PUBLIC_KEYS",
        description="PEM EC public keys (or comma-separated PEM file paths) whose signatures "
        "the server accepts. In Azure: the Key Vault signing key's public key.",
    )
    require_signed_models: bool = Field(
        default=True,
        validation_alias="REQUIRE_SIGNED_MODELS",
        description="false only while migrating: unsigned skops and native (XGBoost, LightGBM "
        "text, ONNX) models then load, with a warning at every load. Pickle never "
        "loads unsigned.",
    )
    model_signing_key: str | None = Field(
        default=None,
        validation_alias="MODEL_SIGNING_KEY",
        description="CLI only: the signing key, a PEM private key file or an Azure Key Vault "
        "key URL (https://<vault>.vault.azure.net/keys/<name>).",
    )

    # --- HTTP --------------------------------------------------------------------------
    registry_writes_enabled: bool = _deployed(
        default=True,
        validation_alias="REGISTRY_WRITES_ENABLED",
        description="Whether POST /registry/models/{name}/promote|rollback may write. Terraform "
        "sets false: the function identity is read-only on the registry and fallback.",
    )
    admin_api_key: SecretStr | None = _deployed(default=None, validation_alias="ADMIN_API_KEY")
    webhook_secret: SecretStr | None = _deployed(default=None, validation_alias="MLFLOW_WEBHOOK_SECRET")
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        validation_alias="MAX_BODY_BYTES",
        description="413 beyond. 20 MiB holds a 100,000-row batch of 10 numbers as records; "
        "parsing peaks at 4-12x the body (README), so a 2 GiB instance fits several.",
    )
    max_batch_rows: int = Field(default=100_000, ge=1, validation_alias="MAX_BATCH_ROWS")
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CORS_ALLOW_ORIGINS"
    )
    functions_auth_level: Literal["ANONYMOUS", "FUNCTION", "ADMIN"] = Field(
        default="FUNCTION", validation_alias="FUNCTIONS_AUTH_LEVEL"
    )
    functions_worker_runtime: str | None = Field(
        default=None,
        validation_alias="FUNCTIONS_WORKER_RUNTIME",
        description="Set by the Functions host: the model starts loading when the worker imports the app.",
    )
    startup_wait_seconds: float = Field(
        default=20.0,
        ge=0.0,
        le=25.0,
        validation_alias="STARTUP_WAIT_SECONDS",
        description="How long the first request waits for the model before serving degraded.",
    )
    retry_initial_seconds: float = Field(default=2.0, gt=0, validation_alias="MODEL_RETRY_INITIAL_SECONDS")
    retry_max_seconds: float = Field(default=60.0, gt=0, validation_alias="MODEL_RETRY_MAX_SECONDS")

    # --- observability -----------------------------------------------------------------
    instance_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("WEBSITE_INSTANCE_ID", "CONTAINER_NAME"),
        description="Set by the Functions host; names this instance's prediction log blobs.",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    appinsights_connection_string: SecretStr | None = _deployed(
        default=None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    prediction_log_enabled: bool = _deployed(default=False, validation_alias="PREDICTION_LOG_ENABLED")
    prediction_log_container: str = _deployed(
        default="prediction-logs", validation_alias="PREDICTION_LOG_CONTAINER"
    )
    prediction_log_sample_rate: float = Field(
        default=1.0, ge=0.0, le=1.0, validation_alias="PREDICTION_LOG_SAMPLE_RATE"
    )
    prediction_log_flush_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias="PREDICTION_LOG_FLUSH_SECONDS"
    )
    prediction_log_max_records: int = Field(default=5000, ge=1, validation_alias="PREDICTION_LOG_MAX_RECORDS")
    prediction_log_max_buffer_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=64 * 1024,
        validation_alias="PREDICTION_LOG_MAX_BUFFER_BYTES",
        description="Memory the prediction log may hold (3 % of a 2 GiB Flex instance); "
        "records beyond it are dropped and counted.",
    )

    _unresolved: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _unresolved_references_are_unset(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        unresolved: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            for key in [k for k, v in data.items() if _is_unresolved_reference(v)]:
                del data[key]  # the field falls back to its default (None for secrets)
                unresolved.append(_env_name(key))
        settings = handler(data)
        settings._unresolved = tuple(sorted(unresolved))
        return settings

    @property
    def unresolved_settings(self) -> tuple[str, ...]:
        """Names of settings whose value was an unresolved Key Vault/App Config reference."""
        return self._unresolved

    @field_validator("skops_trusted_types", "cors_allow_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "model_alias",
        "model_stage",
        "model_version",
        "model_uri",
        "model_run_id",
        "model_run_name",
        "storage_account_url",
        "azure_client_id",
        "model_signing_public_keys",
        "model_signing_key",
        # Blank secrets are unset: an empty MLFLOW_WEBHOOK_SECRET would otherwise be an
        # HMAC key anyone can sign with (settings files list every name, most left "").
        "admin_api_key",
        "webhook_secret",
        "storage_connection_string",
        "appinsights_connection_string",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _connection_string_only(self) -> Settings:
        # `AzureWebJobsStorage` may hold an identity-based marker rather than a
        # connection string; only a real connection string is usable here.
        conn = self.storage_connection_string
        if conn is not None and "=" not in conn.get_secret_value():
            self.storage_connection_string = None
        return self

    @property
    def has_storage(self) -> bool:
        return bool(self.storage_connection_string or self.storage_account_url)


def _is_unresolved_reference(value: Any) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return isinstance(raw, str) and raw.strip().lower().startswith(UNRESOLVED_REFERENCE_PREFIXES)


def _env_name(key: str) -> str:
    """The environment name of a field, given its name or any of its aliases."""
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = [alias] if isinstance(alias, str) else list(getattr(alias, "choices", []))
        if key.lower() in {name.lower(), *(str(c).lower() for c in choices)}:
            return str(choices[0]) if choices else name.upper()
    return key


def report_unresolved_settings(settings: Settings) -> None:
    """Log (once per app) which settings were unresolved references, by name only."""
    if settings.unresolved_settings:
        log.error(
            "settings %s hold unresolved Key Vault references and are treated as unset; "
            "check the app identity's access to the vault",
            ", ".join(settings.unresolved_settings),
        )


def deployed_setting_names() -> set[str]:
    """Environment names of every setting Terraform must provide in Azure."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("deployed"):
            alias = field.validation_alias
            names.add(alias if isinstance(alias, str) else str(alias.choices[0]))  # type: ignore[union-attr]
    return names


def all_setting_names() -> set[str]:
    """Every environment name the app reads (aliases included)."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif alias is not None:
            names.update(str(choice) for choice in alias.choices)  # type: ignore[union-attr]
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Blob Storage clients: a connection string locally (Azurite), managed identity in Azure."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from app.settings import Settings

if TYPE_CHECKING:  # imported on first use: ~0.2 s of cold start the registry path never needs
    from azure.storage.blob import BlobServiceClient, ContainerClient


class StorageNotConfigured(RuntimeError):
    pass


def blob_service(settings: Settings, *, timeout: float | None = None) -> BlobServiceClient:
    """A client with bounded timeouts and a single retry, so a dead account fails fast."""
    from azure.storage.blob import BlobServiceClient

    seconds = timeout if timeout is not None else settings.registry_timeout_seconds
    options: dict[str, Any] = {
        "connection_timeout": max(1, int(seconds)),
        "read_timeout": max(2, int(seconds * 2)),
        "retry_total": 1,
        "retry_backoff_factor": 0.2,
    }
    # The account URL wins: in Azure, `AzureWebJobsStorage` (read as a connection string
    # fallback) can hold the Functions host's own account, never the models account.
    if settings.storage_account_url:
        return BlobServiceClient(settings.storage_account_url, credential=credential(settings), **options)
    if settings.storage_connection_string is not None:
        return BlobServiceClient.from_connection_string(
            settings.storage_connection_string.get_secret_value(), **options
        )
    raise StorageNotConfigured(
        "no blob storage configured: set MODEL_STORAGE_ACCOUNT_URL (Azure) or "
        "MODEL_STORAGE_CONNECTION_STRING / AzureWebJobsStorage (local)"
    )


def container(settings: Settings, name: str, *, timeout: float | None = None) -> ContainerClient:
    return blob_service(settings, timeout=timeout).get_container_client(name)


def credential(settings: Settings) -> Any:
    """The process's Azure credential (managed identity in Azure), built once per client id:
    each DefaultAzureCredential keeps its own token cache."""
    return _credential(settings.azure_client_id)


@lru_cache(maxsize=4)
def _credential(client_id: str | None) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)

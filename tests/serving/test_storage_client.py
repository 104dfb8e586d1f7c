"""Which blob account the app talks to: the model account URL wins over AzureWebJobsStorage."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.storage import StorageNotConfigured, blob_service

AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


def test_account_url_wins_over_a_host_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", AZURITE)
    monkeypatch.setenv("MODEL_STORAGE_ACCOUNT_URL", "https://stdmodels.blob.core.windows.net")
    assert blob_service(Settings()).account_name == "stdmodels"


def test_connection_string_locally_and_nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODEL_STORAGE_ACCOUNT_URL", raising=False)
    monkeypatch.setenv("MODEL_STORAGE_CONNECTION_STRING", AZURITE)
    assert blob_service(Settings()).account_name == "devstoreaccount1"
    # An identity-based AzureWebJobsStorage marker is not a connection string.
    monkeypatch.delenv("MODEL_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AzureWebJobsStorage", "managedidentity")
    with pytest.raises(StorageNotConfigured):
        blob_service(Settings())

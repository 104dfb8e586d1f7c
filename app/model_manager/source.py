"""Where the manager's models come from: the loading chain and the tracked reference.

The manager depends on this protocol only; ``ChainSource`` is the real one (registry,
fallback, deadlines), and tests pass fakes (``tests/unit``) to drive races in milliseconds.
"""

from __future__ import annotations

from typing import Protocol

from app.deadline import call_with_deadline
from app.model_loading import fetch_blob, loader, refs
from app.model_loading.chain import ChainResult, load_chain
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadedModel, Resolved
from app.settings import Settings


class ModelSource(Protocol):
    def load_chain(self) -> ChainResult:
        """Every configured source in order, until one yields a model."""
        ...

    def tracked(self) -> ModelRef | None:
        """The moving reference to follow (alias, stage, latest), or None when pinned."""
        ...

    def resolve(self, ref: ModelRef) -> Resolved:
        """``ref`` as one concrete version, within the registry deadline."""
        ...

    def load(self, resolved: Resolved) -> LoadedModel:
        """Fetch, verify and deserialize, within the download deadline."""
        ...

    def fallback_version(self) -> str | None:
        """The version the blob fallback holds; None when no fallback is configured."""
        ...


class ChainSource:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load_chain(self) -> ChainResult:
        return load_chain(self.settings)

    def tracked(self) -> ModelRef | None:
        return refs.tracked(self.settings)

    def resolve(self, ref: ModelRef) -> Resolved:
        return call_with_deadline(
            lambda: loader.resolve(self.settings, ref), self.settings.registry_timeout_seconds, "refresh"
        )

    def load(self, resolved: Resolved) -> LoadedModel:
        return call_with_deadline(
            lambda: loader.load(self.settings, resolved),
            self.settings.model_download_timeout_seconds,
            "refresh-load",
        )

    def fallback_version(self) -> str | None:
        settings = self.settings
        if not (settings.fallback_enabled and settings.has_storage and settings.model_name):
            return None
        pointer = call_with_deadline(
            lambda: fetch_blob.read_pointer(settings, settings.model_name),
            max(settings.registry_timeout_seconds, 5.0),
            "fallback-pointer",
        )
        return pointer.version

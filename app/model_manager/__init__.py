"""Holds the serving model and replaces it safely (see ``manager``)."""

from app.model_manager.manager import ModelManager
from app.model_manager.source import ChainSource, ModelSource
from app.model_manager.state import FallbackState, ManagerState, ManagerStats

__all__ = ["ChainSource", "FallbackState", "ManagerState", "ManagerStats", "ModelManager", "ModelSource"]

"""MLflow model serving on Azure Functions."""

__version__ = "0.1.0"

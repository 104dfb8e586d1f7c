"""Local development stack: real MLflow server and real Azurite processes (dev/test only)."""

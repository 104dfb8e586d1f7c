"""Packaging of the function app for deployment (never shipped itself)."""

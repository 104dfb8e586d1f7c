"""Benchmarks: this service against `mlflow models serve` and the raw model, on one machine.

Run ``python -m benchmarks --quick --out FILE`` (full mode without ``--quick``).
"""

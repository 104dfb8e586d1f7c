"""A class a registry writer may name in MLmodel: constructing it leaves a marker file."""

from __future__ import annotations

import os


class Evil:
    def __init__(self) -> None:
        with open(os.environ["FLAVOR_TEST_MARKER"], "w") as marker:
            marker.write("constructed")

    def load_model(self, path: str) -> None:  # what MLflow's xgboost loader calls next
        pass

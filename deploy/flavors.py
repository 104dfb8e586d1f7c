"""Which model flavors a deployment zip ships.

Each flavor beyond scikit-learn needs its own runtime library, imported only when a served
model needs it; a zip that will only ever serve, say, XGBoost models can leave the others
out. Leaving one out removes its requirement lines (and those of dependencies that only it
needs) from the requirements the zip is built from and ships; a model of a flavor that was
left out is refused at load with a message naming the library.

scikit-learn is always shipped: it is the default flavor, and the app's own training and
signing code, skops, and the XGBoost/LightGBM scikit-learn classes use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ALWAYS = "sklearn"
FLAVORS: tuple[str, ...] = (ALWAYS, "xgboost", "lightgbm", "onnx")

#: Requirement names (PEP 503-normalized) that only this flavor needs, as they appear in
#: requirements.txt or a lock file (which also lists transitive dependencies).
EXCLUSIVE: dict[str, tuple[str, ...]] = {
    ALWAYS: (),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "lightgbm": ("lightgbm",),
    "onnx": ("onnxruntime", "flatbuffers"),
}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The flavors to ship from ``sklearn,xgboost`` (or a list); None or "all" means all.
    scikit-learn is added when missing; an unknown name is a ValueError naming it."""
    if value is None:
        return FLAVORS
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = {n.strip().lower() for n in names if n.strip()}
    if chosen == {"all"}:
        return FLAVORS
    unknown = sorted(chosen - set(FLAVORS))
    if unknown:
        raise ValueError(f"unknown flavor(s) {', '.join(unknown)}: choose from {', '.join(FLAVORS)}")
    return tuple(f for f in FLAVORS if f in chosen | {ALWAYS})


def excluded_names(flavors: Iterable[str]) -> set[str]:
    shipped = set(flavors)
    return {normalize(n) for f, names in EXCLUSIVE.items() if f not in shipped for n in names}


def filter_requirements(text: str, flavors: Iterable[str]) -> str:
    """``text`` (requirements or a hash-locked lock file) without the requirements only the
    flavors left out need; a requirement's continuation lines (``\\`` then ``--hash=...``)
    go with it. Comments and options stay."""
    drop = excluded_names(flavors)
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    index = 0
    while index < len(lines):
        logical = [lines[index]]
        while logical[-1].rstrip("\r\n").endswith("\\") and index + 1 < len(lines):
            index += 1
            logical.append(lines[index])
        index += 1
        match = _NAME.match(logical[0])
        if match is None or normalize(match.group(1)) not in drop:
            kept.extend(logical)
    return "".join(kept)

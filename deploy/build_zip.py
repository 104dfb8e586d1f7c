"""Build the ready-to-run deployment zip of the function app.

The zip holds the app code (``function_app.py``, ``host.json``, the ``app/`` package, and the
lock as ``requirements.txt``) plus every runtime dependency, installed as Linux x86_64 /
CPython 3.11 wheels into ``.python_packages/lib/site-packages`` -- the folder the Functions
Python worker puts on ``sys.path``. Nothing is compiled here, so the build works on any OS:
pip only picks prebuilt ``manylinux`` wheels (``--only-binary=:all:``).

The dependencies come from ``requirements.lock`` (``scripts/dev.sh lock``: every version
pinned, with hashes, resolved for this target), installed with ``--require-hashes``, and the
build fails unless the installed versions equal the lock's. The test venv is installed from
the same pins (``requirements-dev.lock`` is compiled with this lock as constraints), so what
ships is what the tests ran.

This package is for deployments **without remote build**. A zip deploy to a Flex
Consumption app runs a remote build (Oryx ``pip install``) unless the client says
otherwise, and ``az functionapp deployment source config-zip`` forces remote build for
Python apps on Flex whatever ``--build-remote`` says. So deploy this zip with the
OneDeploy endpoint and remote build off, e.g.::

    POST https://<scm-host>/api/publish?RemoteBuild=false   (Content-Type: application/zip,
                                                            Entra ID bearer token)

which is what ``.github/workflows/ci-cd.yml`` does. On Premium/Dedicated plans use
``az functionapp deployment source config-zip -g RG -n APP --src dist/function-app.zip
--build-remote false``. ``func azure functionapp publish`` zips the project folder itself
instead; it honours ``.funcignore``, and so does this builder, so both ship the same code.

The package ships **precompiled bytecode** (``__pycache__/*.cpython-311.pyc``, PEP 552
unchecked-hash pycs). A Functions app runs its package from a read-only mount, so Python can
never cache what it compiles there: without pycs every cold start recompiles every module it
imports (numpy, pandas, scikit-learn, FastAPI, ...). Measured on the 2-core dev machine, the
cold import of the function app + the model's libraries from the extracted zip with writes
off: 5.1-6.2 s without pycs, 1.8-2.1 s with them. Hash-based pycs do not depend on file
timestamps (a zip keeps them at 2 s resolution, this builder fixes them to 1980), and
"unchecked" is right for a package nobody edits in place. They are only written when the
build runs on CPython 3.11, the runtime's version (pyc format is per minor version).

The archive is deterministic for a given set of inputs: sorted entries, fixed timestamps
and permissions, bytecode compiled with a fixed hash seed, and no pip ``bin/`` scripts
(their shebangs name the build machine's interpreter).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deploy import flavors as flavor_selection
from deploy import lockfile

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = ".python_packages/lib/site-packages"

#: Top-level files and packages that make up the deployed code (an allow-list).
CODE_FILES: tuple[str, ...] = ("function_app.py", "host.json")
CODE_PACKAGES: tuple[str, ...] = ("app",)

#: Never taken from the source tree, whatever .funcignore says (the build writes its own pycs).
ALWAYS_EXCLUDED: tuple[str, ...] = ("__pycache__/", "*.pyc", "*.pyo")

#: Top-level names that must never appear in the zip (a safety net for the allow-list).
FORBIDDEN_TOP_LEVEL: frozenset[str] = frozenset(
    {
        "tests",
        "benchmarks",
        "devstack",
        "deploy",
        "infra",
        "scripts",
        "node_modules",
        ".venv",
        ".git",
        ".github",
        ".tools",
        ".local",
        "examples",
    }
)

PLATFORMS: tuple[str, ...] = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
PYTHON_VERSION = "3.11"
BYTECODE_TAG = "cpython-311"  # the pyc name tag of the runtime's interpreter

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # earliest date a zip entry can carry: reproducible builds


@dataclass(frozen=True)
class BuildResult:
    path: Path
    size_bytes: int
    file_count: int
    package_sizes: dict[str, int]  # top-level site-packages entry -> uncompressed bytes
    bytecode: bool = False  # whether precompiled .pyc files went in
    flavors: tuple[str, ...] = flavor_selection.FLAVORS  # model flavors whose libraries ship


def read_funcignore(path: Path) -> list[str]:
    """Patterns of a ``.funcignore`` file (gitignore-like; comments and blanks dropped)."""
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(rel_path: str, patterns: Iterable[str]) -> bool:
    """Whether a POSIX relative path matches any pattern.

    A subset of gitignore semantics, enough for ``.funcignore``: ``dir/`` matches a directory
    anywhere in the path; a pattern with a ``/`` inside is anchored at the root; any other
    pattern matches a single path component (``*.pyc``, ``local.settings*.json``).
    """
    parts = PurePosixPath(rel_path).parts
    for raw in patterns:
        pattern = raw.lstrip("/") if raw.startswith("/") else raw
        if pattern.startswith("!"):  # negation is not supported; better to ship too little
            continue
        if pattern.endswith("/"):
            name = pattern.rstrip("/")
            if "/" in name:
                if rel_path.startswith(name + "/"):
                    return True
            elif any(fnmatch.fnmatchcase(part, name) for part in parts[:-1]):
                return True
        elif "/" in pattern:
            if fnmatch.fnmatchcase(rel_path, pattern) or rel_path.startswith(pattern + "/"):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def iter_code_files(root: Path, patterns: list[str]) -> Iterator[tuple[Path, str]]:
    """(source, archive name) for every code file that ships, minus ignored ones."""
    candidates: list[Path] = [root / name for name in CODE_FILES]
    for package in CODE_PACKAGES:
        candidates.extend(p for p in (root / package).rglob("*") if p.is_file())
    all_patterns = [*ALWAYS_EXCLUDED, *patterns]
    for source in candidates:
        name = source.relative_to(root).as_posix()
        if not source.is_file():
            raise FileNotFoundError(f"required file missing: {name}")
        if not is_ignored(name, all_patterns):
            yield source, name


def install_dependencies(requirements: Path, target: Path) -> None:
    """pip-install Linux x86_64 CPython 3.11 wheels of the lock ``requirements`` into ``target``.

    ``--require-hashes``: every requirement must be pinned with its hashes, so nothing is
    resolved afresh and every file is the one that was locked. Uses the running
    interpreter's pip and its cache, so a re-run downloads nothing.
    ``--only-binary=:all:`` is mandatory with ``--platform``: pip cannot build an sdist for
    another platform. ``--no-compile``: pip's pycs are timestamp-checked, which a zip cannot
    keep valid; :func:`compile_bytecode` writes hash-based ones for the whole package.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--target",
        str(target),
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
    ]
    subprocess.run(cmd, check=True)
    mismatched = lockfile.differences(lockfile.pins(requirements), lockfile.installed(target))
    if mismatched:
        raise RuntimeError(
            f"the installed packages differ from the lock {requirements.name}: {'; '.join(mismatched[:10])}"
        )


def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16  # regular file
    return info


def can_compile_for_runtime() -> bool:
    """Pycs are per minor version: only a CPython 3.11 build writes ones the runtime reads."""
    return sys.implementation.cache_tag == BYTECODE_TAG


def compile_bytecode(stage: Path) -> None:
    """Write unchecked-hash pycs for every ``.py`` under ``stage``, recorded with relative paths.

    A subprocess with a fixed ``PYTHONHASHSEED``: constant sets are marshalled in hash order,
    so a random seed would make the bytes differ between builds.
    """
    cmd = [
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(stage),
        str(stage),
    ]
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    if proc.returncode != 0:  # compileall exits 1 when a file does not compile
        raise RuntimeError(f"compiling the package failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")


def _staged_files(stage: Path) -> list[tuple[Path, str]]:
    """Every staged file except pip's ``bin/`` scripts, with its archive name."""
    files: list[tuple[Path, str]] = []
    for source in stage.rglob("*"):
        name = source.relative_to(stage).as_posix()
        if source.is_file() and not name.startswith(f"{SITE_PACKAGES}/bin/"):
            files.append((source, name))
    return files


def _check_forbidden(names: Iterable[str]) -> None:
    bad = sorted(
        {
            n
            for n in names
            if n.split("/", 1)[0] in FORBIDDEN_TOP_LEVEL or PurePosixPath(n).name.startswith("local.settings")
        }
    )
    if bad:
        raise RuntimeError(f"refusing to package development files: {bad[:5]}")


def build_zip(
    out: Path,
    *,
    root: Path = ROOT,
    requirements: Path | None = None,
    with_deps: bool = True,
    bytecode: bool = True,
    flavors: Iterable[str] | None = None,
) -> BuildResult:
    """Write the deployment zip to ``out`` and describe what went in.

    ``requirements`` is the hash-locked file to install (default ``requirements.lock``); it
    ships as ``requirements.txt``. ``bytecode`` adds precompiled pycs (skipped, with a
    warning, unless this is CPython 3.11). ``flavors`` are the model flavors whose libraries
    ship (default: all, see deploy/flavors.py): the others' lines leave the lock.
    """
    requirements = requirements or root / "requirements.lock"
    shipped_flavors = flavor_selection.parse(flavors)
    patterns = read_funcignore(root / ".funcignore")
    with tempfile.TemporaryDirectory(prefix="function-reqs-") as reqs_dir:
        selected = Path(reqs_dir) / "requirements.txt"
        selected.write_bytes(
            flavor_selection.filter_requirements(
                requirements.read_bytes().decode("utf-8"), shipped_flavors
            ).encode("utf-8")
        )
        result = _build(out, root, patterns, selected, with_deps, bytecode)
    return BuildResult(
        result.path,
        result.size_bytes,
        result.file_count,
        result.package_sizes,
        result.bytecode,
        shipped_flavors,
    )


def _build(
    out: Path, root: Path, patterns: list[str], requirements: Path, with_deps: bool, bytecode: bool
) -> BuildResult:
    code = [*iter_code_files(root, patterns), (requirements, "requirements.txt")]
    _check_forbidden(name for _, name in code)
    package_sizes: dict[str, int] = {}
    if bytecode and not can_compile_for_runtime():
        print(
            f"warning: {sys.implementation.cache_tag} cannot write {BYTECODE_TAG} bytecode; "
            "the zip ships without pycs and every cold start compiles its imports",
            file=sys.stderr,
        )
        bytecode = False

    with tempfile.TemporaryDirectory(prefix="function-zip-") as tmp:
        stage = Path(tmp) / "stage"
        for source, name in code:
            target = stage / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        if with_deps:
            site = stage / SITE_PACKAGES
            install_dependencies(requirements, site)
            for source in site.rglob("*"):
                rel = source.relative_to(site).as_posix()
                if source.is_file() and not rel.startswith("bin/"):
                    top = rel.split("/", 1)[0]
                    package_sizes[top] = package_sizes.get(top, 0) + source.stat().st_size
        if bytecode:
            compile_bytecode(stage)

        files = sorted(_staged_files(stage), key=lambda item: item[1])
        _check_forbidden(name for _, name in files)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compresslevel=6) as archive:
            for source, name in files:
                executable = os.access(source, os.X_OK)
                with source.open("rb") as src, archive.open(_entry(name, executable), "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        partial.replace(out)

    return BuildResult(out, out.stat().st_size, len(files), package_sizes, bytecode)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def summary(result: BuildResult, top: int = 10) -> str:
    compiled = f", {BYTECODE_TAG} bytecode" if result.bytecode else ", no bytecode"
    lines = [
        f"wrote {result.path} ({_mib(result.size_bytes)}, {result.file_count} files{compiled})",
        f"model flavors: {', '.join(result.flavors)}",
    ]
    if result.package_sizes and top > 0:
        total = sum(result.package_sizes.values())
        lines.append(f"site-packages: {_mib(total)} uncompressed, before bytecode; largest entries:")
        ranked = sorted(result.package_sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        lines.extend(f"  {_mib(size):>10}  {name}" for name, size in ranked)
    return "\n".join(lines)

"""The deployment zip: what goes in, and that it runs in a clean interpreter like the Functions host's.

The full build installs requirements.lock with real pip (``--require-hashes``, Linux x86_64 /
CPython 3.11 wheels, through the pip cache), so the first run on a machine downloads a few hundred
MB; later runs take about a minute. The clean-venv test is the lock installed (by the build) and
run on its own: the shim smoke test in an interpreter that sees nothing but the zip.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from deploy import lockfile
from deploy.build_zip import (
    FORBIDDEN_TOP_LEVEL,
    ROOT,
    SITE_PACKAGES,
    BuildResult,
    build_zip,
    is_ignored,
    read_funcignore,
    summary,
)

MAX_ZIP_BYTES = 300 * 1024 * 1024  # ~160 MiB today, a third of it bytecode

REQUIRED = [
    "function_app.py",
    "host.json",
    "requirements.txt",
    "app/__init__.py",
    "app/main.py",
    "app/settings.py",
    f"{SITE_PACKAGES}/azure/functions/__init__.py",
    f"{SITE_PACKAGES}/fastapi/__init__.py",
    f"{SITE_PACKAGES}/mlflow/__init__.py",
    f"{SITE_PACKAGES}/sklearn/__init__.py",
]

# Imports the app the way the Python worker does, lists the registered functions, then sends one
# request through the ASGI shim. Prints one JSON line for the test to check.
PROBE = r"""
import asyncio, json, os, sys, sysconfig
import importlib._bootstrap_external as bootstrap
root = os.path.realpath(os.getcwd())

# Count modules compiled from source: with the zip's bytecode there should be none.
compiled_from_source = []
_source_to_code = bootstrap.SourceLoader.source_to_code
def _counting(self, data, path, *args, **kwargs):
    compiled_from_source.append(os.path.relpath(path, root))
    return _source_to_code(self, data, path, *args, **kwargs)
bootstrap.SourceLoader.source_to_code = _counting

import azure.functions as func
import function_app
import pandas, sklearn.linear_model, sklearn.pipeline, skops.io  # what a model load needs

functions = function_app.app.get_functions()  # validates names; call it only once
handler = functions[0].get_user_function()

class Context:
    invocation_id = "probe"
    function_name = functions[0].get_function_name()
    function_directory = root
    trace_context = retry_context = thread_local_storage = None

request = func.HttpRequest("GET", "http://localhost/health/live", headers={}, body=b"",
                           route_params={"route": "health/live"})
response = asyncio.run(handler(request, Context()))

stdlib = sysconfig.get_paths()["stdlib"]
outside = sorted({
    name.split(".")[0] for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not os.path.realpath(module.__file__).startswith((root, os.path.realpath(stdlib)))
})
print("PROBE " + json.dumps({
    "app_type": type(function_app.app).__name__,
    "functions": [f.get_function_name() for f in functions],
    "bindings": [b["type"] for b in functions[0].get_bindings_dict()["bindings"]],
    "status": response.status_code,
    "body": response.get_body().decode(),
    "fastapi": __import__("fastapi").__file__,
    "outside": outside,
    "compiled_from_source": [p for p in compiled_from_source if not p.startswith("..")],
}))
"""


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    out = tmp_path_factory.mktemp("dist") / "function-app.zip"
    started = time.monotonic()
    result = build_zip(out)
    print(f"\n{summary(result)}\nfull build took {time.monotonic() - started:.1f}s")
    return result


@pytest.mark.timeout(1200)
def test_zip_has_code_and_linux_dependencies_only(built: BuildResult) -> None:
    names = _names(built.path)
    assert names == sorted(names), "entries must be in a deterministic order"
    assert len(names) == len(set(names)) == built.file_count
    missing = [name for name in REQUIRED if name not in names]
    assert not missing

    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "app",
        ".python_packages",
        "__pycache__",
    }
    assert not tops & FORBIDDEN_TOP_LEVEL

    # Bytecode: one unchecked-hash CPython 3.11 pyc per source, nothing stale or foreign.
    assert built.bytecode
    sources = {n for n in names if n.endswith(".py")}
    pycs = {n for n in names if n.endswith(".pyc")}
    assert pycs == {importlib.util.cache_from_source(n) for n in sources}
    assert all(".cpython-311." in n for n in pycs) and not [n for n in names if n.endswith(".pyo")]
    with zipfile.ZipFile(built.path) as archive:
        header = archive.read("app/__pycache__/main.cpython-311.pyc")[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01, "hash-based, source not re-checked"
    assert not [n for n in names if Path(n).name.startswith("local.settings")]
    assert not [n for n in names if n.startswith(f"{SITE_PACKAGES}/bin/")]
    assert not [n for n in names if "/tests/" in n and n.startswith("app/")]

    # Linux x86_64 CPython 3.11 binaries, not this machine's or another Python's.
    extensions = [n for n in names if n.endswith(".so")]
    assert extensions
    wrong_abi = [n for n in extensions if "cpython-" in n and "cpython-311-x86_64-linux-gnu" not in n]
    assert not wrong_abi
    assert not [n for n in names if n.endswith((".pyd", ".dylib"))]

    # Every app source file ships.
    app_files = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "app").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    assert [n for n in names if n.startswith("app/") and not n.endswith(".pyc")] == app_files

    assert 10 * 1024 * 1024 < built.size_bytes < MAX_ZIP_BYTES, built.size_bytes


def _zip_versions(path: Path) -> dict[str, str]:
    """{project: version} of the distributions installed in the zip's site-packages."""
    with zipfile.ZipFile(path) as archive:
        names = [
            n
            for n in archive.namelist()
            if n.startswith(f"{SITE_PACKAGES}/") and n.endswith(".dist-info/METADATA")
        ]
        texts = [archive.read(n).decode("utf-8", "replace") for n in names]
    versions: dict[str, str] = {}
    for text in texts:
        headers = dict(
            line.split(": ", 1)
            for line in text.split("\n\n", 1)[0].splitlines()
            if ": " in line and not line.startswith(" ")
        )
        versions[lockfile.canonical(headers["Name"])] = headers["Version"]
    return versions


@pytest.mark.timeout(1200)
def test_zip_ships_exactly_the_locked_versions(built: BuildResult) -> None:
    locked = lockfile.pins(ROOT / "requirements.lock")
    shipped = _zip_versions(built.path)
    assert len(locked) > 50
    assert lockfile.differences(locked, shipped) == []
    with zipfile.ZipFile(built.path) as archive:
        assert archive.read("requirements.txt") == (ROOT / "requirements.lock").read_bytes()
    # The comparison fails on a single differing version.
    tampered = {**locked, "pandas": "0.0.1"}
    assert lockfile.differences(tampered, shipped) == [f"pandas: locked 0.0.1, installed {shipped['pandas']}"]


def test_build_refuses_requirements_without_hashes(tmp_path: Path) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_text("six==1.17.0\n")
    with pytest.raises(subprocess.CalledProcessError):
        build_zip(tmp_path / "loose.zip", requirements=loose, bytecode=False)
    assert not (tmp_path / "loose.zip").exists()


@pytest.mark.timeout(1200)
def test_zip_imports_and_serves_in_a_clean_venv(built: BuildResult, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(site)
    venv = tmp_path / "venv"
    base_python = shutil.which("python3.11") or sys.executable
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{site}:{site / SITE_PACKAGES}",  # what the Functions host sets
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # Offline: nothing listens on port 9, so any accidental connection fails at once.
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "MODEL_STORAGE_ACCOUNT_URL": "http://127.0.0.1:9/devstoreaccount1",
        "STARTUP_WAIT_SECONDS": "1",
        "FUNCTIONS_AUTH_LEVEL": "FUNCTION",
    }
    started = time.monotonic()
    proc = subprocess.run(
        [str(python), "-c", PROBE], cwd=site, env=env, capture_output=True, text=True, timeout=180
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PROBE "))
    probe = json.loads(line.removeprefix("PROBE "))
    print(f"\nclean-venv import + /health/live: {elapsed:.1f}s; functions: {probe['functions']}")

    assert probe["app_type"] == "AsgiFunctionApp"
    assert len(probe["functions"]) >= 1
    assert probe["bindings"] == ["httpTrigger", "http"]
    assert probe["status"] == 200
    assert json.loads(probe["body"]) == {"status": "alive"}
    assert probe["fastapi"].startswith(str(site / SITE_PACKAGES))
    assert probe["outside"] == [], "modules imported from outside the zip and the stdlib"
    assert probe["compiled_from_source"] == [], "the shipped bytecode was not used"
    assert elapsed < 60  # the host gives module import a couple of minutes at most


def test_code_only_build_is_reproducible_and_reported(tmp_path: Path) -> None:
    first = build_zip(tmp_path / "a.zip", with_deps=False)
    second = build_zip(tmp_path / "b.zip", with_deps=False)
    assert first.path.read_bytes() == second.path.read_bytes()
    names = _names(first.path)
    assert not [n for n in names if n.startswith(".python_packages/")]
    assert {"function_app.py", "host.json", "requirements.txt", "app/main.py"} <= set(names)

    proc = subprocess.run(
        [sys.executable, "-m", "deploy", "build-zip", "--no-deps", "--out", str(tmp_path / "c.zip")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"{len(names)} files" in proc.stdout and "MiB" in proc.stdout
    assert (tmp_path / "c.zip").read_bytes() == first.path.read_bytes()

    # Bytecode records the archive path, not the build's temporary directory.
    with zipfile.ZipFile(first.path) as archive:
        code = marshal.loads(archive.read("app/__pycache__/main.cpython-311.pyc")[16:])
    assert code.co_filename == "app/main.py"

    plain = build_zip(tmp_path / "d.zip", with_deps=False, bytecode=False)
    assert not plain.bytecode and not [n for n in _names(plain.path) if "__pycache__" in n]
    assert plain.file_count == len([n for n in names if not n.endswith(".pyc")])


def test_requirements_option_is_shipped_as_requirements_txt(tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("# pinned elsewhere\n")
    result = build_zip(tmp_path / "r.zip", requirements=reqs, with_deps=False)
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read("requirements.txt") == reqs.read_bytes()


def test_funcignore_excludes_what_the_builder_excludes() -> None:
    patterns = read_funcignore(ROOT / ".funcignore")
    assert patterns
    for top in sorted(FORBIDDEN_TOP_LEVEL):
        assert is_ignored(f"{top}/some/file.py", patterns), top
    for name in [
        "local.settings.json",
        "local.settings.example.json",
        "app/__pycache__/x.cpython-311.pyc",
        "tests/test_x.py",
        "requirements-dev.txt",
        "requirements-dev.lock",
        "requirements-mlflow-server.lock",
        "requirements-mlflow-server.txt",
    ]:
        assert is_ignored(name, patterns), name
    for name in [
        "function_app.py",
        "host.json",
        "requirements.txt",
        "app/main.py",
        "app/api/health.py",
        f"{SITE_PACKAGES}/fastapi/__init__.py",
    ]:
        assert not is_ignored(name, patterns), name


@pytest.mark.parametrize(
    ("path", "pattern", "ignored"),
    [
        ("tests/a.py", "tests/", True),
        ("app/tests/a.py", "tests/", True),
        ("tests", "tests/", False),  # a file called "tests" is not the directory
        ("app/x.pyc", "*.pyc", True),
        ("app/x.py", "*.pyc", False),
        ("infra/terraform/main.tf", "infra/terraform/", True),
        ("app/infra/terraform/main.tf", "infra/terraform/", False),  # anchored: has an inner slash
        ("local.settings.json", "local.settings*.json", True),
        ("app/main.py", "/app/main.py", True),
        ("app/main.py", "!app/main.py", False),
    ],
)
def test_is_ignored(path: str, pattern: str, ignored: bool) -> None:
    assert is_ignored(path, [pattern]) is ignored


def test_cli_needs_a_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deploy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=60,
    )
    assert proc.returncode == 2 and "build-zip" in proc.stderr

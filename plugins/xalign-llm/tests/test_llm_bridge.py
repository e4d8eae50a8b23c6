"""The llm bridge (xalign-llm) with a small deterministic llm embedding plugin registered in this
process, as llm's own tests register plugins: `llm.hookimpl` + `llm.plugins.pm.register`.
No network, no weights: the plugin hashes character trigrams."""

from __future__ import annotations

import json
import zlib
from importlib import metadata

import llm
import numpy as np
import pytest
from mteb.types import PromptType

from mteb_xalign.errors import UserError

DIM = 24
TEXTS = ["the cat sat on the mat", "der Hund bellt", "", "猫が座った", "the cat sat on the mat", "x" * 300,
         "el perro ladra al cartero", "ok"]


def trigram_vector(text: str) -> list[float]:
    out = [0.0] * DIM
    padded = f"  {text.lower()}  "
    for i in range(len(padded) - 2):
        out[zlib.crc32(padded[i:i + 3].encode()) % DIM] += 1.0
    out[0] += 0.5  # the empty text is not the zero vector
    return out


class Trigrams(llm.EmbeddingModel):
    """What an llm-* plugin registers: an id, llm's batch_size, embed_batch. Records its batches."""

    model_id = "xalign-test-trigrams"
    batch_size = 3

    def __init__(self):
        self.batches: list[list[str]] = []

    def embed_batch(self, items):
        items = list(items)
        self.batches.append(items)
        return (trigram_vector(item) for item in items)


class Keyed(Trigrams):
    model_id = "xalign-test-keyed"
    needs_key = "xalign-test"
    key_env_var = "XALIGN_TEST_LLM_KEY"


class Sized(Trigrams):
    model_id = "xalign-test-sized"
    dimensions = DIM


class ImagesOnly(Trigrams):
    model_id = "xalign-test-images"
    supports_text, supports_binary = False, True


class Plugin:
    def __init__(self):
        self.trigrams = Trigrams()

    @llm.hookimpl
    def register_embedding_models(self, register):
        for model in (self.trigrams, Keyed(), Sized(), ImagesOnly()):
            register(model, aliases=[model.model_id.replace("xalign-test-", "t-")])


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The test plugin registered in llm, and its models in mteb's registry through the bridge's hook."""
    import xalign_llm

    from mteb_xalign import mteb_compat
    from mteb_xalign.mteb_bridge import ensure_registered

    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path / "llm-user"))  # llm's keys.json and aliases: empty
    monkeypatch.delenv("XALIGN_TEST_LLM_KEY", raising=False)
    ensure_registered()
    instance = Plugin()
    llm.plugins.pm.register(instance, name="xalign-test-plugin")
    try:
        registered = []
        xalign_llm.register_models(register=registered.append)
        for meta in registered:
            mteb_compat.add_model(meta)
        yield instance, {meta.name: meta for meta in registered}
    finally:
        llm.plugins.pm.unregister(instance)


def test_every_text_model_of_llm_is_registered_with_honest_metadata(plugin):
    _, metas = plugin
    assert {"llm/xalign-test-trigrams", "llm/xalign-test-keyed", "llm/xalign-test-sized"} <= set(metas)
    assert "llm/xalign-test-images" not in metas  # binary-only: no text to embed
    assert "llm/text-embedding-3-small" in metas  # llm's own models too
    meta = metas["llm/xalign-test-trigrams"]
    assert meta.languages is None and meta.embed_dim is None  # llm does not say: unknown, not guessed
    assert metas["llm/xalign-test-sized"].embed_dim == DIM  # a declared `dimensions` is used
    assert meta.use_instructions is False and meta.similarity_fn_name.value == "cosine"
    # Not in an installed distribution (this test file): the revision is a digest of its code.
    assert meta.revision.startswith("source-") and len(meta.revision) == len("source-") + 12
    assert metas["llm/text-embedding-3-small"].revision == f"llm=={metadata.version('llm')}"  # llm's own class


def test_vectors_are_the_llm_models_own_through_its_batch_size(plugin):
    import mteb

    from mteb_xalign.encoding import embed_texts
    from mteb_xalign.conformance import probe_task_metadata

    instance, _ = plugin
    model = mteb.get_model("llm/xalign-test-trigrams")
    vectors = embed_texts(model, TEXTS, prompt_type=PromptType.query, task_metadata=probe_task_metadata(),
                          encode_kwargs={"batch_size": 8})
    expected = np.array([trigram_vector(t) for t in TEXTS], dtype=np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, rtol=1e-6, atol=1e-6)
    sent = [text for batch in instance.trigrams.batches for text in batch]
    assert sorted(sent) == sorted(set(TEXTS))  # each distinct text once (the cache does the rest)
    assert max(len(batch) for batch in instance.trigrams.batches) == Trigrams.batch_size  # llm's batch size holds
    # Queries and documents: llm has no roles, so the same vectors.
    docs = embed_texts(model, TEXTS[:2], prompt_type=PromptType.document, task_metadata=probe_task_metadata())
    np.testing.assert_allclose(docs, vectors[:2], rtol=1e-6, atol=1e-6)


def test_check_plugin_passes(plugin):
    from mteb_xalign.conformance import FAIL, check_model

    for name in ("llm/xalign-test-trigrams", "llm/xalign-test-sized"):
        checks = check_model(name)
        assert [c for c in checks if c.status == FAIL] == [], checks
        assert {c.name for c in checks} >= {"load", "shape", "normalised", "deterministic", "batching", "scripts"}


def test_a_model_without_its_key_is_refused_in_llms_words_before_any_text_is_sent(plugin, monkeypatch):
    from xalign_llm.encoder import load_llm_model

    with pytest.raises(UserError, match=r"llm model xalign-test-keyed: .*llm keys set xalign-test.*XALIGN_TEST_LLM_KEY"):
        load_llm_model("llm/xalign-test-keyed")
    monkeypatch.setenv("XALIGN_TEST_LLM_KEY", "secret")
    model = load_llm_model("llm/xalign-test-keyed")
    assert model.embed(["a b c"], prompt_type=None).shape == (1, DIM)


def test_unknown_and_ragged_models_are_one_line_errors(plugin):
    from xalign_llm.encoder import load_llm_model

    with pytest.raises(UserError, match=r"llm has no embedding model 'nope' \(see `llm embed-models`\)"):
        load_llm_model("llm/nope")
    model = load_llm_model("llm/xalign-test-trigrams")
    model.llm_model.embed_batch = lambda items: ([1.0] * (3 + i) for i, _ in enumerate(items))
    with pytest.raises(UserError, match=r"llm model xalign-test-trigrams returned vectors of lengths \[3, 4\]"):
        model.embed(["a", "b"], prompt_type=None)


def test_installed_plugin_registers_llms_models_under_its_entry_point():
    import mteb

    from mteb_xalign import plugins

    mteb.get_model_meta("llm/text-embedding-3-small")  # registered at `import mteb`, no test help
    assert plugins.plugin_of_model("llm/text-embedding-3-small") == "llm"


# -- as a user meets it: an llm plugin installed with pip, then the xalign commands ----------------------------

LLM_PLUGIN_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "llm-xalign-trigrams"
version = "0.1.0"
dependencies = ["llm"]

[project.entry-points.llm]
trigrams = "llm_xalign_trigrams"
"""

LLM_PLUGIN_MODULE = '''
"""An llm embedding plugin as llm's docs describe one: deterministic, offline."""
import json
import zlib

import llm


@llm.hookimpl
def register_embedding_models(register):
    register(Trigrams())


class Trigrams(llm.EmbeddingModel):
    model_id = "xalign-trigrams"
    batch_size = 4

    def embed_batch(self, items):
        for text in items:
            out = [0.0] * 24
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                out[zlib.crc32(padded[i:i + 3].encode()) % 24] += 1.0
            out[0] += 0.5
            yield out
'''


@pytest.fixture(scope="module")
def llm_site(tmp_path_factory):
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("llm-plugin")
    source = root / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(LLM_PLUGIN_PYPROJECT)
    (source / "llm_xalign_trigrams.py").write_text(LLM_PLUGIN_MODULE)
    target = root / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return target


def test_an_installed_llm_plugin_passes_check_plugin_and_is_listed(tmp_path, llm_site):
    import os

    from xalign_testing import run_cli

    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(llm_site), os.environ.get("PYTHONPATH")])),
           "LLM_USER_PATH": str(tmp_path / "llm-user")}
    # llm itself sees the plugin: it is a real llm plugin, not a test-only shape.
    out = run_cli("llm", "embed", "-m", "xalign-trigrams", "-c", "hello", cwd=tmp_path, env=env)
    assert out.returncode == 0 and np.allclose(json.loads(out.stdout), trigram_vector("hello")), out.stderr
    out = run_cli("xalign", "models", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("llm/xalign-trigrams "))
    assert row[1] == "llm"
    out = run_cli("python", "-c", "import mteb; print(mteb.get_model_meta('llm/xalign-trigrams').revision)",
                  cwd=tmp_path, env=env)
    assert out.stdout.split()[-1] == "llm-xalign-trigrams==0.1.0"  # the version of the code that embeds
    out = run_cli("xalign", "check-plugin", "llm/xalign-trigrams", cwd=tmp_path, env=env)
    assert out.returncode == 0 and "check-plugin: all 1 model(s) passed" in out.stdout, out.stdout + out.stderr

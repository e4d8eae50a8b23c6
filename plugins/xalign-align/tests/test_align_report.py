"""The before/after report reads MTEB result JSON; a missing result is "—", never 0."""

import json

import numpy as np
from xalign_align.report import build, picture

from mteb_xalign import per_query
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats.resampling import paired_all, task_interval


def _result(root, model, revision, task, scores):
    folder = root / "results" / model.replace("/", "__") / revision
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"hf_subset": subset, **values} for subset, values in scores.items()]
    (folder / f"{task}.json").write_text(json.dumps({"task_name": task, "scores": {"test": rows}}))


def test_report_deltas_per_language_and_mean(tmp_path):
    for model, shift in (("org/base", 0.0), ("org/base+procrustes-tatoeba", 0.1)):
        scores = {}
        for i, lang in enumerate(("de", "zh")):
            scores[f"multi_en+{lang}_q-{lang}"] = {"max_at_r_norm": 0.5 + i * 0.2 + shift,
                                                   "language_preference": 0.3 - shift}
            scores[f"multi_en+{lang}_q-en"] = {"max_at_r_norm": 0.6, "language_preference": 0.1}
        _result(tmp_path, model, "r1", "MultiRefCLIR", scores)
    _result(tmp_path, "org/base", "r1", "MultiRefCLIR-MonoSame", {"monosame_de_q-de": {"max_at_r_norm": 0.9}})
    markdown, info = build("org/base", ["org/base+procrustes-tatoeba"], [tmp_path])
    # mean over de (0.5) and zh (0.7) = 60.0; aligned +10 points; English preference 30 -> 20
    # no per-query files here: each Δ bare, saying so
    assert "| Multi Max@R_norm, q-X | 2 | 60.0 | 70.0 (+10.0, no interval (no per-query data)) |" in markdown
    assert "| English preference % (q-X) | 2 | 30.0 | 20.0 (-10.0, no interval (no per-query data)) |" in markdown
    assert "per language (95% interval" not in markdown
    # Mono-Same only for the base: its own mean, and no made-up number for the aligned model
    assert "| Mono-Same Max@R_norm | 1 | 90.0 | — |" in markdown
    assert "| `+procrustes-tatoeba` | — | — | — | — |" in markdown.split("## Mono-Same Max@R_norm")[1]
    # a panel for each metric both models have, none for Mono-Same (the base's only) or unrun tasks
    assert picture(info, tmp_path / "report.png") == ["multi_qx", "multi_qen", "en_pref"]
    assert (tmp_path / "report.png").stat().st_size > 10_000


N = 60  # questions per subset, 3 per paragraph


def _result_with_rows(root, model, rows: dict[str, dict[str, np.ndarray]]):
    """A MultiRefCLIR result whose every value is the mean of its per-query rows, with its per-query file."""
    folder = root / "results" / model.replace("/", "__") / "r1"
    folder.mkdir(parents=True, exist_ok=True)
    ids, clusters = tuple(f"q{i}" for i in range(N)), tuple(f"p{i // 3}" for i in range(N))
    outcomes = {("test", s): SubsetOutcomes(ids, clusters, {k: np.asarray(v, np.float64) for k, v in keys.items()})
                for s, keys in rows.items()}
    entries = [{"hf_subset": s, **{k: per_query.on_disk(v) for k, v in per_query.recompute(out).items()}}
               for (_, s), out in outcomes.items()]
    path = folder / "MultiRefCLIR.json"
    path.write_text(json.dumps({"task_name": "MultiRefCLIR", "dataset_revision": "d1", "scores": {"test": entries}}))
    per_query._write(per_query.per_query_path(path), "MultiRefCLIR", "d1", outcomes, "max_at_r_norm")
    assert per_query.problems(path) == []
    return outcomes


def test_each_delta_has_its_paired_interval_and_not_significant_ones_are_marked(tmp_path):
    rng = np.random.default_rng(3)
    base_rows, aligned_rows = {}, {}
    for lang in ("de", "zh"):
        qx, qen = rng.uniform(0.2, 0.7, N), rng.uniform(0.3, 0.8, N)
        pref = (rng.random(N) < 0.3).astype(float)
        base_rows[f"multi_en+{lang}_q-{lang}"] = {"max_at_r_norm": qx, "language_preference": pref}
        base_rows[f"multi_en+{lang}_q-en"] = {"max_at_r_norm": qen, "language_preference": pref}
        # aligned: q-X clearly better (every question +0.15, with noise); q-en untouched
        aligned_rows[f"multi_en+{lang}_q-{lang}"] = {"max_at_r_norm": np.clip(qx + 0.15 + rng.normal(0, 0.02, N), 0, 1),
                                                     "language_preference": pref}
        aligned_rows[f"multi_en+{lang}_q-en"] = {"max_at_r_norm": qen, "language_preference": pref}
    base = _result_with_rows(tmp_path, "org/base", base_rows)
    aligned = _result_with_rows(tmp_path, "org/base+center", aligned_rows)
    markdown, info = build("org/base", ["org/base+center"], [tmp_path])
    whole, per_lang = info["deltas"][("multi_qx", "org/base+center")]
    # the interval is stats' paired cluster bootstrap over the same subsets (xalign compare's numbers)
    subsets = [("test", "multi_en+de_q-de"), ("test", "multi_en+zh_q-zh")]
    _, expected = paired_all([aligned[s] for s in subsets], [base[s] for s in subsets], "max_at_r_norm")
    assert (whole.test.low, whole.test.high) == (expected.low, expected.high)
    assert whole.test.low < whole.delta < whole.test.high and whole.test.low > 0.1 and whole.significant
    row = next(line for line in markdown.splitlines() if line.startswith("| Multi Max@R_norm, q-X |"))
    assert f"[+{100 * whole.test.low:.1f}, +{100 * whole.test.high:.1f}])" in row and "n.s." not in row
    # each average score with its own interval: the same subsets resampled jointly (a task score's interval)
    for outcomes, cell in ((base, row.split("|")[3]), (aligned, row.split("|")[4])):
        ci = task_interval([outcomes[s] for s in subsets], "max_at_r_norm")
        assert cell.strip().startswith(f"{100 * ci.point:.1f} [{100 * ci.low:.1f}, {100 * ci.high:.1f}]")
    # identical outcomes: Δ 0, its interval the point, not significant, marked
    same = next(line for line in markdown.splitlines() if line.startswith("| Multi Max@R_norm, q-en |"))
    assert "+0.0 [+0.0, +0.0] n.s." in same
    assert not info["deltas"][("multi_qen", "org/base+center")][0].significant
    # per language, with Holm over the languages, said in words
    assert "## Δ Multi Max@R_norm, q-X per language (95% interval; n.s. after Holm over its languages)" in markdown
    assert "| 2 of 2 |" in markdown and "| 0 of 2 |" in markdown
    assert "Holm" in markdown and "paired cluster" in markdown
    picture(info, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000

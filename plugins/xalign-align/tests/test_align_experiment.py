"""`python -m xalign_align.experiment` ends with the before/after table: every average score with its
95% interval, every Δ with its paired interval and Holm's verdict, the numbers of mteb_xalign.stats."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sentence_transformers")

LANGS = ("de", "zh")


def _stored(results, model):
    """The model's SemanticAffinity result (with its path) and the per-query outcomes of its en-X subsets."""
    from mteb_xalign import per_query

    [path] = (results / "results" / model.replace("/", "__")).glob("*/SemanticAffinity.json")
    stored = per_query.load(path)
    return path, [stored[("test", f"en-{lang}")] for lang in LANGS]


def test_experiment_ends_with_scores_and_deltas_with_their_intervals(tmp_path, registered_tiny, tiny_pairs, capsys):
    from xalign_align import experiment

    from mteb_xalign.stats.resampling import holm, paired_all, task_interval

    results = tmp_path / "results"
    rc = experiment.main(["-m", registered_tiny, "--methods", "center,subspace", "--languages", ",".join(LANGS),
                          "--train", str(tiny_pairs), "--tasks", "SemanticAffinity", "--eval-languages",
                          ",".join(LANGS), "--artifacts", str(tmp_path / "art"), "--output", str(results)])
    assert rc == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| SemanticAffinity (en-X) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "2"  # de and zh

    path, base = _stored(results, registered_tiny)
    scores = {s["hf_subset"]: s["semantic_affinity"]
              for s in json.loads(path.read_text())["scores"]["test"] if s["hf_subset"] in ("en-de", "en-zh")}
    ci = task_interval(base, "semantic_affinity")
    assert ci.point == pytest.approx(sum(scores.values()) / 2, abs=1e-6)  # the stored scores' mean
    assert ci.low < ci.point < ci.high  # a random model: a real interval, not a point
    assert cells[2] == f"{ci.point:.3f} [{ci.low:.3f}, {ci.high:.3f}]"

    for cell, method in zip(cells[3:], ("center", "subspace"), strict=True):
        _, aligned = _stored(results, f"{registered_tiny}+{method}-pairs")
        own = task_interval(aligned, "semantic_affinity")
        _, whole = paired_all(aligned, base, "semantic_affinity")
        # one metric per aligned model here: Holm over one p-value is that p-value
        significant = holm([whole.p_value])[0] < 0.05
        expected = (f"{own.point:.3f} [{own.low:.3f}, {own.high:.3f}] "
                    f"({whole.delta:+.3f} [{whole.low:+.3f}, {whole.high:+.3f}]{'' if significant else ' n.s.'})")
        assert cell == expected
    # the per-language Δ table follows, and the report is written beside the results
    assert "## Δ SemanticAffinity (en-X) per language (95% interval; n.s. after Holm over its languages)" in out
    assert (results / "align-report" / "report.md").read_text(encoding="utf-8").strip() == out.strip()
    assert (results / "align-report" / "report.png").stat().st_size > 10_000


def test_fit_with_evaluate_ends_with_the_same_report(tmp_path, registered_tiny, tiny_pairs, capsys):
    """`xalign align fit/train --evaluate` ends as the experiment does: the report's table, printed and
    written to OUT/align-report, equal to `xalign align report` on the same results."""
    from xalign_align.report import write_report

    from mteb_xalign.cli import main

    out = tmp_path / "aligned"
    rc = main(["align", "fit", "-m", registered_tiny, "--method", "center", "--train", str(tiny_pairs),
               "-l", ",".join(LANGS), "--out", str(out), "--no-register", "--evaluate", "SemanticAffinity",
               "--eval-languages", ",".join(LANGS)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| SemanticAffinity (en-X) | 2 |" in printed
    written = (out / "align-report" / "report.md").read_text(encoding="utf-8")
    assert written.strip() in printed
    again = write_report(registered_tiny, [f"{registered_tiny}+center-pairs"], [out / "results"], tmp_path / "again")
    assert again == written


def test_fit_with_folds_evaluates_each_held_out_half_and_reports_it(tmp_path, registered_tiny, capsys):
    """`--train xquad --folds 2`: each fold's map is built on one half of XQuAD's articles and evaluated
    on the other (a --data task whose card the card rules accept), and each fold ends with its report."""
    from mteb_xalign.cli import main

    out = tmp_path / "folds"
    assert main(["align", "fit", "-m", registered_tiny, "--method", "center", "--train", "xquad", "--folds", "2",
                 "-l", "de", "--out", str(out), "--no-register"]) == 0
    printed = capsys.readouterr().out
    for k in (1, 2):
        written = (out / f"fold{k}" / "align-report" / "report.md").read_text(encoding="utf-8")
        assert written.strip() in printed
        assert "| Multi Max@R_norm, q-X | 1 |" in written  # de only (-l de), on the held-out half
        assert sorted(p.name for p in (out / f"fold{k}-eval-data").glob("*.contexts.jsonl")) == \
            ["de.contexts.jsonl", "en.contexts.jsonl"]
        [result] = (out / "results").glob(f"results/*+center-xquad-fold{k}of2-train/*/MultiRefCLIR-XQuAD-fold{k}of2.json")
        assert result.with_name(f"MultiRefCLIR-XQuAD-fold{k}of2.per_query.npz").is_file()

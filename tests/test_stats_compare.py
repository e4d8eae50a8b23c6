"""`xalign compare`: rows, JSON, plot; a model against itself; comparisons across other data refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mteb_xalign import cli, per_query
from mteb_xalign.errors import UserError
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import compare

SUBSETS = ("multi_en+de_q-de", "multi_en+de_q-en", "multi_en+zh_q-zh")


def write_model(root, name, shift, revision="rev-1", n_questions=200, seed=0):
    """A result file and its per-query file for task MultiRefCLIR, as `xalign run` writes them."""
    rng = np.random.default_rng(seed)
    folder = root / name.replace("/", "__") / "r1"
    folder.mkdir(parents=True)
    (folder / "model_meta.json").write_text(json.dumps({"name": name, "revision": "r1"}))
    ids = tuple(f"q{i}" for i in range(n_questions))
    clusters = tuple(f"p{i // 5}" for i in range(n_questions))
    difficulty = rng.normal(0, 0.15, n_questions // 5 + 1)
    stored, rows = {}, []
    for k, subset in enumerate(SUBSETS):
        noise = np.random.default_rng(seed * 100 + k).normal(0, 0.1, n_questions)
        values = np.clip(0.6 + difficulty[np.arange(n_questions) // 5] + noise + shift * (k == 0), 0, 1)
        out = SubsetOutcomes(ids, clusters, {"max_at_r_norm": values})
        stored[("test", subset)] = out
        mean = float(values.mean())
        rows.append({"hf_subset": subset, "max_at_r_norm": round(mean, 6), "main_score": round(mean, 6),
                     "n_queries": float(n_questions), "languages": ["eng-Latn"]})
    path = folder / "MultiRefCLIR.json"
    path.write_text(json.dumps({"dataset_revision": revision, "task_name": "MultiRefCLIR",
                                "mteb_version": "2.26.24", "evaluation_time": 1.0, "scores": {"test": rows}}))
    per_query._write(per_query.per_query_path(path), "MultiRefCLIR", revision, stored, "max_at_r_norm")
    return path


def test_rows_table_json_and_plot(tmp_path, capsys):
    write_model(tmp_path, "org/a", shift=0.2)
    write_model(tmp_path, "org/b", shift=0.0)
    code = cli.main(["compare", "org/a", "org/b", "--results", str(tmp_path), "--json", str(tmp_path / "c.json"),
                     "--plot", str(tmp_path / "c.png"), "--resamples", "999"])
    out = capsys.readouterr().out
    assert code == 0 and "Holm" in out and "multi_en+de_q-de" in out
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert [r["subset"] for r in rows] == [*SUBSETS, "task"]
    assert set(rows[0]) == {"task", "subset", "delta", "ci95_low", "ci95_high", "p_value", "p_adjusted",
                            "significant"}
    shifted, same = rows[0], rows[1]
    assert shifted["significant"] and shifted["ci95_low"] > 0.1 and shifted["p_adjusted"] < 0.05
    assert not same["significant"] and same["delta"] == 0.0  # the same values: no difference at all
    assert all(r["p_adjusted"] >= r["p_value"] for r in rows)
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_a_model_against_itself(tmp_path):
    path = write_model(tmp_path, "org/a", shift=0.1)
    rows, _ = compare.compare({"MultiRefCLIR": path}, {"MultiRefCLIR": path})
    for row in rows:
        assert (row.delta, row.ci95_low, row.ci95_high, row.p_value, row.p_adjusted, row.significant) == \
            (0.0, 0.0, 0.0, 1.0, 1.0, False)


def test_other_data_or_queries_are_refused(tmp_path):
    a = write_model(tmp_path, "org/a", shift=0.0)
    b = write_model(tmp_path, "org/b", shift=0.0, revision="rev-2")
    with pytest.raises(UserError, match="different data.*rev-1.*rev-2"):
        compare.compare({"MultiRefCLIR": a}, {"MultiRefCLIR": b})
    c = write_model(tmp_path, "org/c", shift=0.0, n_questions=195)
    with pytest.raises(UserError, match="different queries"):
        compare.compare({"MultiRefCLIR": a}, {"MultiRefCLIR": c})
    # A per-query file that does not reproduce its result is refused, naming the file.
    data = json.loads(a.read_text())
    data["scores"]["test"][0]["max_at_r_norm"] = 0.999
    a.write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"MultiRefCLIR\.per_query\.npz.*max_at_r_norm"):
        compare.compare({"MultiRefCLIR": a}, {"MultiRefCLIR": a})

"""`xalign report`: one self-contained HTML page with every task's numbers, charts and collapse flags."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess

import pytest
from results_factory import SA_TARGETS, TARGETS, value, write_model

from mteb_xalign.cli import main
from mteb_xalign.report.flags import collapse_report, declared_languages, is_declared
from mteb_xalign.report.results import find_results
from mteb_xalign.report.series import language_series

pytest.importorskip("plotly")

CHART_IDS = ("chart-multi", "chart-preference", "chart-scenarios", "chart-lareqa", "chart-sa", "chart-sa-heatmap-0",
             "chart-sa-heatmap-1")


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    write_model(folder, "org/model-a", 0, declared=["en", "de", "ar", "zh"], collapse_on=("el", "hi"))
    write_model(folder, "org/model-b", 1, declared=["en", *TARGETS])
    return folder


def _report(results, tmp_path, *models) -> str:
    out = tmp_path / "report.html"
    argv = ["report", "--results", str(results), "--output", str(out)]
    for m in models:
        argv += ["-m", m]
    assert main(argv) == 0
    return out.read_text(encoding="utf-8")


def test_page_holds_every_task_score_as_mteb_computes_it(results, tmp_path):
    page = _report(results, tmp_path, "org/model-a", "org/model-b")
    for model, name in enumerate(("org/model-a", "org/model-b")):
        assert name in page
        # mteb's task score: the mean main score over all the task's subsets (both query directions)
        folder = results / name.replace("/", "__") / "rev1"
        subsets = json.loads((folder / "MultiRefCLIR.json").read_text())["scores"]["test"]
        multi = statistics.mean(s["main_score"] for s in subsets)
        assert len(subsets) == 2 * len(TARGETS)
        sa = statistics.mean(value(model, "sa", x) for x in SA_TARGETS)
        row = re.search(rf"<tr><td class='name'>{re.escape(name)}</td><td class='name' title='rev1'>rev1</td>(.*?)</tr>", page)
        cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
        assert cells[0] == f"{100 * multi:.1f}"  # MultiRefCLIR, x100
        assert f"{sa:.3f}" in cells  # SemanticAffinity as it is
    for x in TARGETS:
        assert f"<th>{x}</th>" in page


def test_page_is_self_contained_with_plotly_inlined(results, tmp_path):
    from plotly.offline import get_plotlyjs

    page = _report(results, tmp_path)
    assert get_plotlyjs()[:2000] in page  # the library itself, not a link to it
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    outside_scripts = re.sub(r"<script.*?</script>", "", page, flags=re.S | re.I)
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", outside_scripts, re.I)
    assert "url(" not in outside_scripts and "@import" not in outside_scripts
    for chart in CHART_IDS:
        assert f'id="{chart}"' in page


def test_collapse_outside_declared_languages_is_flagged(results, tmp_path):
    page = _report(results, tmp_path, "org/model-a", "org/model-b")
    assert "org/model-a collapses on el, hi" in page
    assert "org/model-b</b>: no collapse outside its declared languages" in page
    # the cells are marked: italic for undeclared, red for collapsed
    assert page.count("class='undeclared collapsed'") == 2


def test_collapse_rule_against_a_hand_computation(results):
    model_a = find_results(results, ["org/model-a"])[0]
    report = collapse_report(model_a, language_series(model_a))
    declared = ["ar", "de", "zh"]  # targets among its declared en, de, ar, zh
    reference = statistics.median(value(0, "multi:q-X", x) for x in declared)
    assert report.reference == pytest.approx(reference)
    assert report.undeclared == ["el", "hi"]
    assert report.collapsed == ["el", "hi"]  # 0.05 < reference / 2


def test_model_declaring_only_english_is_judged_against_its_english_retrieval(tmp_path):
    write_model(tmp_path, "org/english", 0, declared=["en"], collapse_on=("ar",))
    model = find_results(tmp_path, None)[0]
    report = collapse_report(model, language_series(model))
    english = value(0, "monosame:q-en", "en")
    assert report.reference == pytest.approx(english)
    assert report.collapsed == sorted(x for x in TARGETS if (0.05 if x == "ar" else value(0, "multi:q-X", x))
                                      < english / 2)
    assert "ar" in report.collapsed


def test_model_without_declared_languages_gets_no_flag(tmp_path):
    write_model(tmp_path / "r", "org/anon", 0, declared=None, collapse_on=("ar",))
    page = _report(tmp_path / "r", tmp_path)
    assert "declares no languages, so no language is flagged" in page and "collapses on" not in page


def test_macrolanguage_codes_count_as_declared():
    declared = declared_languages({"languages": ["zho-Hans", "ara-Arab", "eng-Latn"]})
    assert is_declared("zh", declared) and is_declared("ar", declared) and not is_declared("hi", declared)
    assert declared_languages({"languages": None}) is None


def test_text_from_result_files_is_inert(tmp_path):
    evil = "org/x</script><script>alert(1)</script><b>"
    folder = write_model(tmp_path / "r", "org/evil", 0, declared=["en"])
    meta = json.loads((folder / "model_meta.json").read_text())
    meta["name"] = evil
    (folder / "model_meta.json").write_text(json.dumps(meta))
    page = _report(tmp_path / "r", tmp_path)
    assert "<script>alert(1)" not in page and "<b>" not in page.split("<body>")[1].replace("<b>org", "")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page


def test_old_scale_files_and_bad_output_are_one_line_errors(results, tmp_path, capsys):
    assert main(["report", "--results", str(results), "--output", str(tmp_path / "r.png")]) == 1
    assert "should end in .html" in capsys.readouterr().err
    assert main(["report", "--results", str(tmp_path / "none"), "--output", str(tmp_path / "r.html")]) == 1
    assert "results folder not found" in capsys.readouterr().err


def test_help_says_no_model_is_run(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "does not run models" in out and "<results>/<model>/<revision>/<Task>.json" in out


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless chromium")
def test_every_chart_is_drawn_in_a_browser(results, tmp_path):
    _report(results, tmp_path)
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom",
         (tmp_path / "report.html").as_uri()], capture_output=True, text=True, timeout=180).stdout
    for chart in CHART_IDS:
        drawn = re.search(rf'id="{chart}"[^>]*>(.{{0,4000}})', dom, re.S)
        assert drawn and "main-svg" in drawn.group(1), chart


def _add_per_query(result_path, keys: tuple[str, ...], main: str, n: int = 40, spread: float = 0.04):
    """Rows whose mean is each subset's stored value (v + spread in the first half, v - spread in the
    second), 4 per cluster."""
    import numpy as np

    from mteb_xalign import per_query
    from mteb_xalign.per_query import SubsetOutcomes

    data = json.loads(result_path.read_text())
    ids, clusters = tuple(f"q{i}" for i in range(n)), tuple(f"p{i // 4}" for i in range(n))
    signs = np.where(np.arange(n) < n // 2, 1.0, -1.0)  # whole clusters up or down: the interval has width
    stored = {("test", s["hf_subset"]): SubsetOutcomes(ids, clusters, {k: s[k] + spread * signs for k in keys})
              for s in data["scores"]["test"]}
    per_query._write(per_query.per_query_path(result_path), data["task_name"], data["dataset_revision"], stored, main)
    assert per_query.problems(result_path) == []


def test_tables_show_half_intervals_and_charts_error_bars_where_per_query_data_exist(results, tmp_path):
    from mteb_xalign.stats.file_intervals import column_interval

    folder = results / "org__model-a" / "rev1"
    _add_per_query(folder / "LAReQA.json", ("map",), "map")
    _add_per_query(folder / "MultiRefCLIR.json", ("max_at_r_norm", "language_preference"), "max_at_r_norm")
    page = _report(results, tmp_path, "org/model-a", "org/model-b")
    table = re.search(r"<table id='languages-lareqa-q-X'>(.*?)</table>", page, re.S).group(1)
    row_a = re.search(r"org/model-a</td>(.*?)</tr>", table).group(1)
    row_b = re.search(r"org/model-b</td>(.*?)</tr>", table).group(1)
    ci = column_interval(folder / "LAReQA.json", "map", lambda s: s == "q-de")
    assert ci.high - ci.low > 0.001
    assert f"{100 * value(0, 'lareqa:q-X', 'de'):.1f} ± {100 * (ci.high - ci.low) / 2:.1f}" in row_a
    assert "±" not in row_b  # no per-query data: the bare value
    scores = re.search(r"<table id='task-scores'>(.*?)</table>", page, re.S).group(1)
    assert scores.count("±") == 2  # model-a's MultiRefCLIR and LAReQA task scores
    assert '"arrayminus"' in page and "95% interval" in page and "no per-query data" in page
    model_a = next(m for m in find_results(results, ["org/model-a"]))
    series = language_series(model_a)
    low, high = series.interval("preference:q-X", "de")
    assert low < series.get("preference:q-X", "de") < high

"""A submitted JSON file is parsed with limits first: a huge integer or deep nesting is one
problem line naming the file, never Python's ValueError or RecursionError (issue 24, item 14)."""

from __future__ import annotations

import json

import pytest
from test_leaderboard import submit, tree, write_results

from mteb_xalign.leaderboard import SubmissionError, limits

HUGE_INT = "9" * 5001  # Python refuses ints above 4,300 digits
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads recurses per level


def _replace_scores(text: str, value: str) -> str:
    data = json.loads(text)
    data["evaluation_time"] = "__VALUE__"
    return json.dumps(data).replace('"__VALUE__"', value)


def _replace_meta(text: str, value: str) -> str:
    data = json.loads(text)
    data["n_parameters"] = "__VALUE__"
    return json.dumps(data).replace('"__VALUE__"', value)


@pytest.mark.parametrize("file, edit, words", [
    ("LAReQA.json", lambda t: _replace_scores(t, HUGE_INT), "holds a number written with 5,001 characters"),
    ("LAReQA.json", lambda t: _replace_scores(t, DEEP), "nested 100001 levels deep"),
    ("model_meta.json", lambda t: _replace_meta(t, HUGE_INT), "holds a number written with 5,001 characters"),
    ("model_meta.json", lambda t: _replace_meta(t, DEEP), "nested 100001 levels deep"),
    ("run_settings.jsonl", lambda t: t.splitlines()[0][:-1] + f', "x": {HUGE_INT}}}\n', "line 1: holds a number"),
    ("run_settings.jsonl", lambda t: t.splitlines()[0][:-1] + f', "x": {DEEP}}}\n', "line 1: nested 100001 levels"),
], ids=["result-int", "result-nesting", "meta-int", "meta-nesting", "settings-int", "settings-nesting"])
def test_huge_numbers_and_deep_nesting_are_one_line_naming_the_file(tmp_path, lb, file, edit, words):
    folder = write_results(tmp_path / "run", "org/model-deep", levels={"LAReQA": 0.4})
    path = folder / file
    path.write_text(edit(path.read_text()))
    assert path.stat().st_size < limits.MAX_RESULT_BYTES  # small: the size limit does not stop it
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    lines = [line for line in str(err.value).splitlines() if file in line]
    assert len(lines) == 1 and words in lines[0] and len(lines[0]) < 400, str(err.value)
    assert "Error" not in str(err.value)
    assert tree(lb) == {}


@pytest.fixture
def lb(tmp_path):
    return tmp_path / "leaderboards"


@pytest.mark.parametrize("text, depth", [
    ('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 1),  # brackets inside a string are text
    ('{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 1),  # so after an escaped quote
    ("[" * 32 + "]" * 32, 32),
    ("[" * 33 + "]" * 33, 33),
])
def test_depth_counts_only_brackets_outside_strings(text, depth):
    if depth <= limits.MAX_JSON_DEPTH:
        assert limits.parse_json(text.encode()) == json.loads(text)
    else:
        with pytest.raises(limits.JSONRefused, match=f"nested {depth} levels deep"):
            limits.parse_json(text.encode())


def test_long_digit_strings_inside_strings_and_ordinary_numbers_pass():
    text = json.dumps({"id": "7" * 10_000, "x": 0.12345678901234567, "y": -1.5e-300, "n": 10 ** 90})
    assert limits.parse_json(text.encode()) == json.loads(text)
    with pytest.raises(limits.JSONRefused, match="not valid JSON \\(line 1, column 2"):
        limits.parse_json(b"{,}")

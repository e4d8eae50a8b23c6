"""The mteb encoder for an OpenAI-compatible embeddings service.

Each request's embeddings are written to a persistent cache the moment they arrive, so a
run that dies mid-task (killed, out of credit, network gone) keeps everything it paid
for, and a rerun sends only what was never answered. The core's embedding cache
(mteb_xalign/encoding.py) also holds them, under the mteb model's name.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from typing import Any

import numpy as np
from mteb.types import PromptType

from mteb_xalign.cache import EmbeddingCache, make_key, shared_cache
from mteb_xalign.adapter import TextEncoder
from xalign_openai.client import EmbeddingsClient
from xalign_openai.config import ServiceConfig, env_overrides
from xalign_openai.tokens import TokenCounter, plan_batches

logger = logging.getLogger("xalign_openai")

CACHE_ENV = "XALIGN_OPENAI_CACHE"


def adapter_cache() -> EmbeddingCache:
    """XALIGN_OPENAI_CACHE=PATH or off; unset, the project's shared cache file (XALIGN_CACHE).

    Parsed by the core's one cache-settings reader. The adapter keeps its own keys in that
    file (endpoint + API model + the text as sent, not the mteb name) because a paid request
    must be committed the moment it returns, and aliases of one service must share it.
    """
    return shared_cache(CACHE_ENV)


class OpenAIEncoder(TextEncoder):
    """`embed` = cache lookup, then token- and count-bounded requests for the rest."""

    # All of mteb's batches at once: requests are sized by the API's limits (count and
    # tokens), not by the DataLoader's batch size, which is tuned for GPU memory.
    plans_own_batches = True

    def __init__(
        self,
        model_name: str,
        revision: str | None = None,
        device: str | None = None,
        *,
        env_base_url: bool = False,
        cache: EmbeddingCache | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        **settings: Any,
    ):
        super().__init__(model_name, revision, device)  # device is meaningless for an API
        self.config = env_overrides(ServiceConfig(**settings), base_url=env_base_url)
        client_kwargs = {k: v for k, v in (("sleep", sleep), ("clock", clock), ("rng", rng)) if v is not None}
        self.client = EmbeddingsClient(self.config, label=model_name, **client_kwargs)
        self.tokens = TokenCounter(self.config.bytes_per_token, self.config.tokenizer)
        self.dim = self.config.expected_dim
        self._cache = cache
        self.client.kept = self._kept
        # What makes two embeddings the same: endpoint, API model and requested dimensions;
        # not the mteb name, so an alias of the same service shares the vectors it paid for.
        self.cache_id = json.dumps(
            {"adapter": "xalign-openai", "url": self.client.display_url,
             "model": self.config.model, "dimensions": self.config.dimensions},
            sort_keys=True,
        )

    def __repr__(self) -> str:
        return (f"OpenAIEncoder(name={self.model_name!r}, url={self.client.display_url!r}, "
                f"model={self.config.model!r}, dim={self.dim}, api_key_env={self.config.api_key_env!r})")

    def _kept(self) -> str:
        """Where the embeddings received so far are, for the client's messages (true in every state)."""
        cache = self.cache
        if cache.path is not None and cache.writable:
            return "the embeddings received so far are cached: a rerun requests only the rest"
        state = "off" if cache.path is None else "read-only"
        return (f"the persistent cache is {state} ({CACHE_ENV}/XALIGN_CACHE), so the embeddings received in "
                "this call are lost: a rerun requests them again")

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = adapter_cache()
            if self._cache.path is None:
                logger.warning("%s: no persistent cache (%s/XALIGN_CACHE off): an interrupted run pays again",
                               self.model_name, CACHE_ENV)
        return self._cache

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Any = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        role = prompt_type.value if prompt_type is not None else None
        prefix = self.config.prompts.get(role, "") if role else ""
        # Like mteb's OpenAI wrapper: blank texts get a zero vector (the API rejects "").
        blank = [not text.strip() for text in texts]
        sent = [self._prepare(prefix + text) for text in texts]
        # The key is what the API receives, so roles share a vector when the text sent is the same.
        keys = [None if b else make_key(self.cache_id, "none", "", s) for b, s in zip(blank, sent)]

        unique = list(dict.fromkeys(k for k in keys if k is not None))
        found = self.cache.get_many(unique)
        missing = {k: s for k, s in zip(keys, sent) if k is not None and k not in found}
        if found and self.dim is None:
            self.dim = len(next(iter(found.values())))
        if missing:
            self._request_all(missing, found)

        if self.dim is None:
            raise ValueError(f"{self.model_name}: every text is blank and embed_dim is not configured, "
                             "so the dimension of the zero vectors is unknown")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            if key is not None:
                vector = found[key]
                if len(vector) != self.dim:
                    raise ValueError(f"{self.model_name}: cached embedding of {texts[row][:80]!r} has "
                                     f"dimension {len(vector)}, expected {self.dim}")
                out[row] = vector
        return out

    def _prepare(self, text: str) -> str:
        limit = self.config.max_tokens
        if limit is not None and self.tokens.count(text) > limit:
            short = self.tokens.truncate(text, limit)
            logger.info("%s: input truncated to %d %s tokens: %r…", self.model_name, limit,
                        "" if self.tokens.exact else "estimated", text[:60])
            return short
        return text

    def _request_all(self, missing: dict[bytes, str], found: dict[bytes, np.ndarray]) -> None:
        keys = list(missing)
        counts = [self.tokens.count(missing[k]) for k in keys]
        batches = plan_batches(counts, max_batch_size=self.config.max_batch_size,
                               max_batch_tokens=self.config.max_batch_tokens)
        logger.info("%s: %d new texts (%d cached) in %d request(s)", self.model_name, len(keys), len(found), len(batches))
        for number, batch in enumerate(batches, start=1):
            batch_keys = [keys[i] for i in batch]
            result = self.client.embed([missing[k] for k in batch_keys], expected_dim=self.dim)
            if self.dim is None:
                self.dim = result.vectors.shape[1]
            # Committed before the next request: what was paid for survives any crash after this line.
            self.cache.put_many(zip(batch_keys, result.vectors))
            found.update(zip(batch_keys, result.vectors))
            logger.info("%s: request %d/%d: %d texts, ~%d tokens", self.model_name, number, len(batches),
                        len(batch), sum(counts[i] for i in batch))

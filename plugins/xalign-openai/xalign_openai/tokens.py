"""Token counts for batching and truncation: exact with tiktoken, a byte estimate without.

The API refuses a request whose inputs exceed its token limits, and a refused request
costs a round trip and a retry budget, so the estimate errs on the high side.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

logger = logging.getLogger("xalign_openai")


class TokenCounter:
    """`count(text)` and `truncate(text, max_tokens)`, by tiktoken when it loads, else by UTF-8 bytes."""

    def __init__(self, bytes_per_token: float = 3.0, tokenizer: str | None = None):
        self.bytes_per_token = float(bytes_per_token)
        self._encoding = _load_tiktoken(tokenizer) if tokenizer else None
        self.exact = self._encoding is not None

    def count(self, text: str) -> int:
        if self._encoding is not None:
            return len(self._encoding.encode(text, disallowed_special=()))
        return max(1, math.ceil(len(text.encode("utf-8")) / self.bytes_per_token))

    def truncate(self, text: str, max_tokens: int) -> str:
        """`text` cut to at most `max_tokens` (estimated) tokens, at a character boundary."""
        if self._encoding is not None:
            ids = self._encoding.encode(text, disallowed_special=())
            return text if len(ids) <= max_tokens else self._encoding.decode(ids[:max_tokens])
        limit = int(max_tokens * self.bytes_per_token)
        data = text.encode("utf-8")
        if len(data) <= limit:
            return text
        return data[:limit].decode("utf-8", errors="ignore")  # drops a split trailing character


def _load_tiktoken(name: str):
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # noqa: BLE001 -- offline machines cannot fetch the BPE file
        logger.warning("tiktoken encoding %r unavailable (%s); estimating tokens from UTF-8 bytes", name, exc)
        return None


def plan_batches(
    token_counts: Sequence[int], *, max_batch_size: int, max_batch_tokens: int
) -> list[list[int]]:
    """Split positions 0..n-1, in order, into batches under both limits.

    A single input above the token budget still gets a batch of its own: it cannot be
    split, and the per-input limit (truncation) is what keeps it acceptable.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    current_tokens = 0
    for position, tokens in enumerate(token_counts):
        if current and (len(current) >= max_batch_size or current_tokens + tokens > max_batch_tokens):
            batches.append(current)
            current, current_tokens = [], 0
        current.append(position)
        current_tokens += tokens
    if current:
        batches.append(current)
    return batches


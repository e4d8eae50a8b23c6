"""Texts to padded token batches the way LLM embedders were trained: EOS last, never cut off.

The pooled vector of an LLM embedder is the hidden state of the final EOS, so three things
must hold for every text: the EOS is there (some tokenizers add it, others do not), it
survives truncation, and the pooling can find it whatever side the batch is padded on.
We pad ourselves (not `tokenizer.pad`) so the padding side and pad id are exactly ours,
also for tokenizers that define no pad token (Mistral's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_PROBE = "probe"


@dataclass
class TokenBatch:
    input_ids: torch.Tensor  # (batch, length)
    attention_mask: torch.Tensor  # 1 = real token, 0 = padding
    position_ids: torch.Tensor  # 0.. over real tokens, whatever side the padding is on


def eos_id_of(tokenizer, eos_token: str | None) -> int:
    """Id of the token last-token pooling reads; errors name the token and the tokenizer."""
    token = eos_token if eos_token is not None else tokenizer.eos_token
    if token is None:
        raise ValueError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', tokenizer)!r} has no eos_token; "
            "set eos_token for this model"
        )
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or (token_id == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise ValueError(
            f"eos_token {token!r} is not in the vocabulary of {getattr(tokenizer, 'name_or_path', tokenizer)!r}"
        )
    return int(token_id)


def tokenizer_appends(tokenizer, token_id: int) -> bool:
    """Does the tokenizer's post-processor end every text with `token_id` (Qwen3-Embedding's does)?"""
    ids = tokenizer(_PROBE, add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[-1] == token_id


def encode_batch(
    tokenizer,
    texts: list[str],
    *,
    max_length: int,
    eos_id: int,
    append_eos: bool,
    padding_side: str,
    pad_id: int | None = None,
    tokenizer_adds_eos: bool | None = None,
) -> TokenBatch:
    """Tokenise with the tokenizer's own special tokens, make the EOS last, pad to one tensor."""
    if tokenizer_adds_eos is None:
        tokenizer_adds_eos = tokenizer_appends(tokenizer, eos_id)
    add_eos = append_eos and not tokenizer_adds_eos
    # The tokenizer's truncation keeps the special tokens it adds itself; leave one slot for
    # an EOS we add, so the limit still counts every token the model sees.
    limit = max_length - 1 if add_eos else max_length
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=limit, padding=False)
    rows = [list(ids) + [eos_id] if add_eos else list(ids) for ids in encoded["input_ids"]]
    for text, ids in zip(texts, rows):
        if not ids:
            raise ValueError(f"text {text[:80]!r} gives no tokens (nothing to pool); enable append_eos")

    if pad_id is None:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_id
    width = max(len(ids) for ids in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, ids in enumerate(rows):
        span = slice(width - len(ids), width) if padding_side == "left" else slice(0, len(ids))
        input_ids[i, span] = torch.tensor(ids, dtype=torch.long)
        mask[i, span] = 1
    return TokenBatch(input_ids, mask, position_ids_from_mask(mask))


def position_ids_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only, so a text gets the same positions whether
    it is padded or alone (a forward pass defaults to 0..L-1 from the left edge, which
    shifts a left-padded text; RoPE hides most of that, absolute positions would not)."""
    return (mask.cumsum(dim=1) - 1).clamp(min=0) * mask

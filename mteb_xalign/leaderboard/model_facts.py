"""The model metadata the page shows and filters on, read from a stored model_meta.json."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mteb_xalign.languages import to_mteb

#: (filter value, label) of the parameter-count filter; "unknown" when the meta does not say.
SIZE_BUCKETS = (("<100M", "under 100M"), ("100M-1B", "100M to 1B"), ("1B-10B", "1B to 10B"),
                (">10B", "over 10B"), ("unknown", "not stated"))


@dataclass(frozen=True)
class ModelFacts:
    parameters: int | None
    dim: int | None
    max_tokens: int | None
    license: str | None
    release: str | None
    open_weights: str  # "yes", "no" or "unknown"
    languages: tuple[str, ...]  # mteb codes, e.g. "eng-Latn"

    @property
    def size_bucket(self) -> str:
        n = self.parameters
        if n is None:
            return "unknown"
        return "<100M" if n < 1e8 else "100M-1B" if n < 1e9 else "1B-10B" if n < 1e10 else ">10B"


def _positive_int(value) -> int | None:
    """A count from the meta; None when absent, not a number, NaN, infinite (some metas say
    max_tokens=Infinity for "no limit") or not positive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return int(value)


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def facts(meta: dict) -> ModelFacts:
    dim = meta.get("embed_dim")
    if isinstance(dim, list):  # Matryoshka models list several; the largest is the model's
        dim = max((d for d in dim if isinstance(d, int)), default=None)
    open_weights = meta.get("open_weights")
    languages = meta.get("languages") if isinstance(meta.get("languages"), list) else []
    return ModelFacts(
        parameters=_positive_int(meta.get("n_parameters")),
        dim=_positive_int(dim),
        max_tokens=_positive_int(meta.get("max_tokens")),
        license=_text(meta.get("license")),
        release=_text(meta.get("release_date")),
        open_weights="unknown" if open_weights is None else ("yes" if open_weights else "no"),
        languages=tuple(lang for lang in languages if isinstance(lang, str)),
    )


def mteb_code(lang: str) -> str:
    """'de' -> 'deu-Latn' (the codes the language filter uses); unknown codes stay as they are."""

    try:
        return to_mteb(lang)
    except (KeyError, ValueError):
        return lang

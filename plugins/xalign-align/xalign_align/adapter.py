"""The "aligned" model adapter: a base model's vectors, mapped by a fitted artifact.

Base vectors come through the shared embedding cache under the BASE model's key, so a base
model that was already evaluated costs no re-encoding; the map itself is a few matrix
products. A text in a language the map was not fitted for is an error (or, if the artifact
was fitted with `--unfitted identity`, left as it is with a warning): never silently unmapped.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from mteb.types import PromptType

from mteb_xalign.adapter import TextEncoder
from mteb_xalign.errors import DataError, UserError

from xalign_align import artifact as artifact_mod


class UnfittedLanguageError(UserError, KeyError):
    """A text's language has no map in the artifact."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def check_base(art: artifact_mod.Artifact):
    """The base model's ModelMeta, if it is the one the artifact was fitted on; else DataError."""
    import mteb

    card = art.card
    try:
        meta = mteb.get_model_meta(card["base_model"])
    except KeyError:
        raise DataError(f"fitted on model {card['base_model']!r}, which is not installed here "
                        "(see `xalign models`)", path=art.folder) from None
    if (meta.revision or "") != (card["base_revision"] or ""):
        raise DataError(f"fitted on {card['base_model']} revision {card['base_revision']!r}, but the installed "
                        f"model has revision {meta.revision!r}: refit the map for this model", path=art.folder)
    if meta.embed_dim is not None and int(meta.embed_dim) != int(card["embed_dim"]):
        raise DataError(f"fitted on {card['embed_dim']}-dim vectors, but {card['base_model']} gives {meta.embed_dim}",
                        path=art.folder)
    return meta


def default_task_metadata():
    """The encoding context when a caller gives none: the MultiRefCLIR task's (as at fit time)."""
    import mteb

    return mteb.get_task("MultiRefCLIR").metadata


def base_vectors(base: Any, texts: list[str], prompt_type: PromptType | None, task_metadata: Any) -> np.ndarray:
    from mteb_xalign.encoding import embed_texts

    # No languages: the base model's vectors do not depend on them, and its cache keys must not.
    return embed_texts(base, texts, prompt_type=prompt_type,
                       task_metadata=task_metadata if task_metadata is not None else default_task_metadata())


def normalise_languages(languages: list[str]) -> list[str]:
    from mteb_xalign.languages import normalise

    return [normalise(lang) or lang for lang in languages]


class AlignedEncoder(TextEncoder):
    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None, *,
                 artifact: str, **kwargs: Any):
        super().__init__(model_name, revision, device)
        self.artifact = artifact_mod.load(artifact)
        if self.artifact.card["kind"] != "map":
            raise DataError("a fine-tuned model folder, not a map: it loads through sentence-transformers",
                            path=self.artifact.folder)
        base_meta = check_base(self.artifact)
        self.base = base_meta.load_model(device=device)
        self.map = self.artifact.load_map()
        # The vectors are the base model's through this map, whatever name the model is run under.
        self.vector_identity = f"aligned-map:{self.artifact.digest}"
        # Per-language maps: the same text in two languages gets two vectors, so the cache keys
        # them by language too (mteb_xalign.encoding reads this flag).
        self.uses_languages = self.map.per_language
        self.policy = self.artifact.card["unfitted_language"]
        self._warned: set[str] = set()
        self.identified = 0  # texts whose language came from the identifier, not the caller

    def cache_context(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        method = getattr(self.base, "cache_context", None)
        return method(task_metadata, prompt_type) if callable(method) else f"task={task_metadata.name}"

    def sort_lengths(self, texts: list[str]) -> list[int]:
        # The base model does the work: its measure of a text's cost orders the chunk.
        method = getattr(self.base, "sort_lengths", None)
        return method(texts) if callable(method) else super().sort_lengths(texts)

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: list[str] | None = None) -> np.ndarray:
        vectors = base_vectors(self.base, texts, prompt_type, task_metadata)
        if not self.map.per_language:
            return self.map.apply(vectors, None)
        langs = self._languages_of(texts, languages)
        fitted = set(self.map.languages)
        unknown = sorted({lang for lang in langs if lang not in fitted})
        if unknown:
            if self.policy != "identity":
                raise UnfittedLanguageError(
                    f"aligned model {self.model_name} ({self.artifact.folder}): no map for language(s) {unknown}; "
                    f"fitted for {sorted(fitted)}. Refit with data for them, or fit with --unfitted identity.")
            for lang in unknown:
                if lang not in self._warned:
                    self._warned.add(lang)
                    print(f"xalign-align: WARNING: {self.model_name} has no map for {lang!r}: its vectors are "
                          "left UNMAPPED (card: unfitted_language=identity)", file=sys.stderr)
            keep = [i for i, lang in enumerate(langs) if lang in fitted]
            out = vectors.copy()
            if keep:
                out[keep] = self.map.apply(vectors[keep], [langs[i] for i in keep])
            return out
        return self.map.apply(vectors, langs)

    def _languages_of(self, texts: list[str], languages: list[str] | None) -> list[str]:
        if languages is not None:
            if len(languages) != len(texts):
                raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
            return normalise_languages(list(languages))
        from xalign_align.langid import identify

        self.identified += len(texts)
        return identify(texts, self.map.languages)


def load_aligned(model_name: str, revision: str | None = None, device: str | None = None, **kwargs: Any):
    return AlignedEncoder(model_name, revision, device, **kwargs)

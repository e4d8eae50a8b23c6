"""Language of each text, for per-language maps when the caller passes no `languages`.

py3langid ships its model inside its wheel (no download). It is restricted to the languages
the map was fitted for, so it can only answer with a language the map has.
"""

from __future__ import annotations

from functools import lru_cache


def identifier_name() -> str:
    from importlib.metadata import version

    return f"py3langid=={version('py3langid')}"


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    supported = set(ident.labels)
    usable = [lang for lang in languages if lang in supported]
    if not usable:
        raise ValueError(f"py3langid knows none of {list(languages)}")
    ident.set_languages(usable)
    return ident


def identify(texts: list[str], languages: list[str]) -> list[str]:
    """The most likely of `languages` for each text."""
    ident = _identifier(tuple(sorted(languages)))
    return [ident.classify(text)[0] for text in texts]

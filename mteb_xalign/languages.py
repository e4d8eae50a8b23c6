"""Two-letter codes (as the data files use) to MTEB's ISO 639-3 + script codes, and back."""

from __future__ import annotations

_TO_MTEB = {
    "en": "eng-Latn", "ar": "arb-Arab", "de": "deu-Latn", "el": "ell-Grek", "es": "spa-Latn",
    "hi": "hin-Deva", "ro": "ron-Latn", "ru": "rus-Cyrl", "th": "tha-Thai", "tr": "tur-Latn",
    "vi": "vie-Latn", "zh": "cmn-Hans", "fr": "fra-Latn", "ja": "jpn-Jpan", "ko": "kor-Hang",
    "it": "ita-Latn", "pt": "por-Latn", "nl": "nld-Latn", "pl": "pol-Latn", "he": "heb-Hebr",
    "id": "ind-Latn", "fa": "pes-Arab", "uk": "ukr-Cyrl", "sw": "swh-Latn",
}
_FROM_MTEB = {v: k for k, v in _TO_MTEB.items()}


def to_mteb(lang: str) -> str:
    """"en" -> "eng-Latn". A code already in MTEB form passes through; unknown codes raise."""
    if lang in _TO_MTEB:
        return _TO_MTEB[lang]
    if "-" in lang and len(lang.split("-")[0]) == 3:
        return lang
    raise KeyError(
        f"unknown language code {lang!r}: use a two-letter code from {sorted(_TO_MTEB)} "
        "or an MTEB code such as 'eng-Latn'"
    )


def from_mteb(code: str) -> str:
    """"eng-Latn" -> "en"; codes without a two-letter form are returned unchanged."""
    return _FROM_MTEB.get(code, code)

"""Two-letter codes (as the data files use) to MTEB's ISO 639-3 + script codes; users' spellings to codes.

mteb wants `eval_langs` as "<ISO 639-3>-<ISO 15924>" (e.g. "eng-Latn"); our data files and
users speak ISO 639-1 ("en"). Chinese is Mandarin in simplified script ("cmn-Hans", which is
what the data hold), Arabic is Modern Standard Arabic ("arb").
"""

from __future__ import annotations

_TO_MTEB = {
    "en": "eng-Latn", "ar": "arb-Arab", "de": "deu-Latn", "el": "ell-Grek", "es": "spa-Latn",
    "hi": "hin-Deva", "ro": "ron-Latn", "ru": "rus-Cyrl", "th": "tha-Thai", "tr": "tur-Latn",
    "vi": "vie-Latn", "zh": "cmn-Hans", "fr": "fra-Latn", "ja": "jpn-Jpan", "ko": "kor-Hang",
    "it": "ita-Latn", "pt": "por-Latn", "nl": "nld-Latn", "pl": "pol-Latn", "he": "heb-Hebr",
    "id": "ind-Latn", "fa": "pes-Arab", "uk": "ukr-Cyrl", "sw": "swh-Latn",
    # beyond the shipped data, for custom word lists
    "bn": "ben-Beng", "cs": "ces-Latn", "da": "dan-Latn", "fi": "fin-Latn", "hu": "hun-Latn",
    "sv": "swe-Latn", "ta": "tam-Taml", "ur": "urd-Arab", "bg": "bul-Cyrl", "hr": "hrv-Latn",
    "sk": "slk-Latn", "ca": "cat-Latn", "ms": "zsm-Latn", "no": "nob-Latn",
}
_FROM_MTEB = {v: k for k, v in _TO_MTEB.items()}

# English names and Semanscope's column headers ("english", "chinese", "enu", "chn", ...),
# so Semanscope's CSV word lists load as they are.
_ALIASES = {
    "english": "en", "enu": "en", "german": "de", "spanish": "es", "french": "fr",
    "chinese": "zh", "chn": "zh", "zh-cn": "zh", "zh-hans": "zh", "arabic": "ar",
    "russian": "ru", "japanese": "ja", "korean": "ko", "hindi": "hi", "thai": "th",
    "turkish": "tr", "vietnamese": "vi", "greek": "el", "romanian": "ro", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "polish": "pl", "hebrew": "he", "indonesian": "id",
    "persian": "fa", "farsi": "fa", "ukrainian": "uk", "swahili": "sw",
}


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


def normalise(name: str) -> str | None:
    """A column header or code as users write it -> the code we use; None if not a language.

    Accepts "en", "EN", "eng-Latn" (-> "en"), "English", Semanscope's "enu"/"chn"; an MTEB
    code without a two-letter form ("yue-Hant") is kept as it is.
    """
    key = name.strip()
    low = key.lower()
    if low in _TO_MTEB:
        return low
    if low in _ALIASES:
        return _ALIASES[low]
    if key in _FROM_MTEB:
        return _FROM_MTEB[key]
    parts = key.split("-")
    if len(parts) == 2 and len(parts[0]) == 3 and parts[0].islower() and len(parts[1]) == 4 and parts[1][0].isupper():
        return key
    return None

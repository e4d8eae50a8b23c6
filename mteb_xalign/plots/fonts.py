"""Which installed font draws a word, and whether matplotlib can lay its script out.

A word is drawn in the first installed family that has a glyph for every character, tried
in this order: the families made for the word's script (Noto first; for Han characters the
regional cut that matches the word's language), then DejaVu Sans, then any installed family.
Coverage is read from each font file's character map (fontTools), so a font is never chosen
because its name sounds right, and matplotlib's bundled DejaVu subset is not mistaken for the
system's fonts.

Arabic, Persian, Hebrew, Hindi and Thai need shaping (joined letters, right-to-left order,
vowel signs placed around consonants). matplotlib >= 3.11 shapes text itself (libraqm): the
word is passed unchanged. An older matplotlib would draw such words as disconnected
letters in the wrong order, so they are labelled with their English gloss instead.
"""

from __future__ import annotations

import unicodedata
from functools import cache

#: Scripts whose words are unreadable without a shaping engine.
COMPLEX_SCRIPTS = frozenset({
    "ARABIC", "HEBREW", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU",
    "KANNADA", "MALAYALAM", "SINHALA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN", "SYRIAC",
})
_HAN = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC")
_CJK_BY_LANGUAGE = {
    "ja": ("Noto Sans CJK JP",), "ko": ("Noto Sans CJK KR",), "zh": ("Noto Sans CJK SC",),
}
_CJK_ANY = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Noto Sans CJK TC",
            "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback")
_FOR_SCRIPT = {
    "ARABIC": ("Noto Sans Arabic", "Noto Naskh Arabic", "Noto Kufi Arabic"),
    "HEBREW": ("Noto Sans Hebrew",),
    "DEVANAGARI": ("Noto Sans Devanagari", "Lohit Devanagari", "Noto Serif Devanagari"),
    "THAI": ("Noto Sans Thai", "Noto Sans Thai Looped", "Noto Serif Thai", "Loma", "TlwgTypist"),
    "GREEK": ("DejaVu Sans", "Noto Sans"),
    "CYRILLIC": ("DejaVu Sans", "Noto Sans"),
    "LATIN": ("DejaVu Sans", "Noto Sans"),
}
#: The Debian package that has fonts for a script (named in the hint when none is installed).
_DEBIAN_PACKAGE = {script: "fonts-noto-cjk" for script in _HAN}
DEFAULT_PACKAGE = "fonts-noto-core"


def script_of(ch: str) -> str:
    """Unicode script of one character, from its name ("ARABIC LETTER ALEF" -> "ARABIC")."""
    name = unicodedata.name(ch, "")
    first = name.split(" ")[0] if name else "UNKNOWN"
    return "CJK" if first in _HAN else first


def scripts_of(text: str) -> tuple[str, ...]:
    """The scripts of a text's letters, in order of first use (digits, spaces, marks of no script skipped)."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch.isspace() or (unicodedata.category(ch)[0] in "NPSZ" and ord(ch) < 0x3000):
            continue
        script = script_of(ch)
        if script != "COMBINING":  # accents of Latin/Greek/Cyrillic letters
            seen[script] = None
    return tuple(seen)


def native_shaping() -> bool:
    """True when matplotlib lays out complex scripts itself (libraqm, matplotlib >= 3.11)."""
    from matplotlib.ft2font import FT2Font  # deferred: matplotlib is slow to import

    return hasattr(FT2Font, "_layout")


@cache
def _families() -> dict[str, str]:
    """Installed family name -> one of its font files (regular face first)."""
    from matplotlib import font_manager  # deferred: matplotlib is slow to import

    # Fonts installed after matplotlib built its font cache are not in it: add them now.
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # noqa: BLE001 -- an unreadable font file is simply not used
                pass
    entries = sorted(font_manager.fontManager.ttflist,
                     key=lambda e: (e.style != "normal", e.weight not in (400, "normal", "regular"), e.fname))
    out: dict[str, str] = {}
    for entry in entries:
        if "mpl-data" in entry.fname and entry.name != "DejaVu Sans":
            continue  # matplotlib's bundled STIX/cm fonts: maths only
        out.setdefault(entry.name, entry.fname)
    return out


@cache
def _coverage(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # fontTools may be missing (an extra)

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        return frozenset(font.getBestCmap() or {})
    except Exception:  # noqa: BLE001 -- unreadable: covers nothing
        return frozenset()


def _covers(family: str, text: str) -> bool:
    path = _families().get(family)
    if path is None:
        return False
    cmap = _coverage(path)
    return all(ch.isspace() or ord(ch) in cmap for ch in text)


def _candidates(scripts: tuple[str, ...], language: str | None) -> list[str]:
    names: list[str] = []
    for script in scripts:
        if script == "CJK":
            names += [*_CJK_BY_LANGUAGE.get(language or "", ()), *_CJK_ANY]
        names += list(_FOR_SCRIPT.get(script, ()))
    names.append("DejaVu Sans")
    return list(dict.fromkeys(names))


@cache
def font_for(text: str, language: str | None = None) -> str | None:
    """The installed family to draw `text` in (see the module doc), or None when none covers it."""
    for family in _candidates(scripts_of(text), language):
        if _covers(family, text):
            return family
    for family in sorted(_families()):  # anything else installed, by name for a stable choice
        if _covers(family, text):
            return family
    return None


def can_draw(text: str, language: str | None = None) -> bool:
    """True when `text` can be drawn as it is: a font covers it and its script gets laid out."""
    if font_for(text, language) is None:
        return False
    return native_shaping() or not (set(scripts_of(text)) & COMPLEX_SCRIPTS)


def label_for(word: str, gloss: str, language: str) -> tuple[str, str | None]:
    """(text, family) of a word's label: the word itself, or "gloss [lang]" when it cannot be drawn."""
    if can_draw(word, language):
        return word, font_for(word, language)
    short = gloss.split("(")[0].strip() or gloss  # "you (singular)" -> "you"
    text = f"{short} [{language}]"
    return text, font_for(text)


def install_hint(words_by_language: dict[str, list[str]]) -> str | None:
    """One line naming the languages drawn as glosses, why, and what to install; None if all draw."""
    missing_font: dict[str, str] = {}
    unshaped: list[str] = []
    for language, words in words_by_language.items():
        for word in words:
            if font_for(word, language) is None:
                scripts = [s for s in scripts_of(word) if s not in ("LATIN", "UNKNOWN")] or ["LATIN"]
                missing_font[language] = _DEBIAN_PACKAGE.get(scripts[0], DEFAULT_PACKAGE)
                break
            if not can_draw(word, language):
                unshaped.append(language)
                break
    parts = []
    if missing_font:
        packages = sorted(set(missing_font.values()))
        parts.append(f"no installed font has the letters of {', '.join(sorted(missing_font))} "
                     f"(Debian: apt-get install {' '.join(packages)})")
    if unshaped:
        parts.append(f"matplotlib < 3.11 cannot shape {', '.join(sorted(unshaped))} (pip install 'matplotlib>=3.11')")
    if not parts:
        return None
    return "; ".join(parts) + ": those words are labelled 'gloss [lang]'"

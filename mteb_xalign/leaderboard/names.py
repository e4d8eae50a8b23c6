"""Model names and revisions a reader can trust: no hidden characters, no look-alikes.

- Refused: bidi controls (U+202E turns 'abc' into 'cba' on screen), invisible and control
  characters, non-space whitespace, unassigned or private-use code points.
- Flagged: a name whose Unicode TR39 skeleton equals another name's (Cyrillic 'а' for Latin
  'a', 'rn' for 'm', '1' for 'l'). Skeletons come from Unicode's confusables.txt as shipped
  by the `confusable_homoglyphs` package; its table lists each (source, prototype) pair in
  both directions, so the prototype of a character is recovered as TR39 defines it: a
  multi-character partner when there is one (sources are single code points), otherwise
  one fixed member of the character's class of single-character look-alikes (ASCII first).
"""

from __future__ import annotations

import unicodedata
from functools import cache

#: Not in category Cf/Cc but invisible all the same (TR44 Default_Ignorable_Code_Point).
_IGNORABLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F, 0x3164, 0xFFA0,
              *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
_REFUSED_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible formatting character (bidi control, "
                       "zero-width space, ...)", "Co": "a private-use character", "Cs": "a lone surrogate",
                       "Cn": "an unassigned code point", "Zl": "a line separator", "Zp": "a paragraph separator"}
_MARKS = "\u200e\u200f"  # confusables.txt shows RTL prototypes wrapped in these; they are not part of them


def hidden_characters(text: str) -> list[str]:
    """One phrase per refused character in `text`, e.g. "U+202E RIGHT-TO-LEFT OVERRIDE at 4 (...)"."""
    found = []
    for index, char in enumerate(text):
        why = _why_refused(char)
        if why:
            name = unicodedata.name(char, "unnamed")
            found.append(f"U+{ord(char):04X} {name} at position {index} ({why})")
    return found


def _why_refused(char: str) -> str | None:
    category = unicodedata.category(char)
    if category in _REFUSED_CATEGORIES:
        return _REFUSED_CATEGORIES[category]
    if ord(char) in _IGNORABLE:
        return "an invisible character"
    if category == "Zs" and char != " ":
        return "whitespace other than a plain space"
    return None


@cache
def _prototypes() -> dict[str, str]:
    """{character: its TR39 prototype} for every character confusables.txt lists."""
    from confusable_homoglyphs.confusables import confusables_data  # deferred: confusable_homoglyphs is slow to import

    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    multi: dict[str, str] = {}
    for char, partners in confusables_data.items():
        char = char.strip(_MARKS) or char
        if len(char) != 1:
            continue
        for partner in partners:
            other = partner["c"].strip(_MARKS) or partner["c"]
            if len(other) == 1:
                a, b = find(char), find(other)
                if a != b:
                    first, second = sorted((a, b), key=_representative_order)
                    parent[second] = first
            else:
                multi[char] = other
    table = {c: find(c) for c in list(parent)}
    table.update(multi)
    return table


def _representative_order(char: str) -> tuple:
    """Which member stands for a class: an ASCII letter, else ASCII, else the lowest code point
    (TR39's prototypes are these: 'O' for '0', 'l' for 'I' and '1')."""
    return (not (char.isascii() and char.isalpha()), not char.isascii(), ord(char))


def skeleton(text: str) -> str:
    """TR39 skeleton: NFD, each character to its prototype, NFD again."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(c, c) for c in decomposed))


@cache  # a board compares every row with every registered model name (about a thousand)
def lookalike_key(name: str) -> str:
    """What two names share when a reader cannot tell them apart (case folded, then TR39 skeleton)."""
    return skeleton(unicodedata.normalize("NFKC", name).casefold())


def lookalikes(name: str, others) -> list[str]:
    """The names in `others` that differ from `name` but look like it."""
    key = lookalike_key(name)
    return sorted({other for other in others if other != name and lookalike_key(other) == key})


def safe_path_part(text: str) -> bool:
    """Usable as one folder name: no separators, not hidden, not '.'/'..', no control chars."""
    return bool(text) and "/" not in text and "\\" not in text and not text.startswith(".") \
        and all(ord(ch) >= 32 for ch in text)

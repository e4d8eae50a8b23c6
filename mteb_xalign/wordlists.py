"""Multilingual word lists for Semantic Affinity: one concept, its words in each language.

Two layouts are read:
- JSON Lines in the Swadesh layout: one object per line,
  `{"id": "...", "words": {"en": ["rope"], "de": ["Leine", "Seil"]}}` (other fields ignored;
  `gloss_en` is kept as the concept's label when present);
- Semanscope's CSV: one column per language (header "en"/"eng-Latn"/"english"/"enu"), one
  concept per row, variants separated by "|", lines starting with "#" are comments, empty
  cells mean the language lacks the concept. Annotation columns Semanscope uses ("human",
  "domain", "type", "note") are ignored.

Relational Affinity sets (Semanscope's `-RA.csv`: `relation_id,category,word1_en,word2_en,...`)
are read by `read_relations`.

Bad input raises `DataError` naming the file and line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign import languages as langcodes
from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import decode_line, open_data_file, read_jsonl
from mteb_xalign.text_rules import check_text, is_empty_text

_IGNORED_COLUMNS = {"human", "domain", "type", "note", "notes", "id", "gloss", "comment"}


@dataclass(frozen=True)
class Concept:
    id: str
    gloss: str
    #: language -> its variants (non-empty strings, no duplicates, in the file's order)
    words: dict[str, list[str]]


@dataclass(frozen=True)
class WordList:
    path: Path
    languages: list[str]
    concepts: list[Concept]

    def pivot(self) -> str:
        """The language every pair subset includes: English if present, else the first."""
        return "en" if "en" in self.languages else self.languages[0]

    def unique_words(self, languages: list[str] | None = None) -> list[str]:
        """Every distinct word string of the given languages, in first-seen order."""
        wanted = set(languages or self.languages)
        seen: dict[str, None] = {}
        for concept in self.concepts:
            for lang, variants in concept.words.items():
                if lang in wanted:
                    seen.update(dict.fromkeys(variants))
        return list(seen)


def read_wordlist(path: str | Path) -> WordList:
    """Read a word list, choosing the layout by extension (.csv/.tsv = Semanscope CSV, else JSONL)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise DataError("word list not found", path=path)
    if path.suffix.lower() in {".csv", ".tsv"}:
        concepts = _read_csv(path)
    else:
        concepts = _read_jsonl(path)
    return _finish(path, concepts)


def _clean(variants: list[str], path: Path, line: int) -> list[str]:
    """The non-empty variants, stripped, each once; an empty one (invisible characters included) is no word."""
    kept = [v.strip() for v in variants if not is_empty_text(v)]
    return list(dict.fromkeys(check_text(v, f"word {v[:30]!r}", path=path, line=line) for v in kept))


def _language(name: str, path: Path, line: int) -> str:
    lang = langcodes.normalise(name)
    if lang is None:
        raise DataError(
            f"unknown language {name!r}: use a two-letter code (en, zh, ...), an MTEB code "
            "such as 'eng-Latn', or an English language name",
            path=path, line=line,
        )
    return lang


def _read_jsonl(path: Path) -> list[tuple[int, Concept]]:
    out: list[tuple[int, Concept]] = []
    for number, obj in read_jsonl(path):
        words = obj.get("words")
        if not isinstance(words, dict):
            raise DataError('"words" must be an object mapping languages to lists of words', path=path, line=number)
        clean: dict[str, list[str]] = {}
        for name, variants in words.items():
            if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
                raise DataError(f'"words"["{name}"] must be a list of strings', path=path, line=number)
            lang = _language(name, path, number)
            if lang in clean:
                raise DataError(f"language {name!r} given twice", path=path, line=number)
            clean[lang] = _clean(variants, path, number)
        concept_id = str(obj.get("id", f"line{number}"))
        gloss = obj.get("gloss_en") or obj.get("gloss")
        if not isinstance(gloss, str) or not gloss:
            gloss = (clean.get("en") or next((v for v in clean.values() if v), [concept_id]))[0]
        out.append((number, Concept(concept_id, gloss, clean)))
    return out


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every line that is not blank or a "#" comment; the header first."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open_data_file(path) as handle:
        raw_lines = handle.read().splitlines(keepends=True)
    lines = [(n, decode_line(raw, path, n)) for n, raw in enumerate(raw_lines, start=1)]
    if lines:
        lines[0] = (1, lines[0][1].removeprefix("\ufeff"))  # a UTF-8 byte-order mark (Excel writes one)
    # "#" comment lines and blank lines go before the CSV parser sees them; numbers are kept.
    content = [(n, line) for n, line in lines if not is_empty_text(line) and not line.lstrip().startswith("#")]
    if not content:
        raise DataError("no header line and no data", path=path)
    rows = list(csv.reader([line for _, line in content], delimiter=delimiter))
    if len(rows) != len(content):
        raise DataError("a quoted cell spans several lines, which this format does not allow", path=path)
    return [(n, row) for (n, _), row in zip(content, rows)]


def _read_csv(path: Path) -> list[tuple[int, Concept]]:
    numbered = _csv_rows(path)
    rows = [row for _, row in numbered]
    header_line = numbered[0][0]
    columns: list[tuple[int, str]] = []
    for index, name in enumerate(rows[0]):
        if not name.strip() or name.strip().lower() in _IGNORED_COLUMNS:
            continue
        columns.append((index, _language(name, path, header_line)))
    seen = [lang for _, lang in columns]
    duplicates = sorted({lang for lang in seen if seen.count(lang) > 1})
    if duplicates:
        raise DataError(f"language column(s) {duplicates} given twice", path=path, line=header_line)
    out: list[tuple[int, Concept]] = []
    for number, row in numbered[1:]:
        if len(row) > len(rows[0]):
            raise DataError(f"{len(row)} cells but the header has {len(rows[0])}", path=path, line=number)
        words = {lang: _clean(row[i].split("|"), path, number) if i < len(row) else [] for i, lang in columns}
        first = words.get("en") or next((v for v in words.values() if v), None)
        if first is None:
            continue  # a row with no word at all
        out.append((number, Concept(f"line{number}", first[0], words)))
    return out


def _finish(path: Path, numbered: list[tuple[int, Concept]]) -> WordList:
    if not numbered:
        raise DataError("no concepts", path=path)
    ids: dict[str, int] = {}
    for number, concept in numbered:
        if concept.id in ids:
            raise DataError(f"concept id {concept.id!r} already used on line {ids[concept.id]}", path=path, line=number)
        ids[concept.id] = number
    order: dict[str, None] = {}
    for _, concept in numbered:
        order.update(dict.fromkeys(lang for lang, v in concept.words.items() if v))
    languages = list(order)
    if len(languages) < 2:
        raise DataError(f"need words in at least two languages, found {languages or 'none'}", path=path)
    return WordList(path, languages, [c for _, c in numbered])


# -- Relational Affinity sets -------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    id: str
    category: str
    #: language -> (word1, word2)
    words: dict[str, tuple[str, str]]
    line: int


@dataclass(frozen=True)
class RelationList:
    path: Path
    languages: list[str]
    relations: list[Relation]


def read_relations(path: str | Path, languages: list[str] | None = None) -> RelationList:
    """Read a Semanscope RA file: `relation_id,category,word1_en,word2_en,word1_zh,word2_zh,...`.

    Every relation must give both words in every language read (`languages`, default: every
    `word1_XX`/`word2_XX` pair of the header): a relation missing a word in one language would
    otherwise be scored in the others only. A missing column or an empty cell is a DataError
    naming the file and line. Other columns (relation_type, verified, notes) are ignored.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("relation file not found", path=path)
    numbered = _csv_rows(path)
    header_line, header = numbered[0]
    names = [h.strip() for h in header]
    index = {name: i for i, name in enumerate(names)}
    for required in ("relation_id", "category"):
        if required not in index:
            raise DataError(f"missing column {required!r} (header: {','.join(names)})", path=path, line=header_line)
    found: dict[str, str] = {}
    for name in names:
        for side in ("word1_", "word2_"):
            if name.startswith(side):
                found.setdefault(_language(name.removeprefix(side), path, header_line), name.removeprefix(side))
    wanted = list(languages) if languages is not None else list(found)
    columns: dict[str, tuple[int, int]] = {}
    for lang in wanted:
        code = found.get(lang, lang)
        pair = [f"word1_{code}", f"word2_{code}"]
        missing = [c for c in pair if c not in index]
        if missing:
            raise DataError(f"missing column(s) {missing} for language {lang!r}", path=path, line=header_line)
        columns[lang] = (index[pair[0]], index[pair[1]])
    if len(columns) < 2:
        raise DataError(f"need word1_/word2_ columns for at least two languages, found {list(columns)}",
                        path=path, line=header_line)
    relations: list[Relation] = []
    seen: dict[str, int] = {}
    for number, row in numbered[1:]:
        if len(row) > len(names):
            raise DataError(f"{len(row)} cells but the header has {len(names)}", path=path, line=number)
        cell = lambda i: row[i].strip() if i < len(row) else ""  # noqa: E731
        rel_id = cell(index["relation_id"]) or f"line{number}"
        if rel_id in seen:
            raise DataError(f"relation id {rel_id!r} already used on line {seen[rel_id]}", path=path, line=number)
        seen[rel_id] = number
        words: dict[str, tuple[str, str]] = {}
        for lang, (i1, i2) in columns.items():
            pair = (cell(i1), cell(i2))
            for column, word in zip((names[i1], names[i2]), pair):
                if not word:
                    raise DataError(f"relation {rel_id!r}: empty cell {column!r} (a relation needs both words in "
                                    "every language, or it would be scored in some languages only)",
                                    path=path, line=number)
                if "|" in word:
                    raise DataError(f"relation {rel_id!r}: {column!r} holds variants ({word!r}); a relation "
                                    "takes one word per side", path=path, line=number)
            words[lang] = pair
        relations.append(Relation(rel_id, cell(index["category"]) or "(none)", words, number))
    if not relations:
        raise DataError("no relations", path=path)
    return RelationList(path, list(columns), relations)

"""Training data for alignment repairs: X-English pairs or the paper's triples, read and checked.

A folder holds one file per target language X:
  `<X>-en.jsonl`          pairs:   {"text": X sentence, "en": its English translation}
  `<X>-en.triples.jsonl`  triples: {"query": English query, "en": English document,
                                    "text": the X document}, optionally "query_x": the query in X
                                    (needed by hybrid batch sampling's monolingual pairs).
Any other field (e.g. "id") is ignored. How pairs stand in for the paper's triples is said in
`Example`: a pair's English sentence is both the English query and the English document.

Every problem is a DataError naming the file and line; nothing is fitted from a half-read set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign.errors import DataError

PIVOT = "en"
BUNDLED = "tatoeba"


@dataclass(frozen=True)
class Example:
    """One training item in the paper's triple form (English query, English doc, target doc).

    From a pair (X sentence, English sentence): `query` is None and the English sentence plays
    both the English query and the English document (`anchor` returns it). So on pairs the
    query-document InfoNCE and the document-document InfoNCE baseline are the same loss.
    """

    lang: str
    text: str  # the target-language document
    en: str  # the English document
    query: str | None = None  # the English query (triples only)
    query_x: str | None = None  # the query in the target language (triples, optional)

    @property
    def anchor(self) -> str:
        """The English query: the triple's query, or the English side of a pair."""
        return self.query if self.query is not None else self.en


@dataclass(frozen=True)
class TrainingSet:
    name: str  # "tatoeba" for the bundled set, else the folder as given
    examples: tuple[Example, ...]
    digest: str  # sha256 of the examples' content, in reading order
    kind: str  # "pairs" or "triples"

    @property
    def languages(self) -> list[str]:
        return sorted({ex.lang for ex in self.examples})

    def by_language(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for ex in self.examples:
            out.setdefault(ex.lang, []).append(ex)
        return out


def bundled_folder() -> Path:
    return Path(__file__).parent / "data" / "tatoeba"


def load_training_set(source: str | Path = BUNDLED, languages: list[str] | None = None) -> TrainingSet:
    """`source`: "tatoeba" (the bundled pairs) or a folder as described above."""
    if str(source) == BUNDLED:
        folder, name = bundled_folder(), BUNDLED
    else:
        folder, name = Path(source), str(source)
        if not folder.is_dir():
            raise DataError("no such training-data folder (give a folder of <lang>-en.jsonl files, or 'tatoeba')",
                            path=folder)
    files = sorted(folder.glob("*-en.jsonl")) + sorted(folder.glob("*-en.triples.jsonl"))
    if not files:
        raise DataError("no <lang>-en.jsonl (pairs) or <lang>-en.triples.jsonl (triples) files in this folder",
                        path=folder)
    kinds = {"triples" if f.name.endswith(".triples.jsonl") else "pairs" for f in files}
    if len(kinds) > 1:
        raise DataError("mixes pair files and triple files; use one kind per folder", path=folder)
    kind = kinds.pop()
    wanted = set(languages) if languages else None
    examples: list[Example] = []
    seen: set[str] = set()
    for path in files:
        lang = path.name.split("-en.")[0]
        if lang == PIVOT:
            raise DataError("the pivot language pairs with itself", path=path)
        if wanted is not None and lang not in wanted:
            continue
        seen.add(lang)
        examples.extend(_read_file(path, lang, kind))
    if wanted is not None and wanted - seen - {PIVOT}:
        raise DataError(f"no training data for language(s) {sorted(wanted - seen - {PIVOT})}; "
                        f"it has {sorted(f.name.split('-en.')[0] for f in files)}", path=folder)
    return TrainingSet(name=name, examples=tuple(examples), digest=_digest(examples), kind=kind)


def _read_file(path: Path, lang: str, kind: str) -> list[Example]:
    from mteb_xalign.jsonl import read_jsonl
    from mteb_xalign.text_rules import check_text, is_empty_text

    required = ("text", "en") if kind == "pairs" else ("query", "en", "text")
    out = []
    # The core's reader: file:line for bad JSON, invalid UTF-8 (with the byte), lone surrogates;
    # the core's rule of an empty or too long text.
    for line_no, row in read_jsonl(path, {key: str for key in required}):
        for key in required:
            check_text(row[key], f"the {key!r} side", path=path, line=line_no)
        query_x = row.get("query_x")
        if query_x is not None and (not isinstance(query_x, str) or is_empty_text(query_x)):
            raise DataError("'query_x' must be a non-empty string when present", path=path, line=line_no)
        if query_x is not None:
            check_text(query_x, "'query_x'", path=path, line=line_no)
        out.append(Example(lang=lang, text=row["text"].strip(), en=row["en"].strip(),
                           query=row["query"].strip() if kind == "triples" else None,
                           query_x=query_x.strip() if query_x else None))
    if not out:
        raise DataError("no examples in this file", path=path)
    return out


def _digest(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        for part in (ex.lang, ex.text, ex.en, ex.query or "", ex.query_x or ""):
            encoded = part.encode("utf-8")
            h.update(len(encoded).to_bytes(8, "little"))
            h.update(encoded)
    return h.hexdigest()

"""XQuAD cross-fitting (`--folds 2`): fit on one half of the paragraphs, evaluate on the other, swap.

The split is by Wikipedia article (XQuAD's `title`), so no article has paragraphs on both sides:
paragraphs of one article share names and topics, which would leak across a paragraph-level split.
A fold's training set is built from its training articles' paragraphs and questions only (the
paper's triples: English question, English paragraph, target-language paragraph, and the question
in the target language for hybrid sampling); its evaluation folder holds only the other articles'
paragraphs and questions, written in the XQuAD layout with a card that says which fold it is.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from xalign_align.pairs import PIVOT, Example, TrainingSet, _digest


@dataclass(frozen=True)
class Fold:
    index: int  # 1-based
    of: int
    train_contexts: frozenset[str]
    eval_contexts: frozenset[str]

    @property
    def task_name(self) -> str:
        return f"MultiRefCLIR-XQuAD-fold{self.index}of{self.of}"


def _read(folder: Path, lang: str, kind: str) -> list[dict]:
    with (folder / f"{lang}.{kind}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def xquad_folder() -> Path:
    from mteb_xalign.tasks import DATASETS

    return DATASETS / "xquad"


def languages_of(folder: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in folder.glob("*.contexts.jsonl"))


def make_folds(folder: Path, n_folds: int = 2, seed: int = 0) -> list[Fold]:
    """Articles shuffled with `seed` and dealt into `n_folds` groups; fold k evaluates on group k."""
    if n_folds < 2:
        raise ValueError("cross-fitting needs at least 2 folds")
    contexts = _read(folder, PIVOT, "contexts")
    by_title: dict[str, list[str]] = {}
    for row in contexts:
        by_title.setdefault(row.get("title") or row["id"], []).append(row["id"])
    titles = sorted(by_title)
    random.Random(seed).shuffle(titles)
    groups = [frozenset(cid for title in titles[k::n_folds] for cid in by_title[title]) for k in range(n_folds)]
    every = frozenset(row["id"] for row in contexts)
    return [Fold(k + 1, n_folds, every - groups[k], groups[k]) for k in range(n_folds)]


def training_set(folder: Path, fold: Fold, languages: list[str] | None = None) -> TrainingSet:
    """The fold's triples, read only from its training paragraphs and their questions."""
    langs = [lang for lang in languages_of(folder) if lang != PIVOT and (languages is None or lang in languages)]
    en_ctx = {r["id"]: r["text"] for r in _read(folder, PIVOT, "contexts") if r["id"] in fold.train_contexts}
    en_q = [r for r in _read(folder, PIVOT, "questions") if r["context_id"] in fold.train_contexts]
    examples = []
    for lang in langs:
        ctx = {r["id"]: r["text"] for r in _read(folder, lang, "contexts") if r["id"] in fold.train_contexts}
        q_x = {r["id"]: r["text"] for r in _read(folder, lang, "questions") if r["context_id"] in fold.train_contexts}
        for q in en_q:
            if q["context_id"] in ctx:
                examples.append(Example(lang=lang, text=ctx[q["context_id"]], en=en_ctx[q["context_id"]],
                                        query=q["text"], query_x=q_x.get(q["id"])))
    name = f"xquad-fold{fold.index}of{fold.of}-train"
    return TrainingSet(name=name, examples=tuple(examples), digest=_digest(examples), kind="triples")


def write_eval_folder(folder: Path, fold: Fold, out: Path, languages: list[str] | None = None) -> Path:
    """The fold's evaluation half in the XQuAD layout, with a card naming the fold: the pivot and
    `languages` (all when None), the languages the fold's repair was built for."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in languages_of(folder):
        if languages is not None and lang != PIVOT and lang not in languages:
            continue
        written.append(lang)
        for kind, key in (("contexts", "id"), ("questions", "context_id")):
            rows = [r for r in _read(folder, lang, kind) if r[key] in fold.eval_contexts]
            (out / f"{lang}.{kind}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    card = json.loads((folder / "card.json").read_text(encoding="utf-8")) if (folder / "card.json").is_file() else {}
    card["name"] = (f"XQuAD cross-fitting fold {fold.index} of {fold.of}: the {len(fold.eval_contexts)} paragraphs "
                    f"held out from the repair's training (it was fitted on the other "
                    f"{len(fold.train_contexts)} paragraphs and their questions; split by article)")
    # Within the card's keys (tasks/card.py refuses others): the fold in words; which paragraphs are
    # the files themselves, and the artifact's own card records the split (train_paragraphs).
    card["changes"] = (f"{card['changes'].rstrip('. ')}. " if card.get("changes") else "") + (
        f"Cross-fitting fold {fold.index} of {fold.of}: only the {len(fold.eval_contexts)} paragraphs of the "
        f"articles held out from the repair's training, and their questions.")
    card.pop("revision", None)
    if isinstance(card.get("languages"), list):  # the card names the languages the folder holds
        card["languages"] = [lang for lang in card["languages"] if lang in written]
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def eval_task(eval_folder: Path, fold: Fold):
    """The MultiRefCLIR task (Multi scenario) over the fold's evaluation folder, named for the fold."""
    import mteb

    cls = type(mteb.get_task("MultiRefCLIR"))
    return cls.from_folder(eval_folder, fold.task_name)()

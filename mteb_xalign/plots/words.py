"""The word list and its vectors, taken from the SemanticAffinity task itself.

The task is looked up (bundled: `mteb.get_task`; `--data FILE`: built from the file) and its
own word list, concept rows and subsets are used, so a picture's SA is the task's SA. Words
are embedded through `embed_texts` with the task's metadata: the same cache entries as
`xalign run -t SemanticAffinity`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mteb_xalign import mteb_bridge
from mteb_xalign.errors import UserError
from mteb_xalign.languages import normalise
from mteb_xalign.model_loading import load_model
from mteb_xalign.tasks import DATASETS
from mteb_xalign.wordlists import WordList

BUNDLED_TASK = "SemanticAffinity"


def affinity_task(data: Path | None):
    """The SemanticAffinity task (bundled, or over the word list `data`), its word list loaded."""

    mteb_bridge.ensure_registered()  # mteb first: its import hook imports our task modules
    if data is None:
        import mteb  # deferred: mteb is slow to import

        task = mteb.get_task(BUNDLED_TASK)
    else:
        from mteb_xalign.tasks.word_affinity import SemanticAffinityTask  # deferred: mteb, scipy are slow to import

        if not data.exists() and (DATASETS / data).is_file():
            data = DATASETS / data  # a bundled word list by its name, e.g. semanscope/ICML-1-peterg-SA.csv

        task = SemanticAffinityTask.from_folder(data, data.stem)()
    task.load_data()
    return task


def dataset_name(task, data: Path | None) -> str:
    return "Swadesh-207" if data is None else task.words.path.name


def languages_arg(raw: list[str] | None, words: WordList) -> list[str]:
    """--languages: codes of the word list (a list option, mteb_xalign/cli_options.py); all of them when not given."""
    if not raw:
        return list(words.languages)

    out = []
    for item in raw:
        lang = normalise(item) if item.strip() else None
        if lang is None or lang not in words.languages:
            raise UserError(f"--languages: {item.strip()!r} is not a language of {words.path.name} "
                            f"({', '.join(words.languages)})")
        out.append(lang)
    if len(out) < 2:
        raise UserError("--languages: give at least two languages")
    return list(dict.fromkeys(out))


def embed_words(model_name: str, task, languages: list[str], *, device: str | None = None,
                batch_size: int | None = None) -> dict[tuple[str, str], np.ndarray]:
    """(language, word) -> its vector from `model_name`, embedded as the task embeds it (same cache
    entries; the same string in two languages is one text for a plain model, but a per-language
    adapter embeds it once per language)."""
    from mteb_xalign.encoding import embed_texts  # deferred: datasets, mteb are slow to import

    model = load_model(model_name, device)
    keys = task.words_to_embed(languages)
    kwargs = {"batch_size": batch_size} if batch_size else {}
    vectors = embed_texts(model, [word for _, word in keys], prompt_type=None, task_metadata=task.metadata,
                          encode_kwargs=kwargs, languages=[lang for lang, _ in keys])
    return dict(zip(keys, vectors))


def vectors_and_rows(task, languages: list[str], vectors: dict[tuple[str, str], np.ndarray]):
    """(matrix, concept rows) in the form the SA metrics take, from the task's own concept rows."""
    keys = task.words_to_embed(languages)
    row = {key: i for i, key in enumerate(keys)}
    return np.stack([vectors[key] for key in keys]), task.concept_rows(row, languages)


def pivot_pairs(task, languages: list[str]) -> list[tuple[str, str]]:
    """The task's pair subsets (pivot, X) whose two languages are both drawn."""
    pairs = dict.fromkeys(tuple(langs) for langs in task.subset_languages.values() if len(langs) == 2)
    return [(a, b) for a, b in pairs if a in languages and b in languages]

"""Result folders in the XAlign layout (CONTRACT), written as mteb result JSON for picture and report tests.

Every score is a chosen number, so a test knows what a picture or page must show: `value(model,
series, language)` is the one formula both the files and the tests' expectations come from.
"""

from __future__ import annotations

import json
from pathlib import Path

from mteb_xalign.languages import to_mteb

TARGETS = ("ar", "de", "el", "hi", "zh")
SA_TARGETS = ("ar", "de", "el", "hi", "zh", "fa", "ja")
CHANCE = 1 - 1 / 240  # a random model: 239 irrelevant paragraphs of the other language, 1 gold


def value(model: int, series: str, language: str) -> float:
    """A distinct score in (0, 1) for each (model, series, language)."""
    base = {"multi:q-X": 0.30, "multi:q-en": 0.40, "multi1:q-X": 0.25, "multi1:q-en": 0.35,
            "monosame:q-X": 0.80, "monosame:q-en": 0.90, "monocross:q-X": 0.60, "monocross:q-en": 0.65,
            "preference:q-X": 0.10, "preference:q-en": 0.05, "lareqa:q-X": 0.20, "sa": 0.55}[series]
    return round(base + 0.01 * model + 0.02 * sorted({*TARGETS, *SA_TARGETS, "en"}).index(language), 6)


def _entry(subset: str, languages: list[str], main: float, **scores) -> dict:
    return {"main_score": main, "hf_subset": subset, "languages": [to_mteb(x) for x in languages], **scores}


def _write(folder: Path, task: str, entries: list[dict]) -> None:
    data = {"dataset_revision": "test-1", "task_name": task, "mteb_version": "2.26.24", "evaluation_time": 1.0,
            "kg_co2_emissions": None, "scores": {"test": entries}}
    (folder / f"{task}.json").write_text(json.dumps(data), encoding="utf-8")


def write_model(results: Path, name: str, model: int, *, declared: list[str] | None,
                collapse_on: tuple[str, ...] = ()) -> Path:
    """One model's results under `results`; languages in `collapse_on` get Multi q-X scores of 0.05."""
    folder = results / name.replace("/", "__") / "rev1"
    folder.mkdir(parents=True)
    meta = {"name": name, "revision": "rev1", "languages": [to_mteb(x) for x in declared] if declared else declared}
    (folder / "model_meta.json").write_text(json.dumps(meta), encoding="utf-8")

    def v(series, lang):
        if series == "multi:q-X" and lang in collapse_on:
            return 0.05
        return value(model, series, lang)

    multi, multi1, same, cross = [], [], [_entry("monosame_en_q-en", ["en"], v("monosame:q-en", "en"),
                                                  max_at_r_norm=v("monosame:q-en", "en"))], []
    for x in TARGETS:
        for q, direction in ((x, "q-X"), ("en", "q-en")):
            m = v(f"multi:{direction}", x)
            multi.append(_entry(f"multi_en+{x}_q-{q}", ["en", x], m, max_at_r_norm=m,
                                language_preference=v(f"preference:{direction}", x), language_preference_chance=CHANCE))
            m1 = v(f"multi1:{direction}", x)
            multi1.append(_entry(f"multi1_en+{x}_q-{q}", ["en", x], m1, max_at_r_norm=m1))
        same.append(_entry(f"monosame_{x}_q-{x}", [x], v("monosame:q-X", x), max_at_r_norm=v("monosame:q-X", x)))
        cross.append(_entry(f"monocross_en_q-{x}", ["en", x], v("monocross:q-X", x), max_at_r_norm=v("monocross:q-X", x)))
        cross.append(_entry(f"monocross_{x}_q-en", ["en", x], v("monocross:q-en", x), max_at_r_norm=v("monocross:q-en", x)))
    _write(folder, "MultiRefCLIR", multi)
    _write(folder, "MultiRefCLIR-Multi1", multi1)
    _write(folder, "MultiRefCLIR-MonoSame", same)
    _write(folder, "MultiRefCLIR-MonoCross", cross)
    _write(folder, "LAReQA", [_entry(f"q-{x}", ["en", *TARGETS], v("lareqa:q-X", x), map=v("lareqa:q-X", x))
                              for x in TARGETS])
    _write(folder, "SemanticAffinity", [_entry(f"en-{x}", ["en", x], v("sa", x), semantic_affinity=v("sa", x),
                                               sa_sem=0.01, status="ok") for x in SA_TARGETS])
    langs = ["en", *SA_TARGETS]
    matrix = [[None if a == b else (v("sa", b) if a == "en" else v("sa", a) if b == "en" else 0.5)
               for b in langs] for a in langs]
    _write(folder, "SemanticAffinity-AllPairs", [_entry("all", langs, 0.56, semantic_affinity=0.56, status="ok",
                                                        sa_matrix={"languages": langs, "sa": matrix})])
    return folder

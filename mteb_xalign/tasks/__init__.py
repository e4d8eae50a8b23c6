"""Generic MTEB task kinds, and the bundled tasks built from the data folders."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


def read_card(folder: Path) -> dict:
    return json.loads((folder / "card.json").read_text(encoding="utf-8"))


@cache
def bundled_tasks() -> list[type]:
    """The task classes built from `mteb_xalign/datasets/` (classes are built once per process)."""
    from mteb_xalign.tasks.lareqa import make_lareqa_task
    from mteb_xalign.tasks.multi_reference import make_multiref_task
    from mteb_xalign.tasks.semantic_affinity import bundled_semantic_affinity

    xquad = DATASETS / "xquad"
    card = read_card(xquad)
    tasks = [
        make_multiref_task("MultiRefCLIR", xquad, card={**card, "revision": "xquad-7d30520"}),
        make_lareqa_task("LAReQA", DATASETS / "xquad_r", xquad, {**read_card(DATASETS / "xquad_r"), "revision": "xquad_r-9bc8c7f"}),
    ]
    tasks.append(bundled_semantic_affinity(DATASETS))
    return tasks

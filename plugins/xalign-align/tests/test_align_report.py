"""The before/after report reads MTEB result JSON; a missing result is "—", never 0."""

import json

from xalign_align.report import build, picture


def _result(root, model, revision, task, scores):
    folder = root / "results" / model.replace("/", "__") / revision
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"hf_subset": subset, **values} for subset, values in scores.items()]
    (folder / f"{task}.json").write_text(json.dumps({"task_name": task, "scores": {"test": rows}}))


def test_report_deltas_per_language_and_mean(tmp_path):
    for model, shift in (("org/base", 0.0), ("org/base+procrustes-tatoeba", 0.1)):
        scores = {}
        for i, lang in enumerate(("de", "zh")):
            scores[f"multi_en+{lang}_q-{lang}"] = {"max_at_r_norm": 0.5 + i * 0.2 + shift,
                                                   "language_preference": 0.3 - shift}
            scores[f"multi_en+{lang}_q-en"] = {"max_at_r_norm": 0.6, "language_preference": 0.1}
        _result(tmp_path, model, "r1", "MultiRefCLIR", scores)
    _result(tmp_path, "org/base", "r1", "MultiRefCLIR-MonoSame", {"monosame_de_q-de": {"max_at_r_norm": 0.9}})
    markdown, info = build("org/base", ["org/base+procrustes-tatoeba"], [tmp_path])
    # mean over de (0.5) and zh (0.7) = 60.0; aligned +10 points; English preference 30 -> 20
    assert "| Multi Max@R_norm, q-X | 2 | 60.0 | 70.0 (+10.0) |" in markdown
    assert "| English preference % (q-X) | 2 | 30.0 | 20.0 (-10.0) |" in markdown
    # Mono-Same only for the base: its own mean, and no made-up number for the aligned model
    assert "| Mono-Same Max@R_norm | 1 | 90.0 | — |" in markdown
    assert "| `+procrustes-tatoeba` | — | — | — | — |" in markdown.split("## Mono-Same Max@R_norm")[1]
    picture(info, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000

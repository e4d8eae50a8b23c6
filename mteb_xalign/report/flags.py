"""Languages a model collapses on outside the languages its ModelMeta declares.

The signal is the headline retrieval number per language: Max@R_norm of `multi_en+X_q-X`
(question in X, pool of English + X paragraphs). A language X outside the model's declared
languages is flagged as collapsed when that number is below half of the model's reference:
the median over its declared target languages, or, for a model that declares none of them
(an English-only model), its own English monolingual score (`monosame_en_q-en`). A model
that declares no languages at all gets no flags, and the page says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from mteb_xalign.languages import to_mteb
from mteb_xalign.report.results import ModelResults
from mteb_xalign.report.series import LanguageSeries

COLLAPSE_FRACTION = 0.5
SIGNAL = "multi:q-X"
#: ISO 639-3 individual languages -> the macrolanguage a ModelMeta may declare instead
#: (USE declares "zho-Hans" and "ara-Arab", our data say "cmn-Hans" and "arb-Arab").
_MACRO = {"cmn": "zho", "arb": "ara", "pes": "fas", "swh": "swa", "zsm": "msa", "nob": "nor"}


def _iso3(code: str) -> str:
    base = code.split("-")[0].lower()
    return _MACRO.get(base, base)


def declared_languages(meta: dict) -> set[str] | None:
    """ISO 639-3 (macro)language codes the model declares; None when it declares nothing."""
    codes = meta.get("languages")
    if not codes:
        return None
    return {_iso3(code) for code in codes}


def is_declared(language: str, declared: set[str]) -> bool:
    try:
        return _iso3(to_mteb(language)) in declared
    except KeyError:
        return _iso3(language) in declared


@dataclass
class CollapseReport:
    model: str
    declared: set[str] | None
    reference: float | None = None
    reference_text: str = ""
    undeclared: list[str] = field(default_factory=list)  # target languages outside the declared ones
    collapsed: list[str] = field(default_factory=list)  # ... whose signal is below the threshold

    @property
    def threshold(self) -> float | None:
        return None if self.reference is None else COLLAPSE_FRACTION * self.reference


def collapse_report(model: ModelResults, series: LanguageSeries) -> CollapseReport:
    declared = declared_languages(model.meta)
    report = CollapseReport(model.name, declared)
    values = series.values.get(SIGNAL, {})
    if declared is None or not values:
        return report
    inside = [v for lang, v in values.items() if is_declared(lang, declared)]
    report.undeclared = sorted(lang for lang in values if not is_declared(lang, declared))
    if inside:
        report.reference = statistics.median(inside)
        report.reference_text = f"median over its {len(inside)} declared target languages"
    else:
        english = series.get("monosame:q-en", series.pivot)
        if english is None:
            return report
        report.reference = english
        report.reference_text = f"its own score on {series.pivot}-only retrieval (monosame_{series.pivot}_q-{series.pivot})"
    report.collapsed = [lang for lang in report.undeclared if values[lang] < report.threshold]
    return report

"""Checks on the `scores` of one task result: splits and subsets present, each value in range,
main_score equal to the task's main score, sizes equal to the task's, and the task's own
consistency rules between keys (`consistency_problems(subset, scores)`)."""

from __future__ import annotations

import math
from pathlib import Path

from mteb_xalign.leaderboard import rules as rules_mod
from mteb_xalign.leaderboard.problems import Problem, fmt_value


def _required_keys(task, subset: str, main_key: str) -> list[str]:
    """The main score, every key a leaderboard column reads there, and `required_score_keys`."""
    keys = [main_key]
    keys += [c.key for c in getattr(task, "leaderboard_columns", ()) or () if c.selects(subset)]
    declared = getattr(task, "required_score_keys", None)
    if declared is not None:
        keys += list(declared(subset) if callable(declared) else declared)
    return list(dict.fromkeys(keys))


def check_scores(path: Path, task, scores: dict, sizes: dict, problems: list[Problem]) -> None:
    eval_splits = list(task.eval_splits)
    for split in scores:
        if split not in eval_splits:
            problems.append(Problem(path, f"split {split!r} is not an eval split of {task.metadata.name} "
                                          f"(expected {eval_splits})", key="scores"))
    for split in eval_splits:
        if split not in scores:
            problems.append(Problem(path, f"split {split!r} is missing (the task evaluates {eval_splits})",
                                    key="scores"))
            continue
        for subset, entry in _subsets_of_split(path, task, split, scores[split], problems).items():
            check_entry(path, task, subset, entry, sizes.get(subset, {}), problems)


def _subsets_of_split(path: Path, task, split: str, entries: list, problems: list[Problem]) -> dict[str, dict]:
    """{subset: scores} of one split, with duplicates, missing and unknown subsets reported."""
    required = list(task.hf_subsets)
    seen: dict[str, dict] = {}
    for entry in entries:
        subset = entry["hf_subset"]
        if subset in seen:
            problems.append(Problem(path, f"appears twice in split {split!r}", subset=subset))
        seen[subset] = entry
    missing = [s for s in required if s not in seen]
    if missing:
        shown = ", ".join(missing[:12]) + (f", ... ({len(missing)} in all)" if len(missing) > 12 else "")
        problems.append(Problem(path, f"split {split!r} lacks {len(missing)} of the task's {len(required)} "
                                      f"subsets: {shown}", key="scores"))
    for subset in seen:
        if subset not in required:
            problems.append(Problem(path, f"not a subset of {task.metadata.name} (expected one of its "
                                          f"{len(required)} hf_subsets)", subset=subset))
    return {s: e for s, e in seen.items() if s in required}


def check_entry(path: Path, task, subset: str, entry: dict, sizes: dict, problems: list[Problem]) -> None:
    main_key = task.metadata.main_score
    rules = rules_mod.rules_for(task)
    for key in _required_keys(task, subset, main_key):
        if key not in entry:
            problems.append(Problem(path, "missing (required by the task or a leaderboard column)",
                                    subset=subset, key=key))
    _check_main_score(path, subset, entry, main_key, rules, problems)
    for key, value in entry.items():
        rule = rules_mod.rule_for_key(rules, key)
        if rule is None:
            continue
        is_number = value is None or isinstance(value, (bool, int, float))
        expected = rule.check(subset, value, entry) if is_number else rule.expected()
        if expected is not None:
            problems.append(Problem(path, f"value {fmt_value(value)}, expected {expected}", subset=subset, key=key))
    _check_sizes(path, subset, entry, sizes, problems)
    _check_consistency(path, task, subset, entry, problems)


def _check_main_score(path, subset, entry, main_key, rules, problems) -> None:
    main = entry.get("main_score")
    main_rule = rules_mod.rule_for_key(rules, main_key)
    is_missing = main is None or (isinstance(main, float) and math.isnan(main))
    if main_rule is not None and is_missing and main_rule.nan_allowed(subset, entry):
        return  # a documented allowance (e.g. SA without data); the key's own rule says why
    if is_missing or isinstance(main, bool) or not isinstance(main, (int, float)) or not math.isfinite(main):
        problems.append(Problem(path, f"{fmt_value(main)} is not a finite number", subset=subset, key="main_score"))
        return
    value = entry.get(main_key)
    if isinstance(value, (int, float)) and not math.isclose(main, value, rel_tol=1e-6, abs_tol=1e-6):
        problems.append(Problem(path, f"{fmt_value(main)} differs from {main_key}={fmt_value(value)} "
                                      f"(expected main_score == {main_key}, the task's main score)",
                                subset=subset, key="main_score"))


def _check_sizes(path, subset, entry, sizes, problems) -> None:
    for key, count in sizes.items():
        if key not in entry:
            problems.append(Problem(path, f"missing (expected {count}, the task's size for this subset)",
                                    subset=subset, key=key))
        elif entry[key] != count:
            problems.append(Problem(path, f"value {fmt_value(entry[key])}, expected {count} (the task's size for "
                                          "this subset: was the run limited or the data changed?)",
                                    subset=subset, key=key))


def _check_consistency(path, task, subset, entry, problems) -> None:
    """The task's own rules between keys (e.g. Max@R_norm from Max@R and the pool size)."""
    rule = getattr(task, "consistency_problems", None)
    if not callable(rule):
        return
    try:
        found = list(rule(subset, entry))
    except Exception as exc:  # noqa: BLE001 -- a broken check must refuse, not crash, and say why
        found = [f"the task's consistency check failed on these scores: {type(exc).__name__}: {exc}"]
    problems.extend(Problem(path, f"inconsistent scores: {message}", subset=subset) for message in found)

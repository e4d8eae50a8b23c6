"""Tasks declare their own rules: score ranges, consistency between keys, leaderboard columns.

Consistency checks must pass every honest result (brute force over random pools with ties,
values rounded as on disk) and catch the fakes issue 11 reported (Max@R_norm raised to 1 with
Max@R unchanged; an SA that contradicts the SR stored beside it).
"""

from __future__ import annotations

import math

import mteb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.leaderboard import rules as generic_rules
from mteb_xalign.leaderboard.board import column_value
from mteb_xalign.leaderboard.columns import all_columns
from mteb_xalign.metrics import gold_ranks, retrieval
from mteb_xalign.tasks import consistency
from mteb_xalign.tasks.multiref_clir import MultiRefCLIR, MultiRefCLIRMulti1
from mteb_xalign.tasks.semantic_affinity import SemanticAffinity


def on_disk(scores: dict) -> dict:
    """Floats rounded to 6 decimals, as a result file may hold them."""
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in scores.items()}


@st.composite
def pools(draw):
    n_docs = draw(st.integers(2, 25))
    n_queries = draw(st.integers(1, 6))
    n_gold = draw(st.integers(1, min(3, n_docs - 1)))
    same_gold = draw(st.booleans())
    exclude_one = draw(st.booleans()) and n_docs - n_gold >= 2
    levels = draw(st.integers(1, 4))  # few distinct values: many exact ties
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    docs = rng.integers(0, levels, size=(n_docs, 3)).astype(np.float32)
    queries = rng.integers(0, levels, size=(n_queries, 3)).astype(np.float32)
    gold, exclude = [], []
    for _ in range(n_queries):
        k = n_gold if same_gold else int(rng.integers(1, n_gold + 1))
        chosen = rng.permutation(n_docs)
        gold.append(np.sort(chosen[:k]))
        exclude.append(chosen[k:k + 1] if exclude_one else chosen[:0])
    return queries, docs, gold, exclude, same_gold


@settings(max_examples=300, deadline=None)
@given(pools())
def test_honest_results_pass_every_check(pool):
    queries, docs, gold, exclude, same_gold = pool
    result = gold_ranks(queries, docs, gold, exclude=exclude, device="cpu")
    scores = on_disk(retrieval.summarize(result))
    n_gold = float(min(len(g) for g in gold))
    pool_size = float(result.pool_sizes[0])
    mean_gold = float(np.mean([len(g) for g in gold]))
    assert consistency.retrieval_problems(scores, n_gold=n_gold, pool_size=pool_size, mean_gold=mean_gold,
                                          same_pool_for_every_query=True, same_gold_count=same_gold) == []
    if same_gold:
        assert consistency.norm_of_mean_problem(scores, pool=pool_size, n_gold=n_gold) == []


def bundled_multi_scores(seed=0) -> dict:
    """Honest scores for a multi_en+X_q-X subset of the bundled task: 1190 queries, 240 + 240 paragraphs."""
    rng = np.random.default_rng(seed)
    docs = rng.standard_normal((480, 8)).astype(np.float32)
    context = rng.integers(0, 240, 1190)
    queries = docs[240 + context] + 2.0 * rng.standard_normal((1190, 8)).astype(np.float32)
    gold = [np.array([240 + c, c]) for c in context]  # the same-language (X) copy first
    is_pivot = np.arange(480) < 240
    result = gold_ranks(queries, docs, gold, masks={"pivot": is_pivot}, device="cpu")
    scores = retrieval.summarize(result)
    scores["language_preference"] = retrieval.language_preference(result, "pivot", 0)
    scores["language_preference_chance"] = retrieval.language_preference_chance(result, "pivot")
    return on_disk(scores)


def test_bundled_multiref_checks_pass_honest_and_catch_the_fake():
    task = MultiRefCLIR()
    honest = bundled_multi_scores()
    assert 1 < honest["max_at_r"] < 480
    assert task.consistency_problems("multi_en+de_q-de", honest) == []
    faked = {**honest, "max_at_r_norm": 1.0, "main_score": 1.0}
    problems = task.consistency_problems("multi_en+de_q-de", faked)
    assert any("max_at_r_norm (1) is outside" in p for p in problems), problems
    # each other fake alone is caught too
    for key, value, words in (
        ("complete_at_5", honest["complete_at_10"] + 0.1, "exceeds complete_at_10"),
        ("n_queries", 1000.0, "the task's number of questions"),
        ("mean_pool_size", 400.0, "the task's pool size"),
        ("max_at_r_norm_of_mean", 0.99, "max_at_r_norm_of_mean"),
        ("language_preference_chance", 0.5, "language_preference_chance"),
        ("max_at_r", 1.5, "below the number of gold documents"),
        ("mrr", 0.0, "below 1/max_at_r"),
        ("map", 1.0, "map is 1 (every gold document on top)"),
    ):
        found = task.consistency_problems("multi_en+de_q-de", {**honest, key: value})
        assert any(words in p for p in found), (key, found)
    assert task.consistency_problems("monosame_de_q-de", honest) == ["'monosame_de_q-de' is not a subset of MultiRefCLIR"]


def test_multi1_pool_is_one_smaller():
    rng = np.random.default_rng(1)
    docs = rng.standard_normal((480, 8)).astype(np.float32)
    context = rng.integers(0, 240, 1190)
    result = gold_ranks(docs[context] + rng.standard_normal((1190, 8)).astype(np.float32), docs,
                        [np.array([240 + c]) for c in context], exclude=[np.array([c]) for c in context], device="cpu")
    scores = on_disk(retrieval.summarize(result))
    task = MultiRefCLIRMulti1()
    assert scores["mean_pool_size"] == 479
    assert task.consistency_problems("multi1_en+de_q-en", scores) == []
    assert task.consistency_problems("multi1_en+de_q-en", {**scores, "max_at_r_norm": 1.0}) != []


def test_semantic_affinity_must_follow_from_the_ratio():
    task = SemanticAffinity()
    honest = {"semantic_affinity": 0.5, "semantic_ratio": 1.0, "vertical_spread": 0.8, "horizontal_spread": 0.8,
              "status": "ok"}
    assert task.consistency_problems("en-de", honest) == []
    problems = task.consistency_problems("en-de", {**honest, "semantic_affinity": 0.95})
    assert problems and "1/(1+semantic_ratio)" in problems[0]
    assert task.consistency_problems("en-de", {**honest, "vertical_spread": 0.4}) != []
    collapsed = {"semantic_affinity": 0.0, "semantic_ratio": None, "status": "collapsed"}
    assert task.consistency_problems("en-de", collapsed) == []


def test_task_rules_come_before_generic_ranges():
    rules = generic_rules.rules_for(MultiRefCLIR)
    rule = generic_rules.rule_for_key(rules, "max_at_r_norm")
    assert rule.check("multi_en+de_q-de", 0.7, {}) is None
    assert rule.check("multi_en+de_q-de", 70.0, {}) == "a number in [0, 1]"  # the old 0-100 scale is refused
    assert generic_rules.rule_for_key(rules, "ndcg_at_10").check("s", 1.5, {}) == "a number in [0, 1]"
    sa_rule = generic_rules.rule_for_key(generic_rules.rules_for(SemanticAffinity), "semantic_affinity")
    assert sa_rule.check("en-de", math.nan, {"status": "no_data"}) is None
    assert sa_rule.check("en-de", math.nan, {"status": "ok"}) is not None


def test_columns_are_declared_by_the_tasks():
    ids = [c.id for c in all_columns()]
    assert ids[:6] == ["multirefclir_max_at_r_norm", "multirefclir_max_at_r_norm_q_x", "english_preference",
                       "english_preference_chance", "x_preference", "x_preference_chance"]
    assert {"lareqa_map", "semantic_affinity", "multirefclir_monosame_max_at_r_norm"} <= set(ids)
    assert "MultiRefCLIR-PerQuestion" not in {c.task for c in all_columns()}
    by_id = {c.id: c for c in all_columns()}
    assert by_id["english_preference_chance"].chance_of == "english_preference"
    assert by_id["x_preference_chance"].chance_of == "x_preference"


def test_headline_is_mteb_task_score():
    """The MultiRefCLIR headline column averages every subset: mteb's own task score, x100."""
    task = mteb.get_task("MultiRefCLIR")
    rng = np.random.default_rng(2)
    subsets = {name: {"max_at_r_norm": float(v), "language_preference": 0.1}
               for name, v in zip(task.metadata.hf_subsets, rng.uniform(0, 1, 22))}
    headline = next(c for c in all_columns() if c.id == "multirefclir_max_at_r_norm")
    assert column_value(headline, subsets) == pytest.approx(100 * np.mean([s["max_at_r_norm"] for s in subsets.values()]))
    # failing one query language moves the headline; the q-X column does not see English queries
    q_x = next(c for c in all_columns() if c.id == "multirefclir_max_at_r_norm_q_x")
    failed = {**subsets, "multi_en+zh_q-en": {"max_at_r_norm": 0.0}}
    assert column_value(headline, failed) < column_value(headline, subsets)
    assert column_value(q_x, failed) == column_value(q_x, subsets)
    assert q_x.language_of("multi_en+zh_q-zh") == "zh" and q_x.language_of("multi_en+zh_q-en") is None

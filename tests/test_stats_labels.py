"""Labels derived from intervals: the SA tier says "above chance" only when the whole interval is."""

from __future__ import annotations

from mteb_xalign.leaderboard.columns import tier


def test_sa_tier_from_its_interval_against_chance():
    assert tier(0.501, 0.490, 0.512) == "not above chance"  # a random model is not "good"
    assert tier(0.453, 0.440, 0.466) == "below chance"
    assert tier(0.535, 0.520, 0.550) == "good"
    assert tier(0.629, 0.610, 0.648) == "great"
    assert tier(0.610, 0.590, 0.630) == "good"  # the tier the whole interval reaches
    assert tier(0.55) == "good" and tier(None) is None  # no interval: the point's tier

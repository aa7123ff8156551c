"""The pure scoring core: normalizers, weighting, missing data, gates, tiers, reasons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.core import apply_gates, assign_tiers, normalize, pick_reasons, score_variant
from healthscore.spec._expr import parse_expression
from healthscore.spec._resolved import (
    BandsNormalizer,
    GateSpec,
    GroupSpec,
    LinearNormalizer,
    LogZNormalizer,
    MeasureSpec,
    MissingPolicy,
    Normalizer,
    PercentileNormalizer,
    TierSpec,
    VariantSpec,
)

ZERO_TO_TEN = LinearNormalizer(0, 10)
TIERS = (
    TierSpec("green", 70, "#0f0", "green"),
    TierSpec("yellow", 40, "#ff0", "yellow"),
    TierSpec("red", 0, "#f00", "red"),
)


def measure(
    name: str,
    group: str = "g",
    weight: float = 1.0,
    missing: MissingPolicy = MissingPolicy.REWEIGHT,
    normalizer: Normalizer = ZERO_TO_TEN,
) -> MeasureSpec:
    return MeasureSpec(name, group, name, weight, missing, 50.0, normalizer, name, None)


def test_linear_either_direction_and_clipped() -> None:
    values = np.array([-5.0, 0.0, 5.0, 10.0, 20.0, np.nan])
    up = normalize(LinearNormalizer(0, 10), values, np.zeros(6, np.int64))
    down = normalize(LinearNormalizer(10, 0), values, np.zeros(6, np.int64))
    assert up[:5].tolist() == [0, 0, 50, 100, 100]
    assert down[:5].tolist() == [100, 100, 50, 0, 0]
    assert np.isnan(up[5]) and np.isnan(down[5])


def test_bands_take_the_highest_band_reached() -> None:
    bands = BandsNormalizer((0, 7, 14, 30), (100, 70, 40, 0))
    got = normalize(bands, np.array([0, 6.9, 7, 29, 30, 400]), np.zeros(6, np.int64))
    assert got.tolist() == [100, 100, 70, 40, 0, 0]


def test_percentile_is_within_peer_group_with_shared_ties() -> None:
    values = np.array([1.0, 2.0, 2.0, 3.0, 100.0, 200.0])
    peers = np.array([0, 0, 0, 0, 1, 1])
    got = normalize(PercentileNormalizer(True, True), values, peers)
    assert got.tolist() == [12.5, 50.0, 50.0, 87.5, 25.0, 75.0]
    flipped = normalize(PercentileNormalizer(False, True), values, peers)
    assert flipped.tolist() == [87.5, 50.0, 50.0, 12.5, 75.0, 25.0]


def test_log_z_centres_the_typical_account_and_tames_fat_tails() -> None:
    values = np.array([0.0, 10.0, 10.0, 10.0, 10000.0])
    got = normalize(LogZNormalizer(True, False, 2.0), values, np.zeros(5, np.int64))
    assert got[4] > 90 and got[0] < 25
    assert 35 < got[1] < 60  # log keeps the giant from flattening everyone else
    constant = normalize(LogZNormalizer(True, False, 2.0), np.full(3, 4.0), np.zeros(3, np.int64))
    assert constant.tolist() == [50.0, 50.0, 50.0]


def test_weights_are_normalized_and_score_is_fifty_plus_impacts() -> None:
    variant = VariantSpec(
        "default",
        "default",
        (
            GroupSpec("a", 3.0, "a", (measure("x", "a", 1), measure("y", "a", 3))),
            GroupSpec("b", 1.0, "b", (measure("z", "b"),)),
        ),
    )
    subs = {"a.x": np.array([100.0]), "a.y": np.array([0.0]), "b.z": np.array([100.0])}
    result = score_variant(variant, subs, 1)
    # a = 0.25*100 + 0.75*0 = 25; total = 0.75*25 + 0.25*100 = 43.75
    assert result.score[0] == pytest.approx(43.75)
    assert result.groups["a"][0] == pytest.approx(25.0)
    assert 50 + sum(i[0] for i in result.impacts.values()) == pytest.approx(43.75)
    assert result.confidence[0] == pytest.approx(1.0)


def test_missing_data_policies() -> None:
    def run(policy: MissingPolicy) -> tuple[float, float]:
        variant = VariantSpec(
            "d", "d", (GroupSpec("g", 1, "g", (measure("x"), measure("y", missing=policy))),)
        )
        result = score_variant(variant, {"g.x": np.array([80.0]), "g.y": np.array([np.nan])}, 1)
        return float(result.score[0]), float(result.confidence[0])

    assert run(MissingPolicy.REWEIGHT) == (80.0, 0.5)
    assert run(MissingPolicy.NEUTRAL) == (65.0, 0.5)
    assert run(MissingPolicy.WORST) == (40.0, 0.5)


def test_no_data_at_all_is_neutral_with_zero_confidence() -> None:
    variant = VariantSpec("d", "d", (GroupSpec("g", 1, "g", (measure("x"),)),))
    result = score_variant(variant, {"g.x": np.array([np.nan])}, 1)
    assert result.score.tolist() == [50.0]
    assert result.confidence.tolist() == [0.0]


def test_a_group_without_data_gives_its_weight_to_the_others() -> None:
    variant = VariantSpec(
        "d",
        "d",
        (
            GroupSpec("a", 1, "a", (measure("x", "a"),)),
            GroupSpec("b", 1, "b", (measure("y", "b"),)),
        ),
    )
    result = score_variant(variant, {"a.x": np.array([90.0]), "b.y": np.array([np.nan])}, 1)
    assert result.score[0] == pytest.approx(90.0)
    assert np.isnan(result.groups["b"][0])


def test_gates_cap_then_floor_and_report_their_impact() -> None:
    cap = GateSpec("pay", parse_expression("x > 1"), 40.0, None, "caps at 40")
    floor = GateSpec("vip", parse_expression("x > 1"), None, 20.0, "floor 20")
    score = np.array([80.0, 30.0, 10.0])
    fired = {"pay": np.array([True, True, False]), "vip": np.array([False, False, True])}
    outcome = apply_gates(score, [floor, cap], fired)
    assert outcome.score.tolist() == [40.0, 30.0, 20.0]
    assert outcome.impacts["pay"].tolist() == [-40.0, 0.0, 0.0]
    assert outcome.impacts["vip"].tolist() == [0.0, 0.0, 10.0]


def test_tiers_at_boundaries() -> None:
    got = assign_tiers(np.array([100, 70, 69.99, 40, 39.99, 0]), TIERS)
    assert got.tolist() == ["green", "green", "yellow", "yellow", "red", "red"]


sub_score = st.floats(min_value=0, max_value=100, allow_nan=False)
maybe_sub = st.one_of(sub_score, st.just(float("nan")))
weights = st.floats(min_value=0.01, max_value=10)
policies = st.sampled_from(list(MissingPolicy))


@st.composite
def variants(draw: st.DrawFn) -> tuple[VariantSpec, dict[str, np.ndarray]]:
    groups = []
    subs: dict[str, np.ndarray] = {}
    for g in range(draw(st.integers(1, 3))):
        measures = []
        for m in range(draw(st.integers(1, 3))):
            spec = measure(f"m{m}", f"g{g}", draw(weights), draw(policies))
            measures.append(spec)
            subs[spec.code] = np.array(draw(st.lists(maybe_sub, min_size=3, max_size=3)))
        groups.append(GroupSpec(f"g{g}", draw(weights), f"g{g}", tuple(measures)))
    return VariantSpec("d", "d", tuple(groups)), subs


@settings(max_examples=200, deadline=None)
@given(variants())
def test_score_and_confidence_stay_in_bounds(
    case: tuple[VariantSpec, dict[str, np.ndarray]],
) -> None:
    variant, subs = case
    result = score_variant(variant, subs, 3)
    assert np.all((result.score >= 0) & (result.score <= 100))
    assert not np.isnan(result.score).any()
    assert np.all((result.confidence >= 0) & (result.confidence <= 1 + 1e-9))
    total = 50 + sum(result.impacts.values())
    assert np.allclose(np.clip(total, 0, 100), result.score)


@settings(max_examples=200, deadline=None)
@given(variants(), st.data())
def test_improving_a_signal_never_lowers_the_score(
    case: tuple[VariantSpec, dict[str, np.ndarray]], data: st.DataObject
) -> None:
    variant, subs = case
    code = data.draw(st.sampled_from(sorted(subs)))
    row = data.draw(st.integers(0, 2))
    before = score_variant(variant, subs, 3).score[row]
    current = subs[code][row]
    floor = 0.0 if np.isnan(current) else current
    improved = {k: v.copy() for k, v in subs.items()}
    if np.isnan(current):
        return  # adding data is not "improving a signal"; reweighting may move either way
    improved[code][row] = data.draw(st.floats(min_value=floor, max_value=100))
    after = score_variant(variant, improved, 3).score[row]
    assert after >= before - 1e-9


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_linear_is_monotone_in_the_good_direction(
    bad: float, good: float, a: float, b: float
) -> None:
    if bad == good:
        return
    low, high = sorted((a, b))
    values = np.array([low, high]) if good > bad else np.array([high, low])
    scores = normalize(LinearNormalizer(bad, good), values, np.zeros(2, np.int64))
    assert 0 <= scores[0] <= scores[1] <= 100


def test_pick_reasons_takes_top_drags_then_top_lifts() -> None:
    impacts = np.array([[-3.0, 1.0, -5.0, 0.01], [2.0, 4.0, 3.0, -0.02], [0.0, 0.0, 0.0, 0.0]])
    picks = pick_reasons(impacts, 2, 1)
    assert picks.rows.tolist() == [0, 0, 0, 1]
    assert picks.measures.tolist() == [2, 0, 1, 1]
    assert picks.impacts.tolist() == [-5.0, -3.0, 1.0, 4.0]

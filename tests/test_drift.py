"""Drift of churn-model features against the training profile: PSI by hand, then data sets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.model._drift import (
    DriftReport,
    FeatureProfile,
    Profile,
    build_profile,
    compare_to_profile,
    population_stability_index,
)

ROWS = 5_000


def churn_score(frame: pd.DataFrame) -> np.ndarray:
    """A stand-in model: churn probability rising with `usage_drop` and `tickets`."""
    logit = np.asarray(frame["usage_drop"] + 0.5 * frame["tickets"], dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-logit))


def sample(seed: int, rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "usage_drop": rng.normal(0.0, 1.0, rows),
            "seats": rng.normal(20.0, 5.0, rows),
            "tickets": rng.normal(3.0, 2.0, rows),
        }
    )


def floats_in(value: object) -> list[float]:
    if isinstance(value, dict):
        return [x for item in value.values() for x in floats_in(item)]
    if isinstance(value, list):
        return [x for item in value for x in floats_in(item)]
    return [value] if isinstance(value, float) else []


def assert_no_nan(model: DriftReport | Profile) -> None:
    """No NaN or infinity anywhere, and the JSON reads back to an equal model."""
    assert all(math.isfinite(x) for x in floats_in(model.model_dump()))
    assert type(model).model_validate_json(model.model_dump_json()) == model


# -- PSI by hand ----------------------------------------------------------------------------


def test_psi_matches_a_hand_computation_on_two_bins() -> None:
    # Training 1, 1, 2, 2: the median 1.5 is the one edge; shares 1/2, 1/2.
    profile = build_profile(pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0]}), ["x"], bins=2)
    assert profile.features[0].edges == [1.5]
    assert profile.features[0].shares == [0.5, 0.5]
    # Now 1, 2, 2, 2: shares 1/4, 3/4. PSI = (1/4 - 1/2) ln(1/2) + (3/4 - 1/2) ln(3/2)
    # = 1/4 (ln 2 + ln 3/2) = ln(3) / 4.
    report = compare_to_profile(profile, pd.DataFrame({"x": [1.0, 2.0, 2.0, 2.0]}))
    assert report.features[0].psi == pytest.approx(math.log(3) / 4)
    assert report.features[0].status == "shifted"  # 0.275 >= 0.25
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(math.log(3) / 4)


def test_bins_are_right_closed_on_the_edges() -> None:
    # 0..9 in 5 bins: edges at the 20%, 40%, ... quantiles. A value on an edge goes below it.
    profile = build_profile(pd.DataFrame({"x": np.arange(10.0)}), ["x"], bins=5)
    edges = profile.features[0].edges
    assert edges == pytest.approx([1.8, 3.6, 5.4, 7.2])
    assert profile.features[0].shares == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.2])
    on_edge = pd.DataFrame({"x": [edges[0]] * 4})
    report = compare_to_profile(profile, on_edge)
    # Everything in bin 0: PSI = (1 - .2) ln(1/.2) + 4 (1e-4 - .2) ln(1e-4/.2).
    expected = 0.8 * math.log(5) + 4 * (1e-4 - 0.2) * math.log(1e-4 / 0.2)
    assert report.features[0].psi == pytest.approx(expected)


def test_an_empty_bin_is_floored_so_psi_stays_finite() -> None:
    psi = population_stability_index([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])
    assert math.isfinite(psi) and psi > 0
    with pytest.raises(ValueError, match="as many bins"):
        population_stability_index([1.0], [0.5, 0.5])


# -- Whole data sets ------------------------------------------------------------------------


def test_the_same_distribution_is_stable() -> None:
    train, now = sample(1), sample(2)
    profile = build_profile(train, list(train.columns), churn_score(train))
    report = compare_to_profile(profile, now, churn_score(now))
    assert report.flagged == []
    assert report.rows_train == report.rows_now == ROWS
    for drift in [*report.features, report.score]:
        assert drift is not None
        assert drift.status == "stable", drift.why
        assert drift.psi is not None and drift.psi < 0.05
    assert all(len(feature.edges) == 9 for feature in profile.features)
    assert_no_nan(report)


def test_a_shifted_data_set_flags_exactly_the_moved_features_and_the_score() -> None:
    train, now = sample(1), sample(2)
    now["usage_drop"] += 1.0  # one standard deviation
    blank = np.random.default_rng(3).choice(ROWS, size=2 * ROWS // 5, replace=False)
    now.loc[blank, "seats"] = np.nan  # 40% missing, the rest unchanged
    profile = build_profile(train, list(train.columns), churn_score(train))
    report = compare_to_profile(profile, now, churn_score(now))

    assert report.flagged == ["usage_drop", "seats", "score"]
    drifts = {drift.name: drift for drift in report.features}
    assert report.features[0].name == "usage_drop"  # worst first

    usage = drifts["usage_drop"]
    assert usage.status == "shifted" and usage.psi is not None and usage.psi >= 0.25
    assert usage.why.startswith("PSI ") and "(>= 0.25): the distribution shifted" in usage.why
    assert "missing" not in usage.why

    seats = drifts["seats"]
    assert seats.status == "moved" and seats.psi is not None and seats.psi < 0.1
    assert seats.missing_share_train == 0.0 and seats.missing_share_now == pytest.approx(0.4)
    assert "the distribution is stable; missing 0% -> 40%, a change of 40 points" in seats.why

    tickets = drifts["tickets"]
    assert tickets.status == "stable" and tickets.psi is not None and tickets.psi < 0.05

    assert report.score is not None and report.score.status != "stable"
    assert report.score.psi is not None and report.score.psi >= 0.1
    assert_no_nan(report)


def test_thresholds_are_reported_and_can_be_tightened() -> None:
    train, now = sample(1), sample(2)
    now["tickets"] += 0.2  # a tenth of a standard deviation: small
    profile = build_profile(train, ["tickets"])
    loose = compare_to_profile(profile, now)
    tight = compare_to_profile(profile, now, moved_at=0.005, shifted_at=0.5)
    assert loose.flagged == [] and tight.flagged == ["tickets"]
    assert tight.features[0].status == "moved" and "(>= 0.005)" in tight.features[0].why
    assert (tight.moved_at, tight.shifted_at, tight.missing_change_at) == (0.005, 0.5, 0.1)
    with pytest.raises(ValueError, match="moved_at <= shifted_at"):
        compare_to_profile(profile, now, moved_at=0.3, shifted_at=0.2)


# -- Edge cases -----------------------------------------------------------------------------


def test_a_constant_feature_has_one_bin_and_drifts_only_by_missing_share() -> None:
    profile = build_profile(pd.DataFrame({"plan": [3.0] * 100}), ["plan"])
    assert profile.features[0].edges == [] and profile.features[0].shares == [1.0]
    same = compare_to_profile(profile, pd.DataFrame({"plan": [3.0] * 50}))
    assert same.features[0].psi == 0.0 and same.features[0].status == "stable"
    other_value = compare_to_profile(profile, pd.DataFrame({"plan": [7.0] * 50}))
    assert other_value.features[0].psi == 0.0  # one bin holds every value
    half_blank = compare_to_profile(profile, pd.DataFrame({"plan": [3.0, np.nan] * 25}))
    assert half_blank.features[0].psi == 0.0 and half_blank.features[0].status == "moved"
    assert "missing 0% -> 50%" in half_blank.features[0].why


def test_a_feature_missing_everywhere_in_training() -> None:
    train = pd.DataFrame({"nps": [np.nan] * 10, "seats": np.arange(10.0)})
    profile = build_profile(train, ["nps", "seats"])
    nps = profile.features[0]
    assert nps.edges == [] and nps.shares == [] and nps.missing_share == 1.0
    still_blank = compare_to_profile(profile, train)
    assert still_blank.flagged == []
    assert still_blank.features[-1].name == "nps" and still_blank.features[-1].psi is None
    assert "no present values in training" in still_blank.features[-1].why
    filled = compare_to_profile(profile, train.assign(nps=np.arange(10.0)))
    assert filled.flagged == ["nps"] and filled.features[-1].status == "moved"
    assert "missing 100% -> 0%" in filled.features[-1].why
    assert_no_nan(profile)
    assert_no_nan(filled)


def test_a_feature_gone_from_the_current_data_is_shifted() -> None:
    train = sample(1, 200)
    profile = build_profile(train, list(train.columns))
    report = compare_to_profile(profile, train.drop(columns=["seats"]))
    gone = report.features[-1]
    assert (gone.name, gone.psi, gone.status) == ("seats", None, "shifted")
    assert gone.why == "missing from the current data"
    assert report.flagged == ["seats"]
    blanked = compare_to_profile(profile, train.assign(seats=np.nan))
    assert blanked.flagged == ["seats"] and blanked.features[-1].status == "shifted"
    assert blanked.features[-1].why.startswith("no present values now")


def test_an_empty_frame_says_so_without_nan() -> None:
    train = sample(1, 200)
    profile = build_profile(train, list(train.columns), churn_score(train))
    empty = train.iloc[0:0]
    report = compare_to_profile(profile, empty, churn_score(empty))
    assert report.rows_now == 0
    assert report.flagged == [*train.columns, "score"]
    for drift in [*report.features, report.score]:
        assert drift is not None and drift.psi is None and drift.missing_share_now == 0.0
        assert drift.why == "no rows in the current data: nothing to compare"
    assert_no_nan(report)
    no_columns = compare_to_profile(profile, pd.DataFrame())
    assert no_columns.features[0].why.startswith("no rows")


def test_profile_json_round_trip() -> None:
    train = sample(1, 300)
    train.loc[:29, "seats"] = np.nan
    train.loc[5, "tickets"] = np.inf  # not binnable: counted as missing
    profile = build_profile(train, list(train.columns), churn_score(train.fillna(0.0)))
    assert profile.features[1].missing_share == pytest.approx(0.1)
    assert profile.features[2].missing_share == pytest.approx(1 / 300)
    assert Profile.model_validate_json(profile.model_dump_json()) == profile
    assert_no_nan(profile)


def test_bad_inputs_are_refused_clearly() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(TypeError, match="feature 'name': numeric values expected"):
        build_profile(frame, ["name"])
    with pytest.raises(ValueError, match="score: one value per row"):
        build_profile(frame, ["x"], np.array([0.5]))
    with pytest.raises(ValueError, match="edges need 2 shares"):
        FeatureProfile(name="x", edges=[1.0], shares=[1.0], missing_share=0.0, rows=1)
    with pytest.raises(ValueError, match="finite number"):
        FeatureProfile(name="x", edges=[], shares=[1.0], missing_share=math.nan, rows=1)


# -- Properties -----------------------------------------------------------------------------

values = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)), min_size=0, max_size=60
)


@settings(derandomize=True, max_examples=50)
@given(train=values, now=values, bins=st.integers(1, 12))
def test_psi_is_never_negative_and_zero_against_its_own_profile(
    train: list[float], now: list[float], bins: int
) -> None:
    profile = build_profile(pd.DataFrame({"x": train}, dtype=float), ["x"], bins=bins)
    own = compare_to_profile(profile, pd.DataFrame({"x": train}, dtype=float)).features[0]
    if own.psi is not None:
        assert own.psi == pytest.approx(0.0, abs=1e-12) and own.status == "stable"
    other = compare_to_profile(profile, pd.DataFrame({"x": now}, dtype=float)).features[0]
    assert other.psi is None or other.psi >= 0.0
    assert_no_nan(profile)

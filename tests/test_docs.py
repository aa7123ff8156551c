"""docs/scorecard.md: every YAML example loads, and every number it quotes is right.

Each ```yaml block in the reference is preceded by an HTML comment that says how to
check it, as `key: value` parts separated by `;`:

- `complete`: a whole scorecard;
- `fragment: PATH`: merged into the page's base scorecard (the block with `id: base`) at
  PATH (`metrics`, `groups.usage.measures`, ...; `scorecard` for the top level);
- `invalid: OBJECT`: loading fails with an issue on OBJECT;
- `check: OBJECT`: loads, and the data check reports an issue on OBJECT;
- `raises: AssignmentError`: loads, and scoring the example data raises it;
- `offline`: names tables or files the example data does not have: not run;
- `id: NAME`: the block is used by name below.

Valid, online blocks are checked against the example data of the page's appendix and
scored; the tests after the generic one assert the numbers the page quotes.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from ibis.backends import BaseBackend

from healthscore import (
    AssignmentError,
    Engine,
    ResolvedScorecard,
    ScorecardError,
    load_scorecard_text,
)
from healthscore.core import normalize
from tests.conftest import duckdb_with

DOC = Path(__file__).resolve().parents[1] / "docs" / "scorecard.md"
AS_OF = dt.date(2026, 6, 1)
SCORED = ["acme", "bolt", "core"]
MARK = re.compile(r"^<!--(.*)-->$")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
KNOWN_MARKS = {"complete", "fragment", "invalid", "check", "raises", "offline", "id", "errors-of"}


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    text: str
    marks: dict[str, str] = field(default_factory=dict)
    after: str = ""  # the page's text after the block, up to the next block

    @property
    def name(self) -> str:
        return f"line{self.line}" + (f"-{self.marks['id']}" if "id" in self.marks else "")


def parse_marks(comment: str) -> dict[str, str]:
    marks = {}
    for part in comment.split(";"):
        key, _, value = part.strip().partition(":")
        marks[key.strip()] = value.strip()
    return marks


def read_blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    blocks = []
    matches = list(FENCE.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        mark = MARK.match(before)
        blocks.append(
            Block(
                line=text.count("\n", 0, match.start()) + 1,
                language=match.group(1),
                text=match.group(2),
                marks=parse_marks(mark.group(1)) if mark else {},
                after=text[match.end() : following.start() if following else None],
            )
        )
    return blocks


BLOCKS = read_blocks()
YAML_BLOCKS = [block for block in BLOCKS if block.language == "yaml"]


def block(name: str) -> Block:
    (found,) = [b for b in YAML_BLOCKS if b.marks.get("id") == name]
    return found


# ---------------------------------------------------------------- the example data


def example_frames() -> dict[str, pd.DataFrame]:
    """The data set of the page's appendix."""
    ts = pd.Timestamp
    accounts = pd.DataFrame(
        {
            "account_id": ["acme", "bolt", "core", "dune"],
            "name": ["Acme", "Bolt", "Core", "Dune"],
            "segment": ["enterprise", "smb", "smb", "smb"],
            "plan": ["scale", "starter", "starter", "starter"],
            "seats": np.array([10, 5, 4, 3], dtype="int64"),
            "arr": [120000.0, 6000.0, 9000.0, 3000.0],
            "created_at": [ts("2025-01-15"), ts("2026-05-22"), ts("2024-06-01"), ts("2026-06-05")],
            "renewal_date": [
                dt.date(2026, 7, 1),
                dt.date(2027, 5, 22),
                dt.date(2026, 12, 1),
                dt.date(2027, 6, 5),
            ],
        }
    )
    events = pd.DataFrame(
        [
            ("acme", "u1", "2026-05-30 09:00", "login", 1.0),
            ("acme", "u2", "2026-05-20 10:00", "login", 1.0),
            ("acme", "u1", "2026-05-10 08:00", "login", 1.0),
            ("acme", "u1", "2026-04-28 08:00", "login", 1.0),
            ("acme", "u2", "2026-04-20 08:00", "login", 1.0),
            ("acme", "u1", "2026-04-10 08:00", "login", 1.0),
            ("acme", "u1", "2026-04-05 08:00", "login", 1.0),
            ("acme", "u1", "2026-05-25 15:00", "feature_used", 3.0),
            ("acme", "u2", "2026-05-26 15:00", "feature_used", 5.0),
            ("acme", "u1", "2026-06-01 00:00", "login", 1.0),
            ("bolt", "u7", "2026-05-28 12:00", "login", 1.0),
            ("bolt", "u7", "2026-05-25 12:00", "login", 1.0),
            ("bolt", "u8", "2026-05-27 12:00", "integration_connected", 1.0),
            ("core", "u5", "2026-05-12 00:00", "login", 1.0),
            ("core", "u5", "2026-03-01 00:00", "login", 1.0),
        ],
        columns=["account_id", "user_id", "ts", "type", "value"],
    )
    events["ts"] = pd.to_datetime(events["ts"])
    events.insert(0, "event_id", np.arange(len(events), dtype="int64"))
    orders = pd.DataFrame(
        {
            "order_id": np.arange(4, dtype="int64"),
            "account_id": "acme",
            "ts": pd.to_datetime(["2026-03-20", "2026-03-30", "2026-04-19", "2026-05-19"]),
            "amount": [100.0, 120.0, 90.0, 110.0],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": np.arange(4, dtype="int64"),
            "account_id": ["core", "core", "core", "acme"],
            "ts": pd.to_datetime(["2026-04-01", "2026-05-01", "2026-05-05", "2026-05-01"]),
            "amount": [50.0, 50.0, 50.0, 900.0],
            "status": ["failed", "failed", "paid", "paid"],
        }
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": np.arange(2, dtype="int64"),
            "account_id": ["acme", "core"],
            "opened_at": pd.to_datetime(["2026-05-15", "2026-05-20"]),
            "closed_at": pd.to_datetime(["2026-05-17", None]),
            "priority": ["high", "urgent"],
            "csat": [4.0, np.nan],
        }
    )
    surveys = pd.DataFrame(
        {
            "survey_id": np.arange(2, dtype="int64"),
            "account_id": "acme",
            "ts": pd.to_datetime(["2026-03-01", "2026-05-01"]),
            "kind": "nps",
            "score": [9.0, 7.0],
        }
    )
    app_events = events.rename(
        columns={"account_id": "org_id", "ts": "event_time", "type": "event_name"}
    )
    return {
        "accounts": accounts,
        "events": events,
        "orders": orders,
        "invoices": invoices,
        "tickets": tickets,
        "surveys": surveys,
        "app_events": app_events,
    }


@pytest.fixture(scope="module")
def con() -> Iterator[BaseBackend]:
    connection = duckdb_with(example_frames())
    yield connection
    connection.disconnect()


# ---------------------------------------------------------------- loading blocks


#: A source, metric, measure, gate, segment or stage in a fragment replaces the base's whole.
WHOLE = frozenset({"sources", "metrics", "measures", "gates", "segments", "stages"})


def merge(into: dict[str, Any], new: dict[str, Any], parent: str = "") -> None:
    for key, value in new.items():
        if parent not in WHOLE and isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value, key)
        else:
            into[key] = copy.deepcopy(value)


def spliced(fragment: Block) -> str:
    """The base scorecard with the fragment merged in at its path."""
    card = yaml.safe_load(block("base").text)
    node = card
    target = fragment.marks["fragment"]
    if target != "scorecard":
        for key in target.split("."):
            node = node.setdefault(key, {})
    merge(node, yaml.safe_load(fragment.text), target.rsplit(".", 1)[-1])
    return yaml.safe_dump(card, sort_keys=False)


def text_of(item: Block) -> str:
    return item.text if "complete" in item.marks else spliced(item)


def load(item: Block) -> ResolvedScorecard:
    return load_scorecard_text(text_of(item), "scorecard.yaml")


def scores_of(card: ResolvedScorecard | Block, con: BaseBackend, **kwargs: Any) -> pd.DataFrame:
    resolved = load(card) if isinstance(card, Block) else card
    scores = Engine(resolved, con).score(as_of=kwargs.pop("as_of", AS_OF), **kwargs)
    return scores.set_index("account_id")


def metrics_of(item: Block, con: BaseBackend) -> pd.DataFrame:
    return Engine(load(item), con).metrics(AS_OF).set_index("account_id")


def reasons(scores: pd.DataFrame, account: str) -> list[tuple[str, str, float]]:
    return [(r["code"], r["text"], r["impact"]) for r in scores.loc[account, "reasons"]]


def check_fragment_landed(item: Block, card: ResolvedScorecard) -> None:
    """The fragment's names are in the loaded card, so the splice really happened."""
    target = item.marks.get("fragment")
    names = set(yaml.safe_load(item.text))
    if target == "metrics":
        assert names <= {metric.name for metric in card.metrics}
    elif target is not None and target.startswith("groups.") and target.endswith(".measures"):
        group = target.split(".")[1]
        assert {f"{group}.{name}" for name in names} <= {m.code for m in card.measures}
    elif target == "groups":
        groups = {g.name for variant in card.variants.values() for g in variant.groups}
        assert names <= groups
    elif target == "gates":
        assert names <= {gate.name for gate in card.gates}
    elif target in ("segments", "stages"):
        assert names <= {c.name for c in getattr(card, target)}


# ---------------------------------------------------------------- every block


def test_the_page_has_marked_examples() -> None:
    assert len(YAML_BLOCKS) >= 40
    for item in YAML_BLOCKS:
        assert set(item.marks) <= KNOWN_MARKS, item.name
        assert ("complete" in item.marks) != ("fragment" in item.marks), item.name
    ids = [item.marks["id"] for item in BLOCKS if "id" in item.marks]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("item", YAML_BLOCKS, ids=[item.name for item in YAML_BLOCKS])
def test_yaml_example(item: Block, con: BaseBackend) -> None:
    if "invalid" in item.marks:
        with pytest.raises(ScorecardError) as caught:
            load(item)
        objects = [issue.object for issue in caught.value.issues]
        assert item.marks["invalid"] in objects, objects
        # A message the page quotes right after the block is the loader's, word for word.
        messages = [str(issue).split(": ", 1)[1] for issue in caught.value.issues]
        for quoted in re.findall(rf"`({re.escape(item.marks['invalid'])}: [^`]*)`", item.after):
            assert quoted in messages
        return
    card = load(item)
    check_fragment_landed(item, card)
    if "offline" in item.marks:
        return
    engine = Engine(card, con)
    issues = engine.check()
    if "check" in item.marks:
        assert item.marks["check"] in [issue.object for issue in issues], issues
        return
    assert issues == [], [str(issue) for issue in issues]
    if item.marks.get("raises") == "AssignmentError":
        with pytest.raises(AssignmentError):
            engine.score(as_of=AS_OF)
        return
    assert "raises" not in item.marks
    scores = engine.score(as_of=AS_OF)
    assert sorted(scores.account_id) == SCORED
    assert scores.score.between(0, 100).all()


@pytest.mark.parametrize(
    "item",
    [b for b in BLOCKS if "errors-of" in b.marks],
    ids=lambda b: b.marks["errors-of"],
)
def test_error_output_is_quoted_exactly(item: Block) -> None:
    with pytest.raises(ScorecardError) as caught:
        load(block(item.marks["errors-of"]))
    assert str(caught.value) == item.text.strip()


# ---------------------------------------------------------------- the numbers on the page


def test_complete_scorecard_scores(con: BaseBackend) -> None:
    scores = scores_of(block("base"), con)
    assert list(scores.index) == SCORED  # dune was created after the as-of date
    assert scores.score.to_dict() == {"acme": 61.25, "bolt": 70.0, "core": 31.25}
    assert scores.tier.to_dict() == {"acme": "yellow", "bolt": "green", "core": "red"}
    assert (scores.confidence == 1.0).all()
    assert reasons(scores, "acme") == [
        ("usage.logins.low", "logins 30d: 3", -7.5),
        ("usage.recency.high", "days since login: 2", 18.75),
    ]
    card = load(block("base"))
    assert (card.max_drags, card.max_lifts) == (3, 2)
    assert [(t.name, t.min) for t in card.tiers] == [("green", 70), ("yellow", 40), ("red", 0)]


def test_weights_are_normalized(con: BaseBackend) -> None:
    base = block("base").text
    scaled = base.replace("weight: 3", "weight: 30").replace("weight: 1\n", "weight: 10\n")
    assert scaled != base
    first = scores_of(load_scorecard_text(base), con)
    second = scores_of(load_scorecard_text(scaled), con)
    assert first.score.to_dict() == second.score.to_dict()


def test_aggregates(con: BaseBackend) -> None:
    metrics = metrics_of(block("aggregates"), con)
    expected = {
        "events_total": (9, 3, 2),
        "logins_30d": (3, 2, 1),
        "feature_value_30d": (8, 0, 0),
        "feature_value_avg_30d": (4, math.nan, math.nan),
        "smallest_order": (90, math.nan, math.nan),
        "largest_order": (120, math.nan, math.nan),
        "active_users_30d": (2, 2, 1),
        "latest_nps": (7, math.nan, math.nan),
        "days_since_login": (1.625, 3.5, 20),
    }
    for name, values in expected.items():
        actual = metrics.loc[SCORED, name].to_numpy()
        np.testing.assert_allclose(actual, values, err_msg=name)


def test_the_as_of_date_itself_is_not_before_it(con: BaseBackend) -> None:
    engine = Engine(load(block("aggregates")), con)
    later = engine.metrics(dt.date(2026, 6, 2)).set_index("account_id")
    # From June 2nd on, acme's login at 2026-06-01 00:00 counts; 30 days back is May 3rd.
    assert later.loc["acme", "logins_30d"] == 4
    assert "dune" not in later.index


def test_change(con: BaseBackend) -> None:
    metrics = metrics_of(block("change"), con)
    assert metrics.loc["acme", "logins_change_30d"] == pytest.approx(-25.0)
    assert metrics.loc["acme", "logins_ratio_30d"] == pytest.approx(0.75)
    assert metrics.loc["acme", "_logins_30d__30d_before_30d"] == 4
    assert metrics.loc[["bolt", "core"], "logins_change_30d"].isna().all()


def test_rate(con: BaseBackend) -> None:
    metrics = metrics_of(block("rate"), con)
    assert metrics.loc["acme", "seat_utilization"] == pytest.approx(0.2)
    assert metrics.loc["acme", "logins_per_user"] == pytest.approx(1.5)
    assert metrics.loc["acme", "seats"] == 10  # the account field is in the metric frame


def test_tenure_scaled(con: BaseBackend) -> None:
    metrics = metrics_of(block("tenure"), con)
    assert metrics.loc["bolt", "logins_30d_scaled"] == pytest.approx(6.0)
    assert metrics.loc["acme", "logins_30d_scaled"] == pytest.approx(3.0)


def test_days_since_first(con: BaseBackend) -> None:
    metrics = metrics_of(block("days-since-first"), con)
    assert metrics.loc["acme", "customer_days"] == 73.0
    assert pd.isna(metrics.loc["bolt", "customer_days"])


def test_replenishment(con: BaseBackend) -> None:
    metrics = metrics_of(block("replenishment"), con)
    assert metrics.loc["acme", "order_recency"] == pytest.approx(0.65)
    assert metrics.loc[["bolt", "core"], "order_recency"].isna().all()


def test_expr_metrics(con: BaseBackend) -> None:
    metrics = metrics_of(block("expr"), con)
    assert metrics.loc["acme", "days_to_renewal"] == pytest.approx(30.0)
    assert metrics.loc["acme", "seat_utilization_pct"] == pytest.approx(20.0)
    assert metrics.loc[["acme", "bolt"], "nps_or_neutral"].tolist() == [7.0, 7.0]


def test_expressions(con: BaseBackend) -> None:
    metrics = metrics_of(block("expressions"), con)
    assert metrics.loc["acme", "big_feature_uses_30d"] == 2
    assert metrics.loc[SCORED, "unused_seats"].tolist() == [8.0, 3.0, 3.0]
    assert metrics.loc[SCORED, "open_urgent_tickets"].tolist() == [0.0, 0.0, 1.0]


def test_column_renames(con: BaseBackend) -> None:
    renamed = metrics_of(block("renames"), con)
    plain = metrics_of(block("base"), con)
    pd.testing.assert_frame_equal(renamed, plain)


def test_bands(con: BaseBackend) -> None:
    item = block("bands")
    scores = scores_of(item, con)
    assert scores["measure.usage.recency"].to_dict() == {"acme": 100, "bolt": 100, "core": 40}
    (recency,) = [m for m in load(item).measures if m.name == "recency"]
    values = normalize(recency.normalizer, np.array([7.0, 6.99, -1.0, 45.0]), np.zeros(4, "int64"))
    assert values.tolist() == [70.0, 100.0, 100.0, 0.0]


def test_linear_both_directions(con: BaseBackend) -> None:
    scores = scores_of(block("base"), con)
    assert scores.loc["acme", "measure.usage.logins"] == 30
    assert scores["measure.support.severe_tickets"].to_dict() == {
        "acme": 50,
        "bolt": 100,
        "core": 50,
    }


def test_percentile(con: BaseBackend) -> None:
    scores = scores_of(block("percentile"), con)
    assert scores["measure.usage.logins_rank"].to_dict() == {
        "acme": 83.33,
        "bolt": 50.0,
        "core": 16.67,
    }


def test_log_z(con: BaseBackend) -> None:
    scores = scores_of(block("log_z"), con)
    assert scores["measure.usage.logins_spread"].to_dict() == {
        "acme": 78.75,
        "bolt": 53.45,
        "core": 17.8,
    }


def test_baseline(con: BaseBackend) -> None:
    item = block("baseline")
    metrics = metrics_of(item, con)
    assert metrics.loc["acme", "_logins_30d__vs_90d_baseline"] == pytest.approx(2.25)
    assert scores_of(item, con).loc["acme", "measure.usage.login_baseline"] == 100


def test_missing_data_policies_and_confidence(con: BaseBackend) -> None:
    text = block("missing").text
    scores = scores_of(load_scorecard_text(text), con)
    assert scores.loc["bolt", "score"] == 30
    assert scores.loc["bolt", "confidence"] == 0.375
    assert scores.loc["acme", "confidence"] == 1.0
    assert ("usage.trend.missing", "no data for logins", -5.0) in reasons(scores, "bolt")
    for policy, score in (("reweight", 20), ("worst", 10)):
        changed = load_scorecard_text(text.replace("missing: neutral", f"missing: {policy}"))
        assert scores_of(changed, con).loc["bolt", "score"] == score


def test_gates(con: BaseBackend) -> None:
    scores = scores_of(block("gates"), con)
    assert scores.score.to_dict() == {"acme": 50.0, "bolt": 70.0, "core": 31.25}
    assert reasons(scores, "acme")[0] == (
        "gate.renewal_risk",
        "renewal within 45 days while logins fall caps health at 50",
        -11.25,
    )
    assert reasons(scores, "core")[0] == (
        "gate.payment_risk",
        "2+ failed payments in 90 days caps health at 40",
        0.0,
    )
    assert reasons(scores, "bolt")[0][::2] == ("gate.new_account", 0.0)


def test_caps_apply_before_floors(con: BaseBackend) -> None:
    card = yaml.safe_load(spliced(block("gates")))
    card["gates"]["new_account"]["when"] = "failed_payments_90d >= 2"
    card["gates"]["zz_cap"] = {"when": "failed_payments_90d >= 2", "cap": 20, "reason": "cap"}
    scores = scores_of(load_scorecard_text(yaml.safe_dump(card, sort_keys=False)), con)
    # core: the floor gate comes first in the file, yet the cap (20) applies before it (50).
    assert scores.loc["core", "score"] == 50.0
    assert [code for code, _, _ in reasons(scores, "core")][:3] == [
        "gate.payment_risk",
        "gate.new_account",
        "gate.zz_cap",
    ]


def test_tiers(con: BaseBackend) -> None:
    scores = scores_of(block("tiers"), con)
    assert scores.tier.to_dict() == {"acme": "watch", "bolt": "watch", "core": "critical"}


def test_segment_overrides(con: BaseBackend) -> None:
    item = block("segments")
    scores = scores_of(item, con)
    assert scores.segment.to_dict() == {
        "acme": "enterprise",
        "bolt": "self_serve",
        "core": "self_serve",
    }
    assert scores.loc["acme", "score"] == 48.0
    assert scores.loc["acme", "measure.usage.logins"] == 15.0
    assert scores.loc["acme", "measure.usage.team"] == 25.0
    assert scores.loc[["bolt", "core"], "score"].tolist() == [70.0, 31.25]
    variants = load(item).variants
    enterprise = {g.name: g.weight for g in variants[("enterprise", "default")].groups}
    assert enterprise == {"usage": 3, "support": 2}
    assert {g.name: g.weight for g in variants[("self_serve", "default")].groups} == {
        "usage": 3,
        "support": 1,
    }


def test_stage_replaces_a_group(con: BaseBackend) -> None:
    scores = scores_of(block("stages"), con)
    assert scores.stage.to_dict() == {"acme": "mature", "bolt": "onboarding", "core": "mature"}
    assert scores.loc["bolt", "score"] == 71.88
    assert np.isnan(scores.loc["bolt", "measure.usage.logins"])
    assert scores.loc["bolt", "measure.usage.integrations"] == 100


def test_stage_applies_on_top_of_segment(con: BaseBackend) -> None:
    card = yaml.safe_load(spliced(block("segments")))
    merge(card, {"stages": yaml.safe_load(block("stages").text)})
    stage = card["stages"]["onboarding"]
    stage["when"] = "tenure_days < 1000"  # every account is onboarding
    del stage["groups"]["usage"]["replace"]
    stage["groups"]["usage"]["measures"] = {"logins": {"good": 5}}
    resolved = load_scorecard_text(yaml.safe_dump(card, sort_keys=False))
    (logins,) = [
        m for m in resolved.variants[("enterprise", "onboarding")].measures if m.name == "logins"
    ]
    assert logins.normalizer.good == 5  # type: ignore[union-attr]
    groups = {g.name: g for g in resolved.variants[("enterprise", "onboarding")].groups}
    assert groups["support"].weight == 2 and "team" in {m.name for m in groups["usage"].measures}


def test_templates(con: BaseBackend) -> None:
    scores = scores_of(block("templates"), con)
    texts = [text for _, text, _ in reasons(scores, "acme")]
    assert "2 active users of 10 seats (20%)" in texts


def test_default_texts(con: BaseBackend) -> None:
    extra = {
        "metrics": {
            "logins_change_30d": {"kind": "change", "metric": "logins_30d", "label": "logins"},
            "seat_utilization": {"kind": "rate", "metric": "active_users_30d", "per": "seats"},
            "last_login": {
                "kind": "days_since",
                "table": "events",
                "where": "type == 'login'",
                "label": "login",
            },
        },
        "groups": {
            "usage": {
                "measures": {
                    "trend": {
                        "kind": "linear",
                        "metric": "logins_change_30d",
                        "bad": -100,
                        "good": 0,
                    },
                    "seats": {
                        "kind": "linear",
                        "metric": "seat_utilization",
                        "bad": 0.1,
                        "good": 0.7,
                    },
                    "base": {"kind": "baseline", "metric": "logins_30d", "baseline": "90d"},
                    "last": {"kind": "linear", "metric": "last_login", "bad": 10, "good": 0},
                }
            }
        },
        "reasons": {"max_drags": 20, "max_lifts": 20},
    }
    card = yaml.safe_load(block("base").text)
    merge(card, extra)
    scores = scores_of(load_scorecard_text(yaml.safe_dump(card, sort_keys=False)), con)
    texts = {code: text for code, text, _ in reasons(scores, "acme")}
    assert texts == {
        "usage.logins.low": "logins 30d: 3",
        "usage.seats.low": "2 active users per 10 seats (0.20 each)",
        "usage.trend.high": "logins down 25% against the previous 30 days",
        "usage.base.high": "logins 30d at 225% of the account's own 90-day average",
        "usage.recency.high": "days since login: 2",
        "usage.last.high": "2 days since the last login",
    }


def test_content_hash() -> None:
    base = block("base").text
    card = load_scorecard_text(base)
    assert re.fullmatch(r"[0-9a-f]{16}", card.hash)
    assert load(block("hash-same")).hash == card.hash
    reformatted = "# a comment\n" + base.replace('version: "1.0.0"', "version: '1.0.0'")
    assert load_scorecard_text(reformatted).hash == card.hash
    for old, new in (
        ("description: Usage", "description: All"),
        ("window: 30d", "window: 30 d"),
        ("label: active users", "label: users"),
    ):
        assert load_scorecard_text(base.replace(old, new, 1)).hash != card.hash


def test_unquoted_version_becomes_text() -> None:
    base = block("base").text
    assert load_scorecard_text(base.replace('version: "1.0.0"', "version: 1.10")).version == "1.1"


def test_score_frame_columns(con: BaseBackend) -> None:
    scores = Engine(load(block("base")), con).score(as_of=AS_OF)
    assert list(scores.columns) == [
        "account_id",
        "as_of",
        "score",
        "tier",
        "confidence",
        "reasons",
        "segment",
        "stage",
        "scorecard_name",
        "scorecard_version",
        "scorecard_hash",
        "churn_probability",
        "group.support",
        "group.usage",
        "measure.support.severe_tickets",
        "measure.usage.logins",
        "measure.usage.recency",
    ]
    assert (scores.as_of == AS_OF).all()
    assert set(scores.segment) == set(scores.stage) == {"default"}


def test_metric_frame_columns(con: BaseBackend) -> None:
    metrics = Engine(load(block("segments")), con).metrics(AS_OF)
    assert list(metrics.columns[:2]) == ["account_id", "as_of"]
    assert {"_segment__enterprise", "logins_30d", "tenure_days"} <= set(metrics.columns)
    assert (metrics.as_of == pd.Timestamp(AS_OF)).all()

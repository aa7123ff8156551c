"""One month of observable activity for a block of accounts, fully vectorized.

Every function gets each account's live span [lo, hi) in days for the month and returns
flat arrays (one element per row) keyed by column; the caller stitches months together.
Rates are per "weighted day" (a weekday counts 1, a weekend day ~0.1), which is what
puts the weekly seasonality into every table.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from healthscore.demo._population import Population
from healthscore.demo._timeline import (
    DAY_MS,
    Timeline,
    sample_days,
    sample_time_of_day,
    span_weight,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
Rows = dict[str, npt.NDArray[Any]]  # column name -> one value per row

EVENT_TYPES: Final = (
    "login",
    "feature_used",
    "report_created",
    "integration_connected",
    "invite_sent",
    "email_opened",
    "email_clicked",
)
LOGIN, INTEGRATION, INVITE = 0, 3, 4
# Share of the Poisson event volume by type; integrations follow their own process.
_POISSON_TYPES: Final = np.asarray([0, 1, 2, 4, 5, 6], np.int8)
_POISSON_SHARES: Final = np.asarray([0.40, 0.30, 0.08, 0.02, 0.14, 0.06])
WEIGHTED_DAYS_PER_MONTH: Final = 22.0
LATER_INTEGRATIONS_PER_MONTH: Final = 0.07

PRIORITIES: Final = ("low", "normal", "high", "urgent")
_PRIORITY_P: Final = ((0.30, 0.45, 0.18, 0.07), (0.18, 0.40, 0.28, 0.14))  # calm, declining
_RESOLUTION_MEDIAN_DAYS: Final = np.asarray([4.0, 2.5, 1.5, 0.6])
TICKETS_PER_SQRT_SEAT_MONTH: Final = 0.07

INVOICE_STATUSES: Final = ("paid", "failed", "refunded")
INVOICE_HOUR_MS: Final = 22 * 3_600_000  # nightly billing run, after any sign-up that day
NPS_RESPONSE_RATE: Final = 0.15
NPS_MONTHS: Final = (3, 6, 9, 12)


def events(
    rng: np.random.Generator,
    tl: Timeline,
    pop: Population,
    lo: I64,
    hi: I64,
    n_active: I64,
    per_user_day: F64,
) -> Rows:
    """Poisson counts per account and type, then one weekday-weighted timestamp each."""
    expected = n_active * per_user_day * span_weight(tl, lo, hi)
    counts = rng.poisson(expected[:, None] * _POISSON_SHARES[None, :])
    acc = np.repeat(np.arange(len(lo), dtype=np.int32), counts.sum(axis=1))
    kind = np.repeat(np.tile(_POISSON_TYPES, len(lo)), counts.ravel())
    ts = sample_days(rng, tl, lo[acc], hi[acc]) * DAY_MS + sample_time_of_day(rng, len(acc))
    # Power users: low user offsets within the active set produce most events, and the
    # active set shrinks from the top when engagement drops.
    offset = np.floor(n_active[acc] * rng.random(len(acc)) ** 1.8).astype(np.int64)
    user = pop.user_start[acc] + offset
    value = np.ones(len(acc))
    is_login = kind == LOGIN
    value[is_login] = np.round(rng.lognormal(np.log(14.0), 0.8, int(is_login.sum())), 1)
    is_invite = kind == INVITE
    value[is_invite] += rng.poisson(0.4, int(is_invite.sum()))

    # Integrations after the first 30 days of life: rare, and not part of onboarding.
    created_day = pop.created_ms // DAY_MS
    lo_int = np.maximum(lo, created_day + 31)
    rate = LATER_INTEGRATIONS_PER_MONTH / WEIGHTED_DAYS_PER_MONTH
    n_int = rng.poisson(rate * span_weight(tl, lo_int, hi))
    acc_int = np.repeat(np.arange(len(lo), dtype=np.int32), n_int)
    ts_int = sample_days(rng, tl, lo_int[acc_int], hi[acc_int]) * DAY_MS
    ts_int += sample_time_of_day(rng, len(acc_int))
    return {
        "acc": np.concatenate([acc, acc_int]),
        "kind": np.concatenate([kind, np.full(len(acc_int), INTEGRATION, np.int8)]),
        "ts": np.concatenate([ts, ts_int]),
        "user": np.concatenate([user, pop.user_start[acc_int]]),
        "value": np.concatenate([value, np.ones(len(acc_int))]),
    }


def onboarding_integrations(rng: np.random.Generator, pop: Population) -> Rows:
    """Integrations connected in the first 30 days by accounts that onboard well.

    Drawn up front; rows at/after churn or the end of data are dropped by the caller.
    """
    good = (pop.created_ms >= 0) & pop.onboard_good
    acc = np.repeat(np.arange(len(pop), dtype=np.int32), good * (1 + rng.poisson(0.8, len(pop))))
    ts = pop.created_ms[acc] + (rng.uniform(0.02, 29.5, len(acc)) * DAY_MS).astype(np.int64)
    return {
        "acc": acc,
        "kind": np.full(len(acc), INTEGRATION, np.int8),
        "ts": ts,
        "user": pop.user_start[acc],  # the admin who set the account up
        "value": np.ones(len(acc)),
    }


def tickets(
    rng: np.random.Generator,
    tl: Timeline,
    pop: Population,
    lo: I64,
    hi: I64,
    declining: B,
) -> Rows:
    """Support tickets; declining accounts file more, more severe, and get neglected more."""
    rate = TICKETS_PER_SQRT_SEAT_MONTH * np.sqrt(pop.seats) * (1.0 + 1.5 * declining)
    n = rng.poisson(rate * span_weight(tl, lo, hi) / WEIGHTED_DAYS_PER_MONTH)
    acc = np.repeat(np.arange(len(lo), dtype=np.int64), n)
    opened = sample_days(rng, tl, lo[acc], hi[acc]) * DAY_MS + sample_time_of_day(rng, len(acc))
    dec = declining[acc]
    # Inverse CDF over the first three cut points: the result is always 0..3.
    cuts = np.cumsum(np.asarray(_PRIORITY_P), axis=1)[dec.astype(np.int64), :3]
    priority = (rng.random(len(acc))[:, None] > cuts).sum(axis=1).astype(np.int64)
    days = _RESOLUTION_MEDIAN_DAYS[priority] * rng.lognormal(0.0, 0.9, len(acc))
    neglected = rng.random(len(acc)) < 0.04 + 0.06 * (priority >= 2) + 0.3 * dec
    days = np.where(neglected, rng.uniform(15.0, 80.0, len(acc)), days)
    answered = rng.random(len(acc)) < 0.45
    mood = 4.4 - 1.0 * dec - 0.02 * np.minimum(days, 60.0)
    csat = np.clip(np.round(rng.normal(mood, 0.9)), 1.0, 5.0)
    return {
        "acc": acc,
        "opened": opened,
        "closed": opened + (days * DAY_MS).astype(np.int64),
        "priority": priority,
        "csat": np.where(answered, csat, np.nan),
    }


def invoices(
    rng: np.random.Generator,
    tl: Timeline,
    pop: Population,
    step: int,
    churn_day: I64,
    declining: B,
) -> Rows:
    """The month's invoice on the account's billing day, if it was a customer that day."""
    day = tl.month_start[step] + pop.bill_dom - 1
    created_day = pop.created_ms // DAY_MS
    live = (
        (day >= tl.bounds[step])
        & (day < tl.bounds[step + 1])
        & (day >= created_day)
        & (day < churn_day)
    )
    acc = np.flatnonzero(live).astype(np.int64)
    day = day[acc]
    amount = pop.core_mrr[acc] + np.where(pop.addon_day[acc] <= day, pop.addon_mrr[acc], 0.0)
    p_fail = 0.012 + 0.15 * pop.fragile_pay[acc] + 0.08 * declining[acc]
    u = rng.random(len(acc))
    status = np.where(u < p_fail, 1, np.where(u > 1.0 - 0.006, 2, 0)).astype(np.int64)
    return {
        "acc": acc,
        "ts": day * DAY_MS + INVOICE_HOUR_MS,
        "amount": np.round(amount, 2),
        "status": status,
    }


def surveys(
    rng: np.random.Generator,
    tl: Timeline,
    pop: Population,
    lo: I64,
    hi: I64,
    n_active: I64,
    mood: F64,
) -> Rows:
    """Quarterly NPS wave: a random subset of the month's active users answers."""
    k = np.where(hi > lo, rng.binomial(n_active, NPS_RESPONSE_RATE), 0)
    acc = np.repeat(np.arange(len(lo), dtype=np.int64), k)
    # Distinct respondents: consecutive offsets from a random start, wrapping around.
    first = np.cumsum(k) - k
    rank = np.arange(len(acc)) - np.repeat(first, k)
    start = rng.integers(0, np.maximum(n_active, 1))
    offset = (start[acc] + rank) % np.maximum(n_active[acc], 1)
    ts = sample_days(rng, tl, lo[acc], hi[acc]) * DAY_MS + sample_time_of_day(rng, len(acc))
    score = np.clip(np.round(rng.normal(mood[acc], 1.6)), 0.0, 10.0)
    return {"acc": acc, "user": pop.user_start[acc] + offset, "ts": ts, "score": score}

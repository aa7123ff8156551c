"""Static per-account attributes, drawn once for all accounts as small numeric arrays.

Drawing them up front (not per block) gives every account and user a global number
before any block runs, so ids are zero-padded to one width and sort in account order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from healthscore.demo import _words as words
from healthscore.demo._timeline import DAY_MS, NEVER, Timeline, sample_time_of_day

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

SEGMENTS: Final = ("smb", "mid_market", "enterprise")
SEGMENT_SHARES: Final = (0.70, 0.22, 0.08)
PLANS: Final = ("starter", "growth", "enterprise")
# Plan given segment: bigger customers buy bigger plans.
PLAN_BY_SEGMENT: Final = ((0.75, 0.25, 0.0), (0.15, 0.70, 0.15), (0.0, 0.20, 0.80))
SEAT_PRICE: Final = (25.0, 45.0, 70.0)  # per seat per month, by plan
# (median, sigma, min, max) of the lognormal seat count, by segment.
SEATS: Final = ((8.0, 0.6, 3, 25), (55.0, 0.55, 20, 150), (300.0, 0.7, 100, 2000))
ADDON_SHARE: Final = (0.12, 0.30, 0.50)
FRAGILE_PAYMENT_SHARE: Final = (0.12, 0.07, 0.03)  # expiring cards, thin budgets
GOOD_ONBOARDING_SHARE: Final = (0.68, 0.78, 0.88)
OWNER_RANGE: Final = ((3, 8), (2, 6), (0, 3))  # enterprise gets the senior CSMs
PRE_EXISTING_MAX_DAYS: Final = 1800
REFERENCE_USERS: Final = 20.0  # account size at which events_per_user_day holds exactly


@dataclass(frozen=True)
class Population:
    segment: I64
    plan: I64
    seats: I64
    n_users: I64
    user_start: I64  # global number of the account's first user
    created_ms: I64  # relative to the first day of data; negative = before the period
    active_frac: F64  # share of users active in a normal month
    intensity: F64  # per-account multiplier of events per active user
    user_scale: F64  # big accounts have more light users: per-user activity is sublinear
    log_g0: F64  # initial latent engagement
    fragile_pay: B
    onboard_good: B  # connects an integration in its first 30 days (in-period accounts)
    core_mrr: F64
    addon_day: I64  # day the analytics add-on starts, NEVER if never
    addon_mrr: F64
    bill_dom: I64  # day of month invoices are issued
    owner: I64
    industry: I64
    country: I64
    name_code: I64  # bijective code -> (prefix, noun, domain variant, number)
    email_mult: I64  # per-account permutation of (first, last) name pairs
    email_shift: I64

    def __len__(self) -> int:
        return len(self.segment)

    def take(self, lo: int, hi: int) -> Population:
        parts: dict[str, Any] = {f.name: getattr(self, f.name)[lo:hi] for f in fields(self)}
        return Population(**parts)

    @property
    def n_users_total(self) -> int:
        return int(self.user_start[-1] + self.n_users[-1]) if len(self) else 0


def _coprimes(modulus: int) -> I64:
    return np.asarray([a for a in range(1, modulus) if math.gcd(a, modulus) == 1], np.int64)


def draw_population(rng: np.random.Generator, n: int, tl: Timeline) -> Population:
    """Every account's fixed traits; what varies month to month lives in _simulate."""
    segment = rng.choice(3, size=n, p=SEGMENT_SHARES).astype(np.int64)
    plan = np.empty(n, np.int64)
    seats = np.empty(n, np.int64)
    for s in range(3):
        idx = np.flatnonzero(segment == s)
        plan[idx] = rng.choice(3, size=len(idx), p=PLAN_BY_SEGMENT[s])
        median, sigma, low, high = SEATS[s]
        raw = np.round(median * rng.lognormal(0.0, sigma, len(idx)))
        seats[idx] = np.clip(raw, low, high).astype(np.int64)
    n_users = np.clip(np.round(seats * rng.beta(5.0, 2.5, n)), 1, seats).astype(np.int64)
    user_start = np.concatenate([[0], np.cumsum(n_users)[:-1]]).astype(np.int64)

    # Enough accounts start inside the period that tenure varies and some are onboarding.
    new_share = min(0.6, 0.025 * tl.n_steps)
    is_new = rng.random(n) < new_share
    created_day = np.where(
        is_new,
        rng.integers(0, tl.n_days, n),
        -1 - np.floor(PRE_EXISTING_MAX_DAYS * rng.random(n) ** 1.6).astype(np.int64),
    )
    tod = np.minimum(sample_time_of_day(rng, n), 20 * 3_600_000)
    created_ms = created_day * DAY_MS + tod

    onboard_good = ~is_new | (rng.random(n) < np.asarray(GOOD_ONBOARDING_SHARE)[segment])
    log_g0 = rng.normal(0.0, 0.25, n) - 0.35 * ~onboard_good
    core_mrr = np.round(
        np.maximum(49.0, seats * np.asarray(SEAT_PRICE)[plan] * rng.lognormal(0, 0.12, n)), 2
    )
    has_addon = rng.random(n) < np.asarray(ADDON_SHARE)[segment]
    addon_day = np.where(has_addon, created_day + 20 + rng.integers(0, 480, n), NEVER)
    addon_mrr = np.where(has_addon, np.round(core_mrr * rng.uniform(0.12, 0.25, n), 2), 0.0)
    created_date = np.datetime64(tl.start, "D") + created_day
    dom = (created_date - created_date.astype("datetime64[M]")).astype(np.int64) + 1
    lo_owner, hi_owner = (np.asarray(OWNER_RANGE)[segment, k] for k in (0, 1))
    owner = lo_owner + np.floor(rng.random(n) * (hi_owner - lo_owner)).astype(np.int64)

    base = len(words.COMPANY_PREFIXES) * len(words.COMPANY_NOUNS) * len(words.DOMAIN_VARIANTS)
    space = base * max(1, -(-n // base))
    mult = rng.choice(_coprimes_upto(space, rng))
    name_code = (mult * np.arange(n, dtype=np.int64) + rng.integers(0, space)) % space
    pairs = len(words.FIRST_NAMES) * len(words.LAST_NAMES)
    return Population(
        segment=segment,
        plan=plan,
        seats=seats,
        n_users=n_users,
        user_start=user_start,
        created_ms=created_ms.astype(np.int64),
        active_frac=rng.beta(4.0, 2.5, n),
        intensity=rng.lognormal(0.0, 0.35, n),
        user_scale=(n_users / REFERENCE_USERS) ** -0.4,
        log_g0=log_g0,
        fragile_pay=rng.random(n) < np.asarray(FRAGILE_PAYMENT_SHARE)[segment],
        onboard_good=onboard_good,
        core_mrr=core_mrr,
        addon_day=addon_day.astype(np.int64),
        addon_mrr=addon_mrr,
        bill_dom=np.minimum(dom, 28),
        owner=owner,
        industry=_weighted(rng, words.INDUSTRIES, n),
        country=_weighted(rng, words.COUNTRIES, n),
        name_code=name_code.astype(np.int64),
        email_mult=rng.choice(_coprimes(pairs), size=n),
        email_shift=rng.integers(0, pairs, n),
    )


def _coprimes_upto(space: int, rng: np.random.Generator) -> I64:
    """A few multipliers coprime with space; the affine map i -> a*i+b is then a bijection."""
    candidates = rng.integers(space // 3, space, 64) | 1
    good = [int(a) for a in candidates if math.gcd(int(a), space) == 1]
    return np.asarray(good or [1], np.int64)


def _weighted(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> I64:
    p = np.asarray([w for _, w in table])
    return rng.choice(len(table), size=n, p=p / p.sum()).astype(np.int64)

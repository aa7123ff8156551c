"""Month-by-month simulation of one block of accounts: latent engagement -> observable
activity -> churn hazard computed from that activity alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from healthscore.demo import _activity as activity
from healthscore.demo import _churn as churn
from healthscore.demo._population import Population
from healthscore.demo._timeline import DAY_MS, NEVER, Timeline

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Rows = activity.Rows

# Latent engagement (log scale): mean-reverting noise, plus declining spells.
DECLINE_ENTRY_PER_MONTH: Final = np.asarray([0.022, 0.016, 0.010])  # by segment
POOR_ONBOARDING_DECLINE_FACTOR: Final = 1.5
DECLINE_RECOVERY_PER_MONTH: Final = 0.20
DECLINE_RATE_RANGE: Final = (0.2, 0.6)  # log-engagement lost per month while declining
# Some spells start with a cliff (the champion leaves, a competitor is rolled out).
CLIFF_SHARE: Final = 0.35
CLIFF_RANGE: Final = (0.7, 1.5)
# Accounts older than the data are already part-way into spells, so churn does not
# start near zero and ramp up: a share of them starts declining, up to 2 months in.
INITIAL_DECLINE_SHARE: Final = 0.6
MEAN_REVERSION: Final = 0.25
ENGAGEMENT_NOISE_SD: Final = 0.10
RAMP_DAYS: Final = 60  # new accounts grow into their usage over their first two months


@dataclass(frozen=True)
class BlockResult:
    churn_day: I64  # NEVER for accounts that did not churn
    events: Rows
    tickets: Rows
    invoices: Rows
    surveys: Rows


def _concat(parts: list[Rows]) -> Rows:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def simulate_block(
    rng: np.random.Generator, tl: Timeline, pop: Population, events_per_user_day: float
) -> BlockResult:
    n = len(pop)
    created_day = pop.created_ms // DAY_MS
    stationary = DECLINE_ENTRY_PER_MONTH[pop.segment] / (
        DECLINE_ENTRY_PER_MONTH[pop.segment] + DECLINE_RECOVERY_PER_MONTH
    )
    declining = (created_day < 0) & (rng.random(n) < INITIAL_DECLINE_SHARE * stationary)
    decline_rate = np.where(declining, rng.uniform(*DECLINE_RATE_RANGE, n), 0.0)
    log_g = pop.log_g0 - declining * decline_rate * rng.uniform(0.0, 2.0, n)
    churn_day = np.full(n, NEVER, np.int64)
    last_nps = np.full(n, np.nan)
    stale = np.zeros(n)
    ev: list[Rows] = [activity.onboarding_integrations(rng, pop)]
    tk: list[Rows] = []
    inv: list[Rows] = []
    sv: list[Rows] = []
    logins: list[tuple[int, I64, I64]] = []  # (month end, account, day) of recent logins

    for step in range(tl.n_steps):
        first, last = int(tl.bounds[step]), int(tl.bounds[step + 1])
        existing = (created_day < first) & (churn_day > first)
        if step > 0:
            p_enter = DECLINE_ENTRY_PER_MONTH[pop.segment] * np.where(
                pop.onboard_good, 1.0, POOR_ONBOARDING_DECLINE_FACTOR
            )
            enter = existing & ~declining & (rng.random(n) < p_enter)
            recover = existing & declining & (rng.random(n) < DECLINE_RECOVERY_PER_MONTH)
            decline_rate = np.where(enter, rng.uniform(*DECLINE_RATE_RANGE, n), decline_rate)
            declining = (declining | enter) & ~recover
            drift = np.where(declining, -decline_rate, -MEAN_REVERSION * log_g)
            cliff = enter & (rng.random(n) < CLIFF_SHARE)
            drift -= np.where(cliff, rng.uniform(*CLIFF_RANGE, n), 0.0)
            noise = rng.normal(0.0, ENGAGEMENT_NOISE_SD, n)
            log_g = np.where(existing, log_g + drift + noise, log_g)

        lo = np.maximum(first, created_day + 1)
        hi = np.minimum(last, churn_day)
        age = (lo + hi) / 2.0 - created_day
        g = np.exp(log_g) * np.clip(0.35 + 0.65 * age / RAMP_DAYS, 0.35, 1.0)
        n_active = np.round(pop.n_users * pop.active_frac * np.sqrt(np.minimum(g, 1.5)))
        n_active = np.clip(n_active, 1, pop.n_users).astype(np.int64)
        per_user_day = events_per_user_day * pop.intensity * np.sqrt(g) * pop.user_scale

        month = activity.events(rng, tl, pop, lo, hi, n_active, per_user_day)
        ev.append(month)
        is_login = month["kind"] == activity.LOGIN
        logins.append((last, month["acc"][is_login], month["ts"][is_login] // DAY_MS))
        tk.append(activity.tickets(rng, tl, pop, lo, hi, declining))
        inv.append(activity.invoices(rng, tl, pop, step, churn_day, declining))
        if tl.step_month[step] in activity.NPS_MONTHS:
            mood = 8.3 + 0.9 * np.clip(log_g, -1.5, 0.4) - 2.3 * declining
            mood -= 0.5 * np.minimum(stale, 2)
            wave = activity.surveys(rng, tl, pop, lo, hi, n_active, mood)
            sv.append(wave)
            order = np.lexsort((wave["ts"], wave["acc"]))
            acc_sorted = wave["acc"][order]
            is_last = np.ones(len(acc_sorted), bool)  # each account's latest answer
            is_last[:-1] = acc_sorted[1:] != acc_sorted[:-1]
            last_nps[acc_sorted[is_last]] = wave["score"][order][is_last]

        if step + 1 >= tl.n_steps:
            break  # a churn decided now would fall after the end of data
        at_risk = (pop.created_ms < last * DAY_MS) & (churn_day == NEVER)
        stale = _stale_tickets(tk, n, last)
        logit = churn.churn_logit(
            decline=_decline(logins, n, last, created_day),
            stale_tickets=stale,
            failed_payments=_failed_payments(inv, n, last),
            detractor=(last_nps <= 6).astype(np.float64),
            poor_onboarding=(
                (pop.created_ms >= 0)
                & ~pop.onboard_good
                & (pop.created_ms + 30 * DAY_MS <= last * DAY_MS)
            ).astype(np.float64),
            segment=pop.segment,
        )
        logit += rng.normal(0.0, churn.HAZARD_NOISE_SD, n)
        churned = at_risk & (rng.random(n) < 1.0 / (1.0 + np.exp(-logit)))
        # The churn date falls somewhere in the next month: signals lead it by 0-31 days.
        when = rng.integers(last, tl.bounds[step + 2], n)
        churn_day = np.where(churned, when, churn_day)
        logins = [entry for entry in logins if entry[0] > last - 60]

    return BlockResult(
        churn_day=churn_day,
        events=_finish_events(_concat(ev), churn_day, tl),
        tickets=_finish_tickets(_concat(tk), churn_day, tl),
        invoices=_concat(inv),
        surveys=_concat(sv) if sv else _empty_surveys(),
    )


def _decline(logins: list[tuple[int, I64, I64]], n: int, day: int, created_day: I64) -> F64:
    """usage_decline over [day-30, day) against [day-60, day-30); 0 without 60 days of data."""
    acc = np.concatenate([a for _, a, _ in logins])
    login_day = np.concatenate([d for _, _, d in logins])
    cur = np.bincount(acc[login_day >= day - 30], minlength=n).astype(np.float64)
    prev_mask = (login_day >= day - 60) & (login_day < day - 30)
    prev = np.bincount(acc[prev_mask], minlength=n).astype(np.float64)
    observable = (day - 60 >= 0) & (created_day + 1 <= day - 60)
    return np.where(observable, churn.usage_decline(prev, cur), 0.0)


def _stale_tickets(parts: list[Rows], n: int, day: int) -> F64:
    """High/urgent tickets opened > 14 days before `day` and still open at `day`."""
    t = _concat(parts)
    now = day * DAY_MS
    mask = (
        (t["priority"] >= 2)
        & (t["opened"] <= now - churn.STALE_TICKET_DAYS * DAY_MS)
        & (t["closed"] > now)
    )
    return np.bincount(t["acc"][mask].astype(np.int64), minlength=n).astype(np.float64)


def _failed_payments(parts: list[Rows], n: int, day: int) -> F64:
    t = _concat(parts)
    now = day * DAY_MS
    recent = (t["status"] == 1) & (t["ts"] >= now - churn.FAILED_PAYMENT_DAYS * DAY_MS)
    return np.bincount(t["acc"][recent].astype(np.int64), minlength=n).astype(np.float64)


def _finish_events(rows: Rows, churn_day: I64, tl: Timeline) -> Rows:
    """Drop onboarding rows past churn/end, then cluster by (account, ts)."""
    acc, ts = rows["acc"].astype(np.int64), rows["ts"]
    keep = np.flatnonzero(ts < np.minimum(churn_day[acc], tl.n_days) * DAY_MS)
    # ms since the period start fit in 42 bits for 139 years; block accounts in 21.
    key = (acc[keep] << 42) | ts[keep]
    index = keep[np.argsort(key, kind="stable")]
    return {k: v[index] for k, v in rows.items()}


def _finish_tickets(rows: Rows, churn_day: I64, tl: Timeline) -> Rows:
    """A ticket not closed before churn or the end of data is open (closed = -1)."""
    acc = rows["acc"].astype(np.int64)
    limit = np.minimum(churn_day[acc], tl.n_days) * DAY_MS
    rows["closed"] = np.where(rows["closed"] < limit, rows["closed"], -1)
    return rows


def _empty_surveys() -> Rows:
    empty = np.zeros(0, np.int64)
    return {"acc": empty, "user": empty, "ts": empty, "score": np.zeros(0)}

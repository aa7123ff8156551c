"""The hidden churn process: which observable signals cause churn, and how strongly.

Kept in one place so the generator, the tests and docs/demo-data.md all refer to the
same numbers. See the module docstring of ``healthscore.demo.generator`` for the full
process these coefficients sit in.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

INTERCEPT: Final = -5.7
USAGE_DECLINE: Final = 5.0  # per unit of decline_30d (0 = flat or growing, 1 = no logins)
STALE_SEVERE_TICKETS: Final = 1.0  # per high/urgent ticket open > 14 days (capped at 3)
FAILED_PAYMENTS: Final = 1.2  # per failed invoice in the last 90 days (capped at 3)
DETRACTOR_NPS: Final = 1.8  # the account's latest NPS answer is <= 6
POOR_ONBOARDING: Final = 1.3  # no integration_connected in the first 30 days of life
SEGMENT_MID_MARKET: Final = -0.4
SEGMENT_ENTERPRISE: Final = -1.0
HAZARD_NOISE_SD: Final = 0.5  # sd of the per account-month normal noise on the logit

# Smoothing and caps of the signals: keep tiny accounts' Poisson noise from reading as
# a collapse, and keep one pathological account from dominating.
DECLINE_SMOOTHING: Final = 3.0
STALE_TICKET_DAYS: Final = 14
FAILED_PAYMENT_DAYS: Final = 90
SIGNAL_CAP: Final = 3

HIDDEN_CHURN_DRIVERS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "intercept": INTERCEPT,
        "usage_decline_30d": USAGE_DECLINE,
        "stale_severe_tickets": STALE_SEVERE_TICKETS,
        "failed_payments_90d": FAILED_PAYMENTS,
        "detractor_nps": DETRACTOR_NPS,
        "poor_onboarding": POOR_ONBOARDING,
        "segment_mid_market": SEGMENT_MID_MARKET,
        "segment_enterprise": SEGMENT_ENTERPRISE,
    }
)
"""Logit coefficients of the monthly churn hazard; signals are defined in the generator."""


def usage_decline(logins_prev: F64, logins_cur: F64) -> F64:
    """Relative drop of logins, this 30 days against the 30 before, clipped to [0, 1]."""
    drop = (logins_prev - logins_cur) / (logins_prev + DECLINE_SMOOTHING)
    return np.asarray(np.clip(drop, 0.0, 1.0), dtype=np.float64)


def churn_logit(
    decline: F64,
    stale_tickets: F64,
    failed_payments: F64,
    detractor: F64,
    poor_onboarding: F64,
    segment: npt.NDArray[np.int64],
) -> F64:
    """The noise-free logit of the monthly churn hazard for each account."""
    segment_offset = np.asarray([0.0, SEGMENT_MID_MARKET, SEGMENT_ENTERPRISE])[segment]
    logit = (
        INTERCEPT
        + USAGE_DECLINE * decline
        + STALE_SEVERE_TICKETS * np.minimum(stale_tickets, SIGNAL_CAP)
        + FAILED_PAYMENTS * np.minimum(failed_payments, SIGNAL_CAP)
        + DETRACTOR_NPS * detractor
        + POOR_ONBOARDING * poor_onboarding
        + segment_offset
    )
    return np.asarray(logit, dtype=np.float64)

"""Arrow schemas of the demo tables, and the conversion of one simulated block into them.

String columns are built with Arrow compute kernels (take / pad / join) rather than
Python formatting, so millions of ids and emails cost milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from healthscore.demo import _words as words
from healthscore.demo._activity import EVENT_TYPES, INVOICE_STATUSES, PRIORITIES, Rows
from healthscore.demo._population import PLANS, SEGMENTS, Population
from healthscore.demo._simulate import BlockResult
from healthscore.demo._timeline import DAY_MS, NEVER, Timeline

I64 = npt.NDArray[np.int64]

_TS: Final = pa.timestamp("us")
_S: Final = pa.string()
SCHEMAS: Final[dict[str, pa.Schema]] = {
    "accounts": pa.schema(
        [
            ("account_id", _S),
            ("name", _S),
            ("segment", _S),
            ("plan", _S),
            ("created_at", _TS),
            ("owner", _S),
            ("arr", pa.float64()),
            ("seats", pa.int64()),
            ("renewal_date", pa.date32()),
            ("domain", _S),
            ("industry", _S),
            ("country", _S),
        ]
    ),
    "identities": pa.schema([("user_id", _S), ("email", _S), ("account_id", _S)]),
    "events": pa.schema(
        [
            ("event_id", pa.int64()),
            ("account_id", _S),
            ("user_id", _S),
            ("ts", _TS),
            ("type", _S),
            ("value", pa.float64()),
        ]
    ),
    "subscriptions": pa.schema(
        [
            ("subscription_id", _S),
            ("account_id", _S),
            ("product", _S),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("mrr", pa.float64()),
        ]
    ),
    "invoices": pa.schema(
        [
            ("invoice_id", _S),
            ("account_id", _S),
            ("ts", _TS),
            ("amount", pa.float64()),
            ("status", _S),
        ]
    ),
    "tickets": pa.schema(
        [
            ("ticket_id", _S),
            ("account_id", _S),
            ("opened_at", _TS),
            ("closed_at", _TS),
            ("priority", _S),
            ("csat", pa.float64()),
        ]
    ),
    "surveys": pa.schema(
        [
            ("survey_id", _S),
            ("account_id", _S),
            ("user_id", _S),
            ("ts", _TS),
            ("kind", _S),
            ("score", pa.float64()),
        ]
    ),
    "outcomes": pa.schema([("account_id", _S), ("ts", _TS), ("kind", _S)]),
}
TABLES: Final = tuple(SCHEMAS)
FREEMAIL_SHARE: Final = 0.05
# Sequential row ids are zero-padded to this width; wider numbers simply grow.
ID_WIDTH: Final = 9


@dataclass
class Numbering:
    """Global numbering state carried from block to block, so ids stay unique."""

    account_width: int
    user_width: int
    next_id: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 1))

    def take(self, table: str, count: int) -> I64:
        start = self.next_id[table]
        self.next_id[table] = start + count
        return np.arange(start, start + count, dtype=np.int64)


def ids(prefix: str, numbers: I64, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), _S), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _labels(values: tuple[str, ...], codes: npt.NDArray[np.int64]) -> pa.Array:
    return pc.take(pa.array(values, _S), pa.array(codes))


def _ts(
    ms: npt.NDArray[np.int64], tl: Timeline, null: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    return pa.array((ms + tl.epoch_day * DAY_MS) * 1000, _TS, mask=null)


def _dates(
    days: npt.NDArray[np.int64], tl: Timeline, null: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    # NEVER (no churn) would overflow int32; those rows are masked anyway.
    days = np.where(days < NEVER, days + tl.epoch_day, 0)
    return pa.array(days.astype(np.int32), pa.date32(), mask=null)


def _table(name: str, *columns: pa.Array) -> pa.Table:
    return pa.table(list(columns), schema=SCHEMAS[name])


def build_block(
    block: Population,
    first_account: int,
    result: BlockResult,
    tl: Timeline,
    num: Numbering,
    rng: np.random.Generator,
    events_by_time: bool = False,
) -> dict[str, pa.Table]:
    """All eight tables for one block; rows grouped by account, then time.

    event_id follows (account, ts) order either way, so the clustered and the
    time-ordered layouts of one seed hold identical rows.
    """
    n = len(block)
    acc_ids = ids("acc_", np.arange(first_account, first_account + n) + 1, num.account_width)
    first_user = int(block.user_start[0]) if n else 0
    n_users = int(block.n_users.sum())
    user_ids = ids("u_", np.arange(first_user, first_user + n_users) + 1, num.user_width)
    names, domains = _names_and_domains(block.name_code)
    churned = result.churn_day < NEVER
    has_addon = block.addon_day < np.minimum(result.churn_day, tl.n_days)
    created_day = block.created_ms // DAY_MS

    def acc(rows: npt.NDArray[np.int64]) -> pa.Array:
        return pc.take(acc_ids, pa.array(rows))

    def user(rows: npt.NDArray[np.int64]) -> pa.Array:
        return pc.take(user_ids, pa.array(rows - first_user))

    out = {
        "accounts": _table(
            "accounts",
            acc_ids,
            pa.array(names, _S),
            _labels(SEGMENTS, block.segment),
            _labels(PLANS, block.plan),
            _ts(block.created_ms, tl),
            _labels(words.OWNERS, block.owner),
            pa.array(np.round(12 * (block.core_mrr + has_addon * block.addon_mrr), 2)),
            pa.array(block.seats),
            _dates(_renewal_day(created_day, tl), tl),
            pa.array(domains, _S),
            _labels(tuple(w for w, _ in words.INDUSTRIES), block.industry),
            _labels(tuple(w for w, _ in words.COUNTRIES), block.country),
        ),
        "identities": _identities(block, user_ids, acc_ids, domains, n_users, rng),
    }
    ev = dict(result.events, event_id=num.take("events", len(result.events["acc"])))
    if events_by_time:
        by_time = np.argsort(ev["ts"], kind="stable")
        ev = {k: v[by_time] for k, v in ev.items()}
    out["events"] = _table(
        "events",
        pa.array(ev["event_id"]),
        acc(ev["acc"]),
        user(ev["user"]),
        _ts(ev["ts"], tl),
        _labels(EVENT_TYPES, ev["kind"]),
        pa.array(ev["value"]),
    )
    # Core subscription for every account, then the add-on right after it, if any.
    sub_acc = np.concatenate([np.arange(n), np.flatnonzero(has_addon)])
    order = np.argsort(sub_acc, kind="stable")
    sub_acc, addon = sub_acc[order], order >= n
    out["subscriptions"] = _table(
        "subscriptions",
        ids("sub_", num.take("subscriptions", len(sub_acc)), ID_WIDTH),
        acc(sub_acc),
        _labels(("core", "addon_analytics"), addon.astype(np.int64)),
        _dates(np.where(addon, block.addon_day[sub_acc], created_day[sub_acc]), tl),
        _dates(result.churn_day[sub_acc], tl, null=~churned[sub_acc]),
        pa.array(np.where(addon, block.addon_mrr[sub_acc], block.core_mrr[sub_acc])),
    )
    inv = _by_account(result.invoices, "ts")
    out["invoices"] = _table(
        "invoices",
        ids("inv_", num.take("invoices", len(inv["acc"])), ID_WIDTH),
        acc(inv["acc"]),
        _ts(inv["ts"], tl),
        pa.array(inv["amount"]),
        _labels(INVOICE_STATUSES, inv["status"]),
    )
    tk = _by_account(result.tickets, "opened")
    out["tickets"] = _table(
        "tickets",
        ids("tkt_", num.take("tickets", len(tk["acc"])), ID_WIDTH),
        acc(tk["acc"]),
        _ts(tk["opened"], tl),
        _ts(tk["closed"], tl, null=tk["closed"] < 0),
        _labels(PRIORITIES, tk["priority"]),
        pa.array(tk["csat"], from_pandas=True),
    )
    sv = _by_account(result.surveys, "ts")
    out["surveys"] = _table(
        "surveys",
        ids("srv_", num.take("surveys", len(sv["acc"])), ID_WIDTH),
        acc(sv["acc"]),
        user(sv["user"]),
        _ts(sv["ts"], tl),
        pa.repeat(pa.scalar("nps", _S), len(sv["acc"])),
        pa.array(sv["score"]),
    )
    gone = np.flatnonzero(churned)
    out["outcomes"] = _table(
        "outcomes",
        acc(gone),
        _ts(result.churn_day[gone] * DAY_MS, tl),
        pa.repeat(pa.scalar("churned", _S), len(gone)),
    )
    return out


def _by_account(rows: Rows, time_key: str) -> Rows:
    order = np.lexsort((rows[time_key], rows["acc"]))
    return {k: v[order] for k, v in rows.items()}


def _names_and_domains(codes: I64) -> tuple[list[str], list[str]]:
    n_p, n_n, n_v = (
        len(w) for w in (words.COMPANY_PREFIXES, words.COMPANY_NOUNS, words.DOMAIN_VARIANTS)
    )
    names, domains = [], []
    for code in codes.tolist():
        rest, variant = divmod(code, n_v)
        rest, noun = divmod(rest, n_n)
        number, prefix = divmod(rest, n_p)
        p, w = words.COMPANY_PREFIXES[prefix], words.COMPANY_NOUNS[noun]
        names.append(f"{p} {w}")
        suffix = str(number + 1) if number else ""
        domains.append(words.DOMAIN_VARIANTS[variant].format(p=p.lower(), n=w.lower() + suffix))
    return names, domains


def _renewal_day(created_day: I64, tl: Timeline) -> I64:
    """Next anniversary of created_at strictly after the last day of data (Feb 29 -> 28)."""
    created = np.datetime64(tl.start, "D") + created_day
    month = created.astype("datetime64[M]")
    dom = (created - month).astype(np.int64)
    dom = np.where((month.astype(np.int64) % 12 == 1) & (dom == 28), 27, dom)
    last = np.datetime64(tl.end_excl, "D") - 1
    years = last.astype("datetime64[Y]").astype(np.int64) - month.astype("datetime64[Y]").astype(
        np.int64
    )
    renewal = (month + 12 * years).astype("datetime64[D]") + dom
    later = (month + 12 * (years + 1)).astype("datetime64[D]") + dom
    renewal = np.where(renewal <= last, later, renewal)
    return np.asarray(renewal - np.datetime64(tl.start, "D"), dtype=np.int64)


def _identities(
    block: Population,
    user_ids: pa.Array,
    acc_ids: pa.Array,
    domains: list[str],
    n_users: int,
    rng: np.random.Generator,
) -> pa.Table:
    acc = np.repeat(np.arange(len(block)), block.n_users)
    rank = np.arange(n_users) - np.repeat(np.cumsum(block.n_users) - block.n_users, block.n_users)
    n_last = len(words.LAST_NAMES)
    pair = (block.email_mult[acc] * rank + block.email_shift[acc]) % (
        len(words.FIRST_NAMES) * n_last
    )
    first = pc.take(pa.array(words.FIRST_NAMES, _S), pa.array(pair // n_last))
    last = pc.take(pa.array(words.LAST_NAMES, _S), pa.array(pair % n_last))
    freemail = rng.random(n_users) < FREEMAIL_SHARE
    which = rng.integers(0, len(words.FREEMAIL_DOMAINS), n_users)
    mailbox = pc.take(pa.array(words.FREEMAIL_DOMAINS, _S), pa.array(which))
    domain = pc.if_else(pa.array(freemail), mailbox, pc.take(pa.array(domains, _S), pa.array(acc)))
    # A user number keeps freemail addresses unique across accounts.
    number = pc.cast(pa.array(block.user_start[0] + np.arange(n_users) + 1), _S)
    tag = pc.if_else(pa.array(freemail), number, pa.scalar("", _S))
    email = pc.binary_join_element_wise(first, ".", last, tag, "@", domain, "")
    return _table("identities", user_ids, email, pc.take(acc_ids, pa.array(acc)))

"""API keys with a role each, for the REST service; only a hash of each secret is kept.

A token reads `hs_<key_id>_<secret>`: the key id finds the row without a scan, the hash
of the whole token proves the secret. The token is shown once, when the key is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any, Literal

import pandas as pd

from healthscore.store._database import Database, StoreError
from healthscore.store._overrides import audit
from healthscore.store._runs import new_id, utc_now
from healthscore.store._schema import API_KEYS

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
"""Every role, least allowed first: each one may do what the ones before it may."""

# Key ids come from `new_id("key")` and hold no "_", so the first "_" after them ends them;
# the secret is `secrets.token_urlsafe(32)`: 43 URL-safe characters.
_TOKEN = re.compile(r"hs_(?P<key_id>key-[0-9A-Za-z-]{1,60})_[0-9A-Za-z_-]{43}")
_TOUCH_EVERY = dt.timedelta(minutes=1)
_LISTED = "key_id, name, role, created_at, created_by, last_used_at, revoked_at, revoked_by"


class ApiKeyError(StoreError):
    """An API key that cannot be made or revoked (unknown role, no name, unknown key...)."""


@dataclass(frozen=True)
class ApiKey:
    """One API key as stored, without its secret or the secret's hash."""

    key_id: str
    name: str
    role: Role
    created_at: dt.datetime
    created_by: str | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None


def allows(role: Role, needed: Role) -> bool:
    """Whether a key of `role` may do what needs `needed`.

    >>> allows("admin", "editor"), allows("viewer", "editor")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


def create_key(db: Database, name: str, role: str, by: str) -> tuple[ApiKey, str]:
    """Make a key; returns it and its token, which is not stored and cannot be shown again.

    >>> key, token = create_key(db, "billing sync", "viewer", by="dana")  # doctest: +SKIP
    >>> authenticate(db, token).role  # doctest: +SKIP
    'viewer'
    """
    problems = []
    checked = _role(role)
    if checked is None:
        problems.append(f"The 'role' must be one of {', '.join(ROLES)}. Got '{role}' instead")
    if not name.strip():
        problems.append("The 'name' must say what the key is for. Got nothing instead")
    if not by.strip():
        problems.append("The 'by' must name who makes the key. Got nothing instead")
    if checked is None or problems:
        raise ApiKeyError("API key not made: " + "; ".join(problems) + ".")
    key = ApiKey(
        key_id=new_id("key"),
        name=name.strip(),
        role=checked,
        created_at=utc_now(),
        created_by=by,
        last_used_at=None,
        revoked_at=None,
        revoked_by=None,
    )
    token = f"hs_{key.key_id}_{secrets.token_urlsafe(32)}"
    with db.transaction():
        db.execute(
            f"INSERT INTO {API_KEYS} (key_id, name, role, secret_hash, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key.key_id, key.name, key.role, _hash(token), key.created_at, by),
        )
        audit(db, by, "key.create", f"key:{key.key_id}", {"name": key.name, "role": key.role})
    return key, token


def authenticate(db: Database, token: str) -> ApiKey | None:
    """The active key a token belongs to, else None (malformed, unknown, wrong, revoked).

    Never raises on what a client sends. The key's `last_used_at` is written at most once
    a minute, so a busy client does not cost a write per request.
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    rows = db.query(
        f"SELECT {_LISTED}, secret_hash FROM {API_KEYS} WHERE key_id = ?", (match["key_id"],)
    )
    if rows.empty:
        return None
    row = rows.iloc[0]
    if not hmac.compare_digest(str(row["secret_hash"]), _hash(token)):
        return None
    key = _record(row)
    if key is None or key.revoked_at is not None:
        return None
    now = utc_now()
    if key.last_used_at is None or now - key.last_used_at >= _TOUCH_EVERY:
        db.execute(
            f"UPDATE {API_KEYS} SET last_used_at = ? WHERE key_id = ? "
            "AND (last_used_at IS NULL OR last_used_at <= ?)",
            (now, key.key_id, now - _TOUCH_EVERY),
        )
        key = replace(key, last_used_at=now)
    return key


def list_keys(db: Database) -> pd.DataFrame:
    """Every key, revoked ones too, oldest first; never a secret's hash."""
    return db.query(f"SELECT {_LISTED} FROM {API_KEYS} ORDER BY created_at, key_id")


def revoke_key(db: Database, key_id: str, by: str) -> ApiKey:
    """End a key now; requests with its token fail from then on. Returns the revoked key."""
    if not by.strip():
        raise ApiKeyError(
            f"API key '{key_id}' not revoked: the 'by' must name who revokes it. "
            "Got nothing instead."
        )
    rows = db.query(f"SELECT {_LISTED} FROM {API_KEYS} WHERE key_id = ?", (key_id,))
    if rows.empty:
        known = db.query(
            f"SELECT key_id FROM {API_KEYS} WHERE revoked_at IS NULL ORDER BY created_at"
        )
        active = [str(k) for k in known["key_id"]]
        raise ApiKeyError(
            f"No API key '{key_id}'. Active keys: {', '.join(active) or 'none'}. "
            "Suggestion: copy the id from `healthscore keys list`."
        )
    key = _record(rows.iloc[0])
    if key is None:
        raise ApiKeyError(f"API key '{key_id}' has an unknown role; revoke it in the database.")
    if key.revoked_at is not None:
        raise ApiKeyError(
            f"API key '{key_id}' was revoked already, at {key.revoked_at:%Y-%m-%d %H:%M} UTC "
            f"by {key.revoked_by}."
        )
    now = utc_now()
    with db.transaction():
        db.execute(
            f"UPDATE {API_KEYS} SET revoked_at = ?, revoked_by = ? WHERE key_id = ?",
            (now, by, key_id),
        )
        audit(db, by, "key.revoke", f"key:{key_id}", {"name": key.name, "role": key.role})
    return replace(key, revoked_at=now, revoked_by=by)


def _hash(token: str) -> str:
    # The secret is 256 random bits, so no guessing attack needs slowing down: one SHA-256
    # (as GitHub and Stripe do for their tokens) is safe and keeps each request cheap,
    # where scrypt or PBKDF2 would cost tens of milliseconds on every call.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role(text: str) -> Role | None:
    match text:
        case "viewer" | "editor" | "admin":
            return text
        case _:
            return None


def _record(row: pd.Series[Any]) -> ApiKey | None:
    """A stored row as a key; None when its role is not one we know (it then allows nothing)."""
    role = _role(str(row["role"]))
    created_at = _timestamp(row["created_at"])
    if role is None or created_at is None:
        return None
    return ApiKey(
        key_id=str(row["key_id"]),
        name=str(row["name"]),
        role=role,
        created_at=created_at,
        created_by=_text(row["created_by"]),
        last_used_at=_timestamp(row["last_used_at"]),
        revoked_at=_timestamp(row["revoked_at"]),
        revoked_by=_text(row["revoked_by"]),
    )


def _timestamp(value: Any) -> dt.datetime | None:
    # DuckDB hands back pandas timestamps (NaT for NULL), psycopg datetimes (None).
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)

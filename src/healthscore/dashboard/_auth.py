"""Dashboard sessions: an API key signs in once; the browser holds only a random id.

The cookie carries a random session id. The server maps it, in memory, to the key's id,
name and role, an expiry and the session's CSRF token; the key itself is never stored
or sent back. Every request re-reads the key's row, so a revoked key ends its sessions.
Sessions live as long as the process: a restart signs everyone out.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
from dataclasses import dataclass

from fastapi import Request, Response

from healthscore.store._database import Database
from healthscore.store._keys import ApiKey, Role, allows
from healthscore.store._schema import API_KEYS

COOKIE = "hs_session"
LOGIN_COOKIE = "hs_login"  # the login form's own CSRF token, before any session exists
PATH = "/ui"
LIFETIME = dt.timedelta(hours=8)
LOGIN_LIFETIME = dt.timedelta(hours=1)
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    key_id: str
    name: str
    role: Role
    csrf: str
    expires: dt.datetime

    def may(self, needed: Role) -> bool:
        return allows(self.role, needed)


class Sessions:
    """Session id -> session, for one app; thread-safe (handlers run in a thread pool)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, key: ApiKey, now: dt.datetime | None = None) -> tuple[str, Session]:
        moment = now or _now()
        session_id = secrets.token_urlsafe(32)
        session = Session(
            key.key_id, key.name, key.role, secrets.token_urlsafe(32), moment + LIFETIME
        )
        with self._lock:
            self._drop_expired(moment)
            if len(self._by_id) >= MAX_SESSIONS:  # the oldest go first
                oldest = sorted(self._by_id, key=lambda i: self._by_id[i].expires)
                for stale in oldest[: len(self._by_id) - MAX_SESSIONS + 1]:
                    del self._by_id[stale]
            self._by_id[session_id] = session
        return session_id, session

    def get(self, session_id: str, now: dt.datetime | None = None) -> Session | None:
        with self._lock:
            session = self._by_id.get(session_id)
            if session is not None and session.expires <= (now or _now()):
                del self._by_id[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._by_id.pop(session_id, None)

    def _drop_expired(self, now: dt.datetime) -> None:
        for session_id in [i for i, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[session_id]


_CREATE_LOCK = threading.Lock()


def sessions_of(request: Request) -> Sessions:
    """The app's session table, made on first use (the app's state outlives requests)."""
    state = request.app.state
    with _CREATE_LOCK:
        found = getattr(state, "dashboard_sessions", None)
        if not isinstance(found, Sessions):
            found = Sessions()
            state.dashboard_sessions = found
    return found


def current(request: Request, db: Database) -> Session | None:
    """The request's session when its cookie is known, unexpired and its key still active."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    sessions = sessions_of(request)
    session = sessions.get(session_id)
    if session is None:
        return None
    if not key_active(db, session.key_id):
        sessions.end(session_id)
        return None
    return session


def key_active(db: Database, key_id: str) -> bool:
    rows = db.query(f"SELECT revoked_at FROM {API_KEYS} WHERE key_id = ?", (key_id,))
    return bool(not rows.empty and rows["revoked_at"].isna().all())


def same_token(expected: str, given: str | None) -> bool:
    """Whether a submitted CSRF token is the expected one (compared in constant time)."""
    return bool(expected) and given is not None and hmac.compare_digest(expected, given)


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def start(request: Request, response: Response, key: ApiKey) -> None:
    """Sign the browser in: a new session id (never one the browser brought along)."""
    old = request.cookies.get(COOKIE)
    sessions = sessions_of(request)
    if old:
        sessions.end(old)
    session_id, _ = sessions.start(key)
    set_cookie(request, response, COOKIE, session_id, int(LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path=PATH, httponly=True, samesite="strict")


def end(request: Request, response: Response) -> None:
    session_id = request.cookies.get(COOKIE)
    if session_id:
        sessions_of(request).end(session_id)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def login_token(request: Request) -> str:
    """The login form's token: the one the browser holds already, else a new one."""
    held = request.cookies.get(LOGIN_COOKIE)
    return held if held and len(held) >= 32 else secrets.token_urlsafe(32)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

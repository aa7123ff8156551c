"""Dashboard pages (served by the same process as the REST API).

Every page but the sign-in page and the static files needs a session; a missing or
expired one redirects to `/ui/login`. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthscore.dashboard import _account, _auth, _login, _portfolio, _scorecard, _static
from healthscore.dashboard._auth import Session
from healthscore.dashboard._context import service_of
from healthscore.dashboard._forms import Override, form_of, read_override
from healthscore.dashboard._html import Html, account_url, document, fill, masthead
from healthscore.dashboard._queries import actions_of, override_in_force, recent_events
from healthscore.store import OverrideError
from healthscore.store._keys import authenticate

router = APIRouter(include_in_schema=False)
Form = Annotated[dict[str, str], Depends(form_of)]

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
NOTICES = {
    "override": "Override saved. The account is being rescored; reload in a moment.",
    "revoked": "Override revoked. The account is being rescored; reload in a moment.",
    "none": "No override was in force.",
}


def _public_page(body: Html, title: str, status_code: int = 200) -> HTMLResponse:
    page = document(title, body, _static.urls())
    return HTMLResponse(page, status_code=status_code, headers=HEADERS)


def _signed_in_page(
    request: Request, session: Session, body: Html, title: str, active: str = "", code: int = 200
) -> HTMLResponse:
    card = service_of(request).engine.scorecard
    header = masthead(
        active, session.name, session.role, session.csrf, f"{card.name} {card.version}"
    )
    return HTMLResponse(
        document(title, body, _static.urls(), header), status_code=code, headers=HEADERS
    )


def _problem(request: Request, session: Session, code: int, message: str) -> HTMLResponse:
    body = fill('<section><h2>{c}</h2><p class="error">{m}</p></section>', c=code, m=message)
    return _signed_in_page(request, session, body, str(code), code=code)


def _session(request: Request) -> Session | None:
    return _auth.current(request, service_of(request).engine.store.db)


def _to_login(request: Request) -> RedirectResponse:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = _login.safe_next(wanted)
    suffix = "" if target == "/ui/" else f"?next={quote(target, safe='')}"
    return RedirectResponse(f"/ui/login{suffix}", status_code=303, headers=HEADERS)


def _csrf_refused(request: Request, session: Session) -> HTMLResponse:
    return _problem(
        request, session, 403, "The form's security token does not match; reload the page."
    )


# ------------------------------------------------------------------ static files


@router.get("/ui/static/{name}")
def static_file(name: str, request: Request) -> Response:
    item = _static.asset(name)
    if item is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return _static.respond(request, item)


# ------------------------------------------------------------------ signing in and out


@router.get("/ui")
def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/login")
def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/ui/"
) -> Response:
    token = _auth.login_token(request)
    response = _public_page(_login.login_form(token, _login.safe_next(next_path)), "Sign in")
    lifetime = int(_auth.LOGIN_LIFETIME.total_seconds())
    _auth.set_cookie(request, response, _auth.LOGIN_COOKIE, token, lifetime)
    return response


@router.post("/ui/login")
def login(request: Request, form: Form) -> Response:
    expected = request.cookies.get(_auth.LOGIN_COOKIE, "")
    if not _auth.same_token(expected, form.get("csrf")):
        return _public_page(
            fill(
                '<div class="login"><p class="error">{m}</p><a href="/ui/login">Sign in</a></div>',
                m="The sign-in form expired or came from elsewhere.",
            ),
            "Sign in",
            403,
        )
    target = _login.safe_next(form.get("next"))
    key = authenticate(service_of(request).engine.store.db, form.get("key", "").strip())
    if key is None:
        page = _login.login_form(expected, target, "Unknown or revoked API key.")
        return _public_page(page, "Sign in", 401)
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    _auth.start(request, response, key)
    return response


@router.get("/ui/logout")
def logout_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _signed_in_page(request, session, _login.logout_form(session.csrf), "Log out")


@router.post("/ui/logout")
def logout(request: Request, form: Form) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not _auth.same_token(session.csrf, form.get("csrf")):
        return _csrf_refused(request, session)
    response = RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
    _auth.end(request, response)
    return response


# ------------------------------------------------------------------ pages


@router.get("/ui/")
def portfolio(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    query = request.query_params
    filters = {name: query.get(name) or None for name in ("segment", "owner", "tier")}
    page = int(query["page"]) if query.get("page", "").isdigit() else 1
    body = _portfolio.render(service_of(request).engine, filters, page)
    return _signed_in_page(request, session, body, "Portfolio", "portfolio")


@router.get("/ui/scorecard")
def scorecard(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    body = _scorecard.render(service_of(request).engine)
    return _signed_in_page(request, session, body, "Scorecard", "scorecard")


def _account_data(request: Request, account_id: str) -> _account.AccountData | None:
    service = service_of(request)
    engine = service.engine
    history = engine.history(account_id)
    if history.empty:
        return None
    name = engine.scorecard.name
    return _account.AccountData(
        account_id=account_id,
        history=history,
        events=service.call(lambda e: recent_events(e, account_id)),
        tasks=engine.tasks("open", None, account_id),
        actions=actions_of(engine.store.db, name, account_id),
        override=override_in_force(engine.store.db, name, account_id),
    )


def _account_page(
    request: Request,
    session: Session,
    account_id: str,
    form: _account.OverrideForm | None = None,
    code: int = 200,
) -> Response:
    data = _account_data(request, account_id)
    if data is None:
        return _problem(request, session, 404, f"No stored score for account '{account_id}'.")
    body = _account.render(service_of(request).engine, data, session, form)
    notice = NOTICES.get(request.query_params.get("saved", ""))
    if notice:
        body = Html(fill('<p class="notice" id="saved">{n}</p>', n=notice) + body)
    return _signed_in_page(request, session, body, account_id, code=code)


@router.get("/ui/accounts/{account_id}")
def account(account_id: str, request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _account_page(request, session, account_id)


@router.post("/ui/accounts/{account_id}/override")
def set_override(account_id: str, request: Request, form: Form) -> Response:
    session = _editor(request, form, "Overrides need")
    if isinstance(session, Response):
        return session
    service = service_of(request)
    tiers = tuple(t.name for t in service.engine.scorecard.tiers)
    sent = _account.OverrideForm(
        score=form.get("score", ""),
        tier=form.get("tier", ""),
        reason=form.get("reason", ""),
        until=form.get("until", ""),
    )
    wanted = read_override(form, tiers)
    if not isinstance(wanted, Override):
        return _account_page(request, session, account_id, _with(sent, wanted), 422)
    try:
        service.call(
            lambda engine: engine.override(
                account_id,
                score=wanted.score,
                tier=wanted.tier,
                reason=wanted.reason,
                by=f"ui:{session.name}",
                until=wanted.until,
            )
        )
    except OverrideError as error:
        if "unknown account" in str(error):
            return _problem(request, session, 404, str(error))
        return _account_page(request, session, account_id, _with(sent, [str(error)]), 422)
    service.rescorer.request([account_id])
    return RedirectResponse(
        account_url(account_id) + "?saved=override#override", status_code=303, headers=HEADERS
    )


@router.post("/ui/accounts/{account_id}/override/revoke")
def revoke_override(account_id: str, request: Request, form: Form) -> Response:
    session = _editor(request, form, "Revoking an override needs")
    if isinstance(session, Response):
        return session
    service = service_of(request)
    ended = service.call(lambda engine: engine.revoke_override(account_id, f"ui:{session.name}"))
    if ended:
        service.rescorer.request([account_id])
    saved = "revoked" if ended else "none"
    return RedirectResponse(
        account_url(account_id) + f"?saved={saved}#override", status_code=303, headers=HEADERS
    )


def _editor(request: Request, form: dict[str, str], action: str) -> Session | Response:
    """The session of a signed-in editor whose form carries its CSRF token; else the answer
    (sign in, 403 for a bad token or a viewer) to send instead."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not _auth.same_token(session.csrf, form.get("csrf")):
        return _csrf_refused(request, session)
    if not session.may("editor"):
        message = f"{action} the editor role; key '{session.name}' is {session.role}."
        return _problem(request, session, 403, message)
    return session


def _with(form: _account.OverrideForm, problems: list[str]) -> _account.OverrideForm:
    return _account.OverrideForm(form.score, form.tier, form.reason, form.until, tuple(problems))

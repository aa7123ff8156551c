"""The dashboard: sessions from API keys, CSRF, roles, the queue's filters, and every page
driven in real Chromium against a real server with the network off.

The browser test needs Debian's Chromium (`apt-get install chromium`); set
HEALTHSCORE_SKIP_BROWSER=1 to skip it where Chromium cannot be installed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from healthscore import Engine
from healthscore.api import ServiceSettings, create_app
from healthscore.dashboard._queries import actions_of, tiers_over_time
from healthscore.store._keys import create_key, revoke_key
from tests._stores import STORE_KINDS, fresh_store_target
from tests.conftest import AS_OF, EXAMPLE, duckdb_with, toy_frames
from tests.test_api import Api, project
from tests.test_report import chromium

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TOTAL = re.compile(r'data-total="(\d+)"')
QUEUE = re.compile(r'<table class="grid queue">.*?</table>', re.DOTALL)
TIER = re.compile(r'<span class="tier" style="[^"]*">([^<]*)</span>')
FIGURE = re.compile(r'<script type="application/json" id="([^"]+)-data">(.*?)</script>')
UNTIL = str(dt.date.today() + dt.timedelta(days=10))


def dashboard_project(folder: Path) -> Path:
    """The API tests' warehouse, with owners, `value: seats`, playbook actions and a
    history whose first run is of an older scorecard version."""
    card = project(folder)
    with duckdb.connect(str(folder / "healthscore.duckdb")) as con:
        con.execute("ALTER TABLE accounts ADD COLUMN owner TEXT")
        con.execute(
            "UPDATE accounts SET owner = CASE WHEN account_id < 'a030' THEN 'Ana Lima' "
            "ELSE 'Ben <Okoro>' END"
        )
    card.write_text(card.read_text() + "\nvalue: seats\n")
    older = folder / "older.yaml"
    older.write_text(card.read_text().replace('version: "1.2.0"', 'version: "1.1.9"'))
    for path, days in ((older, 14), (card, 7), (card, 0)):
        engine = Engine(path)
        try:
            engine.run(as_of=AS_OF - dt.timedelta(days=days))
            engine.run_playbooks()
        finally:
            engine.con.disconnect()
    return card


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    card = dashboard_project(tmp_path_factory.mktemp("dashboard"))
    with TestClient(create_app(ServiceSettings(scorecard=card))) as client:
        yield Api(client)


def sign_in(api: Api, role: str) -> str:
    """A fresh session for the role's key; returns the session's CSRF token."""
    api.client.cookies.clear()
    form = api.client.get("/ui/login")
    token = CSRF.search(form.text)
    assert token is not None
    done = api.client.post(
        "/ui/login",
        data={"key": api.keys[role], "csrf": token[1], "next": "/ui/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = api.client.get("/ui/")
    found = CSRF.search(page.text)
    assert page.status_code == 200 and found is not None
    return found[1]


def figures(page: str) -> dict[str, dict[str, object]]:
    return {name: json.loads(body) for name, body in FIGURE.findall(page)}


def test_pages_need_a_session(api: Api) -> None:
    api.client.cookies.clear()
    for path, target in (
        ("/ui/", "/ui/login"),
        ("/ui/scorecard", "/ui/login?next=%2Fui%2Fscorecard"),
        ("/ui/accounts/a001", "/ui/login?next=%2Fui%2Faccounts%2Fa001"),
    ):
        answer = api.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == target, path
    api.client.cookies.set("hs_session", "made-up", path="/ui")
    assert api.client.get("/ui/", follow_redirects=False).status_code == 303
    api.client.cookies.clear()
    assert api.client.get("/ui/login?next=https://evil.example/").text.count("evil") == 0
    plotly = api.client.get("/ui/static/plotly.min.js")  # assets need no session
    assert plotly.status_code == 200 and "immutable" in plotly.headers["cache-control"]
    assert api.client.get("/ui/static/secrets.txt").status_code == 404


def test_login_flow_and_cookie_flags(api: Api) -> None:
    api.client.cookies.clear()
    form = api.client.get("/ui/login")
    token = CSRF.search(form.text)
    assert form.status_code == 200 and token is not None
    wrong = api.client.post("/ui/login", data={"key": "hs_key-x_nope", "csrf": token[1]})
    assert wrong.status_code == 401 and "Unknown or revoked API key" in wrong.text
    forged = api.client.post("/ui/login", data={"key": api.keys["viewer"], "csrf": "forged"})
    assert forged.status_code == 403
    done = api.client.post(
        "/ui/login",
        data={"key": api.keys["viewer"], "csrf": token[1], "next": "/ui/scorecard"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/ui/scorecard"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("hs_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ui"} <= flags
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert api.keys["viewer"] not in cookie and len(session_id) >= 40
    page = api.client.get("/ui/scorecard")
    assert page.status_code == 200 and "saas_health" in page.text
    assert "no backtest stored: run <code>healthscore backtest --json" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    csrf = CSRF.search(page.text)
    assert csrf is not None
    out = api.client.post("/ui/logout", data={"csrf": csrf[1]}, follow_redirects=False)
    assert out.status_code == 303
    api.client.cookies.set("hs_session", session_id, path="/ui")  # the old id is dead
    assert api.client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_its_sessions(api: Api) -> None:
    db = api.service.engine.store.db
    key, token = create_key(db, "short-lived", "viewer", "test")
    api.client.cookies.clear()
    form = CSRF.search(api.client.get("/ui/login").text)
    assert form is not None
    api.client.post("/ui/login", data={"key": token, "csrf": form[1]})
    assert api.client.get("/ui/", follow_redirects=False).status_code == 200
    revoke_key(db, key.key_id, "test")
    assert api.client.get("/ui/", follow_redirects=False).status_code == 303


def test_csrf_mismatch_is_refused(api: Api) -> None:
    sign_in(api, "editor")
    body = {"score": "20", "reason": "test", "until": UNTIL}
    for token in (None, "wrong"):
        sent = body if token is None else {**body, "csrf": token}
        answer = api.client.post("/ui/accounts/a002/override", data=sent)
        assert answer.status_code == 403 and "security token" in answer.text
    assert api.client.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
    assert api.service.engine.audit_log()["object"].ne("account:a002").all()


def test_viewer_cannot_override(api: Api) -> None:
    csrf = sign_in(api, "viewer")
    page = api.client.get("/ui/accounts/a001")
    assert page.status_code == 200 and 'id="override-form"' not in page.text
    body = {"csrf": csrf, "score": "20", "reason": "test", "until": UNTIL}
    answer = api.client.post("/ui/accounts/a001/override", data=body)
    assert answer.status_code == 403 and "editor role" in answer.text
    revoke = api.client.post("/ui/accounts/a001/override/revoke", data={"csrf": csrf})
    assert revoke.status_code == 403


def test_filters_narrow_the_queue(api: Api) -> None:
    sign_in(api, "viewer")
    current = api.service.engine.store.current("saas_health")

    def queue(**params: str) -> tuple[int, list[str], str]:
        page = api.client.get("/ui/", params=params)
        total = TOTAL.search(page.text)
        table = QUEUE.search(page.text)
        assert page.status_code == 200 and total is not None
        return int(total[1]), TIER.findall(table[0]) if table else [], page.text

    everyone, tiers, page = queue()
    assert everyone == len(current) and len(tiers) == 25 and "page 1 of 3" in page
    red, tiers, _ = queue(tier="red")
    assert red == (current["tier"] == "red").sum() and 0 < red < everyone
    assert set(tiers) == {"red"}
    ben, _, page = queue(owner="Ben <Okoro>")
    assert ben == (current["owner"] == "Ben <Okoro>").sum() and "Ben &lt;Okoro&gt;" in page
    both, _, _ = queue(owner="Ana Lima", segment="enterprise", tier="green")
    picked = current[
        (current["owner"] == "Ana Lima")
        & (current["segment"] == "enterprise")
        & (current["tier"] == "green")
    ]
    assert both == len(picked) < everyone
    _, tiers, page = queue(page="3")
    assert len(tiers) == everyone - 50 and "page 3 of 3" in page
    assert queue(tier="no such tier")[0] == 0


def test_portfolio_charts(api: Api) -> None:
    sign_in(api, "viewer")
    page = api.client.get("/ui/").text
    shown = figures(page)
    assert set(shown) == {"chart-tiers", "chart-scores", "chart-risk-value"}
    tiers = shown["chart-tiers"]["data"]
    assert isinstance(tiers, list) and len(tiers[0]["x"]) == 3  # three full live runs
    assert "Biggest movers this week" in page and 'href="/ui/accounts/' in page


def test_account_page(api: Api) -> None:
    sign_in(api, "viewer")
    page = api.client.get("/ui/accounts/a001")
    assert page.status_code == 200
    shown = figures(page.text)
    assert set(shown) == {"chart-history", "chart-impacts"}
    notes = shown["chart-history"]["layout"]["annotations"]  # type: ignore[index]
    assert [n["text"] for n in notes] == ["version 1.1.9 → 1.2.0"]
    assert "Drags" in page.text and "Every measure" in page.text
    events = page.text.split('id="events"')[1].split("</section>")[0]
    assert events.count("<tr>") == 1 + 20  # header and the newest 20
    missing = api.client.get("/ui/accounts/nobody")
    assert missing.status_code == 404


def test_editor_sets_and_revokes_an_override(api: Api) -> None:
    csrf = sign_in(api, "editor")
    bad = {"csrf": csrf, "score": "140", "tier": "purple", "reason": " ", "until": "2001-01-01"}
    refused = api.client.post("/ui/accounts/a003/override", data=bad)
    assert refused.status_code == 422 and refused.text.count("<li>") == 4
    assert 'value="140"' in refused.text  # what was sent stays in the form
    reason = "Sponsor left <script>alert(1)</script>"
    body = {"csrf": csrf, "score": "20", "tier": "", "reason": reason, "until": UNTIL}
    made = api.client.post("/ui/accounts/a003/override", data=body, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith("?saved=override#override")
    assert api.service.rescorer.flush()
    page = api.client.get(made.headers["location"]).text
    assert "Override in force" in page and "<script>alert" not in page
    assert "Sponsor left &lt;script&gt;" in page
    assert re.search(r'id="account-score">20\.0<', page)
    assert api.service.engine.audit_log()["actor"].iloc[0] == "ui:editor"
    gone = api.client.post("/ui/accounts/a003/override/revoke", data={"csrf": csrf})
    assert gone.status_code == 200 and "Override revoked" in gone.text
    assert "Override in force" not in gone.text
    assert api.service.rescorer.flush()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_store_queries_on_both_databases(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = fresh_store_target(request, kind, tmp_path)
    # A copy: the example's journey playbook writes its file beside the scorecard.
    card = tmp_path / "scorecard.yaml"
    card.write_text(EXAMPLE.read_text())
    engine = Engine(card, duckdb_with(toy_frames()), store=target)
    try:
        runs = []
        for days in (7, 0, 0):  # the date scored twice counts once: its latest run
            runs.append(engine.run(as_of=AS_OF - dt.timedelta(days=days)))
            engine.run_playbooks()
        engine.rescore(["a001"], as_of=AS_OF + dt.timedelta(days=1))  # not a full run
        counts = tiers_over_time(engine.store.db, "saas_health")
        assert list(counts["as_of"].unique()) == [str(AS_OF - dt.timedelta(days=7)), str(AS_OF)]
        latest = counts[counts["as_of"] == str(AS_OF)].set_index("tier")["accounts"]
        expected = engine.store.scores(runs[-1].run_id)["tier"].value_counts()
        assert latest.to_dict() == expected.to_dict()
        logged = engine.actions()
        some = str(logged["account_id"].iloc[0])
        mine = actions_of(engine.store.db, "saas_health", some)
        assert len(mine) == (logged["account_id"] == some).sum() > 0
    finally:
        engine.close()


def test_pages_before_any_run(tmp_path: Path) -> None:
    card = project(tmp_path)
    with TestClient(create_app(ServiceSettings(scorecard=card))) as client:
        fresh = Api(client)
        sign_in(fresh, "viewer")
        page = client.get("/ui/")
        assert page.status_code == 200 and "No live run yet" in page.text
        assert 'data-total="0"' in page.text and "chart-risk-value" not in page.text
        assert client.get("/ui/scorecard").status_code == 200
        assert client.get("/ui/accounts/a001").status_code == 404


# ---------------------------------------------------------------------- real browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    chromium()  # skips (HEALTHSCORE_SKIP_BROWSER=1) before anything starts
    card = dashboard_project(tmp_path)
    engine = Engine(card)
    try:
        keys = {r: create_key(engine.store.db, r, r, "test")[1] for r in ("viewer", "editor")}
    finally:
        engine.con.disconnect()
    port = free_port()
    app = create_app(ServiceSettings(scorecard=card))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", keys
    finally:
        running.should_exit = True
        thread.join(timeout=30)


def test_every_page_works_offline_in_chromium(server: tuple[str, dict[str, str]]) -> None:
    executable = chromium()
    from playwright.sync_api import Page, Route, sync_playwright

    base, keys = server
    assert httpx.get(f"{base}/v1/health").json() == {"status": "ok"}
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def drawn(page: Page) -> int:
        page.wait_for_function(
            """() => document.body.dataset.charts === 'drawn' && typeof Plotly === 'object'
                && Array.from(document.querySelectorAll('[data-figure]')).every(
                    d => d.querySelector('svg.main-svg') && d.data && d.data.length > 0)""",
            timeout=20_000,
        )
        return int(page.evaluate("document.querySelectorAll('[data-figure]').length"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.route("**/*", local_only)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.goto(f"{base}/ui/accounts/a001")
            assert page.url.startswith(f"{base}/ui/login")
            page.fill("#key", keys["editor"])
            page.click("#login-form button[type=submit]")
            page.wait_for_url(f"{base}/ui/accounts/a001")  # back where it was going
            page.click("nav >> text=Portfolio")
            page.wait_for_url(f"{base}/ui/")
            assert drawn(page) == 3
            page.select_option("#queue-filters select[name=tier]", "red")
            page.click("#queue-filters button[type=submit]")
            page.wait_for_url(re.compile(r".*tier=red.*"))
            tiers = page.locator("table.queue span.tier").all_inner_texts()
            assert tiers and set(tiers) == {"red"}
            account = page.locator("table.queue a").first
            name = account.inner_text()
            account.click()
            page.wait_for_url(f"{base}/ui/accounts/{name}")
            assert drawn(page) == 2
            page.fill("#override-form input[name=score]", "12.5")
            page.select_option("#override-form select[name=tier]", "red")
            page.fill("#override-form input[name=reason]", "Renewal at risk: <b>call</b>")
            page.fill("#override-form input[name=until]", UNTIL)
            page.click("#override-form button[type=submit]")
            page.wait_for_url(re.compile(r".*saved=override.*"))
            notice = page.locator("#override-in-force").inner_text()
            assert "score 12.5" in notice and "Renewal at risk: <b>call</b>" in notice
            assert drawn(page) == 2
            page.click("nav >> text=Scorecard")
            page.wait_for_url(f"{base}/ui/scorecard")
            assert page.locator("#no-backtest").is_visible()
            cookies = {c["name"]: c for c in context.cookies()}
            assert (
                cookies["hs_session"]["httpOnly"] and cookies["hs_session"]["sameSite"] == "Strict"
            )
            assert page.evaluate("document.cookie") == ""
            assert errors == []
        finally:
            browser.close()
    assert outside == [], "the dashboard asked for something outside 127.0.0.1"

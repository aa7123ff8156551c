"""Remake docs/screenshots/*.png: the dashboard on demo data, in Debian's Chromium.

    python scripts/screenshots.py [--directory /tmp/dash-demo] [--accounts 400]

Generates the demo (`healthscore demo`), makes an editor key, serves the demo scorecard
with uvicorn on a free localhost port, signs in through the login form, sets one
override through the account page's form, and saves the portfolio, account and scorecard
pages (the account page right after the override is saved, before the background rescore
lands). Every request that is not to 127.0.0.1 is refused (and the script fails).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, Route, sync_playwright

from healthscore.api import ServiceSettings, create_app
from healthscore.engine import Engine
from healthscore.store._keys import create_key

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_demo(directory: Path, accounts: int) -> Path:
    command = shutil.which("healthscore") or str(Path(sys.executable).parent / "healthscore")
    subprocess.run(
        [command, "demo", "--directory", str(directory), "--accounts", str(accounts)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return directory / "scorecard.yaml"


def prepare(card: Path) -> tuple[str, str]:
    """An editor key, and the account to show: the red one that fell most this week."""
    engine = Engine(card)
    try:
        _, token = create_key(engine.store.db, "screenshots", "editor", "scripts/screenshots.py")
        current = engine.store.current(engine.scorecard.name)
        red = current[(current["tier"] == "red") & current["trend_7d"].notna()]
        account = str(red.sort_values("trend_7d")["account_id"].iloc[0])
    finally:
        engine.con.disconnect()
    return token, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", type=Path, default=Path("/tmp/dash-demo"))
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    card = make_demo(args.directory, args.accounts)
    token, account = prepare(card)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ServiceSettings(scorecard=card)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    try:
        shoot(f"http://127.0.0.1:{port}", token, account, args.chromium)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} to {OUT}")


def shoot(base: str, token: str, account: str, chromium: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.route("**/*", local_only)
            page = context.new_page()
            page.goto(f"{base}/ui/login")
            page.fill("#key", token)
            page.click("#login-form button[type=submit]")
            page.wait_for_url(f"{base}/ui/")
            charts_drawn(page)
            page.screenshot(path=str(OUT / "portfolio.png"), full_page=True)
            # Before the override: its rescoring (as of tomorrow) would add a run.
            page.goto(f"{base}/ui/scorecard")
            page.screenshot(path=str(OUT / "scorecard.png"), full_page=True)
            page.goto(f"{base}/ui/accounts/{account}")
            page.fill("#override-form input[name=score]", "35")
            page.fill(
                "#override-form input[name=reason]", "Executive sponsor left; renewal call booked"
            )
            until = dt.date.today() + dt.timedelta(days=21)
            page.fill("#override-form input[name=until]", until.isoformat())
            page.click("#override-form button[type=submit]")
            page.wait_for_selector("#override-in-force")
            charts_drawn(page)
            page.screenshot(path=str(OUT / "account.png"), full_page=True)
        finally:
            browser.close()
    if outside:
        raise SystemExit(f"the pages asked for something outside: {outside}")


def charts_drawn(page: Page) -> None:
    page.wait_for_function(
        """() => document.body.dataset.charts === 'drawn' &&
            Array.from(document.querySelectorAll('[data-figure]')).every(
                d => d.querySelector('.main-svg'))""",
        timeout=20_000,
    )


if __name__ == "__main__":
    main()

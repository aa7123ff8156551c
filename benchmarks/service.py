"""Load `healthscore serve` from a second process: event to score, events/s, reads.

    python benchmarks/service.py                          # 20,000 accounts, ~2M events
    python benchmarks/service.py --accounts 1000000 --events-target 100000000 \\
        --singles 50 --batches 3 --reads 20 --profile 5   # the issue's target size

run.py's cached data (benchmarks/_data.py), moved in time to end yesterday, is loaded
into a DuckDB warehouse clustered by account; `healthscore score` makes the first full run
and `healthscore keys create` an admin key; then `healthscore serve` runs in its own
process on localhost and this one sends it events and reads (benchmarks/_service_load.py).
The baseline, on the same warehouse before the server starts: the same one-account
aggregate and score as ONE hand-written DuckDB query. After the server stops, one rescore
is taken apart step by step (benchmarks/_service_profile.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks import _data
from benchmarks import _service_load as load
from benchmarks import _service_setup as setup
from benchmarks._common import describe_machine
from benchmarks.run import _child_env, console

TARGET_P99 = 0.025  # event to score, one account, at 1M accounts / 100M events
TARGET_RATE = 5_000  # events/s sustained in batches, on 2 cores
SCORES_QUERIES: list[dict[str, Any]] = [
    {},
    {"tier": "red"},
    {"sort": "-score", "limit": 100},
    {"min_score": 40, "max_score": 70, "limit": 50},
    {"tier": "green", "sort": "account_id", "offset": 100},
]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=20_000, help="accounts (20,000)")
    parser.add_argument("--events-target", type=int, help="about this many (100 per account)")
    parser.add_argument("--singles", type=int, default=100, help="single events, one by one")
    parser.add_argument("--batches", type=int, default=10, help="batches, one by one")
    parser.add_argument("--batch-size", type=int, default=1_000, help="events in a batch")
    parser.add_argument("--sustain-seconds", type=float, default=20.0, help="sustained load")
    parser.add_argument("--sustain-batches", type=int, default=300, help="at most this many")
    parser.add_argument("--reads", type=int, default=100, help="GETs of each kind, twice")
    parser.add_argument("--profile", type=int, default=20, help="rescores taken apart (0: none)")
    parser.add_argument("--pyinstrument", action="store_true", help="also profile them")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="how often to look (50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep the warehouse here (default: a temp dir)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(card: Path, log: Path) -> Iterator[str]:
    """`healthscore serve` in its own process until the block ends (SIGTERM, then kill)."""
    port = free_port()
    command = [*setup.BIN, "serve", "-c", str(card), "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--rate-limit", "100000000"], stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"the server ended: see {log}")
                try:
                    if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not come up: see {log}")
                time.sleep(0.2)
            yield url
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def stats(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds, dtype=np.float64)
    return {
        "n": len(values),
        "p50_s": float(np.percentile(values, 50)),
        "p99_s": float(np.percentile(values, 99)),
        "max_s": float(values.max()),
    }


def samples_stats(samples: list[load.Sample]) -> dict[str, dict[str, float]]:
    return {
        part: stats([getattr(sample, part) for sample in samples])
        for part in ("finished", "acknowledged", "started", "seen", "idle")
    } | {"rescore": stats([s.finished - s.started for s in samples])}


def profile(card: Path, count: int, seed: int, out: Path | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks._service_profile", str(card), str(count)]
    command += [str(seed), *(["--pyinstrument", str(out)] if out else [])]
    done = subprocess.run(
        command, cwd=_data.REPO, env=_child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"the profile failed (exit {done.returncode})")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    events_target = args.events_target or 100 * args.accounts
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        data = setup.data_directory(args.accounts, events_target, progress)
        shift = (today - dt.timedelta(days=1) - data.size.end).days
        load_s = setup.load_warehouse(workdir, data, shift, progress)
    card = setup.write_scorecard(workdir)
    console.print(f"data: {data.root} ({data.events:,} events), moved {shift} days later")
    first_run_s, token = setup.first_run_and_key(card, tomorrow)
    accounts = setup.sample_accounts(workdir)
    rng = random.Random(args.seed)
    console.print(f"loaded in {load_s:.1f} s; first full run {first_run_s:.1f} s")
    base = setup.baseline(workdir, rng.sample(accounts, min(200, len(accounts))), tomorrow)
    next_id = setup.next_event_id(workdir)
    results: dict[str, Any] = {
        "data": str(data.root),
        "accounts": len(accounts),
        "events": data.events,
        "shift_days": shift,
        "as_of": tomorrow.isoformat(),
        "load_seconds": load_s,
        "first_run_seconds": first_run_s,
        "baseline": stats(base["seconds"])
        | {"max_score_diff_vs_engine": base["max_score_diff_vs_engine"]},
    }
    with serving(card, workdir / "server.log") as url:
        client = load.Client(url, token, next_id, args.poll_ms / 1000)
        check = load.visible(client, tomorrow)
        reads = dict(
            zip(
                ("scores_fresh", "account_fresh"),
                _reads(client, accounts, args.reads, rng),
                strict=True,
            )
        )
        console.print("single events ...")
        load.series(client, load.picker(accounts, 1, args.seed), 3, check)  # warm-up
        singles = load.series(client, load.picker(accounts, 1, args.seed + 1), args.singles, check)
        console.print(f"batches of {args.batch_size:,} ...")
        pick = load.picker(accounts, args.batch_size, args.seed + 2)
        batches = load.series(client, pick, args.batches, check)
        console.print(f"sustained batches for {args.sustain_seconds:.0f} s ...")
        steady = load.sustained(
            client,
            accounts,
            args.batch_size,
            args.sustain_seconds,
            args.sustain_batches,
            args.seed + 3,
        )
        runs = len(client.get("/v1/runs", limit=500)["items"])
        after = _reads(client, accounts, args.reads, rng)
        reads |= {"scores_after_load": after[0], "account_after_load": after[1]}
        client.close()
    results |= {
        "singles": samples_stats(singles),
        "batches": samples_stats(batches) | {"accounts": stats([s.accounts for s in batches])},
        "sustained": asdict(steady) | {"post": stats(steady.post_seconds)},
        "reads": {name: stats(values) for name, values in reads.items()},
        "runs_stored_at_the_end": runs,
    }
    results["sustained"].pop("post_seconds")
    if args.profile:
        console.print(f"profile of {args.profile} rescores ...")
        out = data.root / "profile-service" if args.pyinstrument else None
        results["profile"] = profile(card, args.profile, args.seed, out)
    return results


def _reads(
    client: load.Client, accounts: list[str], count: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    scores = load.reads(client, "/v1/scores", SCORES_QUERIES, count)
    one: list[dict[str, Any]] = [{}]  # the account changes with the path
    account = []
    for _ in range(count):
        account += load.reads(client, f"/v1/accounts/{rng.choice(accounts)}", one, 1)
    return scores, account


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def show(results: dict[str, Any], args: argparse.Namespace) -> None:
    singles, batches = results["singles"], results["batches"]
    table = Table(
        title=f"{results['accounts']:,} accounts, {results['events']:,} events; "
        f"rescoring as of {results['as_of']}"
    )
    for column in ("measure", "n", "p50 ms", "p99 ms", "target", "met"):
        table.add_column(column, justify="left" if column in ("measure", "target") else "right")

    def row(label: str, found: dict[str, float], target: float | None = None) -> None:
        met = "-" if target is None else ("yes" if found["p99_s"] < target else "[red]no[/]")
        goal = "-" if target is None else f"p99 < {ms(target)} ms"
        table.add_row(label, str(found["n"]), ms(found["p50_s"]), ms(found["p99_s"]), goal, met)

    row("single event -> rescored row stored", singles["finished"], TARGET_P99)
    row("  ... POST answered (event committed)", singles["acknowledged"])
    row("  ... rescore began (+ 20 ms coalescing, lock)", singles["started"])
    row("  ... the rescore run (metrics, score, store)", singles["rescore"])
    row(f"  ... seen by the client (polling every {args.poll_ms:g} ms)", singles["seen"])
    row("  ... rescorer free again (playbooks included)", singles["idle"])
    size = f"{args.batch_size:,}"
    row(f"batch of {size} events -> rows stored", batches["finished"])
    row("  ... POST answered", batches["acknowledged"])
    row("  ... the rescore run", batches["rescore"])
    row("baseline: one hand-written DuckDB query, 1 account", results["baseline"])
    for name, label in (
        ("scores_fresh", "GET /v1/scores, after the full run only"),
        ("scores_after_load", "GET /v1/scores, after the load"),
        ("account_fresh", "GET /v1/accounts/{id}, after the full run only"),
        ("account_after_load", "GET /v1/accounts/{id}, after the load"),
    ):
        row(label, results["reads"][name])
    console.print(table)
    steady = results["sustained"]
    acked = steady["events"] / steady["seconds"]
    stored = steady["events"] / steady["drained_seconds"]
    console.print(
        f"sustained, batches of {size} from one connection: {steady['events']:,} events in "
        f"{steady['seconds']:.1f} s = {acked:,.0f} events/s acknowledged (target "
        f">= {TARGET_RATE:,}: {'met' if acked >= TARGET_RATE else 'NOT met'}); every account "
        f"rescored and stored after {steady['drained_seconds']:.1f} s = {stored:,.0f} events/s "
        f"({steady['rescores']} rescores, {steady['rescored_rows']:,} rows)"
    )
    console.print(
        f"baseline agrees with the engine's stored scores: max |diff| = "
        f"{results['baseline']['max_score_diff_vs_engine']:.3g}; runs stored at the end: "
        f"{results['runs_stored_at_the_end']}"
    )
    if "profile" in results:
        steps = Table(title="one rescore, step by step (in one process, no server)")
        for column in ("step", "n", "median ms", "p99 ms"):
            steps.add_column(column, justify="left" if column == "step" else "right")
        for label, found in results["profile"].items():
            steps.add_row(label, str(found["n"]), ms(found["median_s"]), ms(found["p99_s"]))
        console.print(steps)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    machine = describe_machine(console)
    console.print(f"machine: {machine}")
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        if (workdir / setup.WAREHOUSE).exists():
            raise SystemExit(f"{workdir / setup.WAREHOUSE} exists: give an empty directory")
        workdir.mkdir(parents=True, exist_ok=True)
        results = measure(args, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="hs-service-") as scratch:
            results = measure(args, Path(scratch))
    machine["load_after"] = os.getloadavg()
    command = ["python", "benchmarks/service.py", *(sys.argv[1:] if argv is None else argv)]
    results = {"command": " ".join(command), "machine": machine, **results}
    show(results, args)
    out = Path(results["data"]) / "service-results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

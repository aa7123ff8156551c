"""A throwaway PostgreSQL server for the tests: its own cluster, port and socket, then gone.

The server runs from the installed binaries (``initdb``, ``pg_ctl``, ``postgres``), never
from a system cluster: a fresh data folder, a free localhost TCP port, trust auth on
localhost only, fsync off. ``initdb`` refuses to run as root, so under root the cluster is
created and run as the ``postgres`` system user (which Debian's package creates).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg

DATABASE = "healthscore"
SUPERUSER = "postgres"
READY_TIMEOUT = 30.0
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
# A unix socket path must fit in sun_path (107 bytes on Linux); the socket file is
# "<dir>/.s.PGSQL.<port>", so keep the directory well below that.
MAX_SOCKET_DIR = 80


def _has_tools(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in PG_TOOLS)


def _version_key(folder: Path) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,); ``.../9.6/bin`` -> (9, 6)."""
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name))


def find_pg_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then Debian's newest.

    A symlink on PATH (``/usr/local/bin/initdb`` -> ``/usr/lib/postgresql/15/bin/initdb``)
    is followed to the real folder, where all the tools (pg_isready, psql...) live together.
    """
    initdb = shutil.which("initdb")
    if initdb is not None:
        for folder in (Path(initdb).resolve().parent, Path(initdb).parent):
            if _has_tools(folder):
                return folder
    candidates = [folder for folder in DEBIAN_ROOT.glob("*/bin") if _has_tools(folder)]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Runner:
    """Runs the PostgreSQL tools as the current user, or as ``postgres`` under root."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0
        self.prefix: list[str] = []
        if not self.as_root:
            self.user = getpass.getuser()
            return
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "The tests run as root, and initdb refuses root: a 'postgres' system user is "
                "needed to run the test server (apt-get install postgresql creates it)"
            ) from None
        self.user = "postgres"
        self.uid, self.gid = account.pw_uid, account.pw_gid
        if shutil.which("runuser"):
            self.prefix = ["runuser", "-u", "postgres", "--"]
        elif shutil.which("setpriv"):
            self.prefix = [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--init-groups",
                "--",
            ]
        else:
            raise RuntimeError("Running as root needs runuser or setpriv to drop to 'postgres'")

    def give(self, path: Path) -> None:
        """Hand ``path`` to the user that runs the server."""
        if self.as_root:
            os.chown(path, self.uid, self.gid)

    def can_use(self, folder: Path) -> bool:
        """Whether the server's user can create files in ``folder`` (every parent included)."""
        if not self.as_root:
            return os.access(folder, os.W_OK | os.X_OK)
        probe = subprocess.run(
            [*self.prefix, "test", "-w", str(folder), "-a", "-x", str(folder)],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def run(self, args: Sequence[str], cwd: Path, timeout: float = 60.0) -> None:
        done = subprocess.run(
            [*self.prefix, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            )


def _workdir(tmp: Path, runner: _Runner) -> Path:
    """A fresh folder the server's user owns, under ``tmp`` when that user can reach it.

    pytest's temporary folders are private to the user running pytest (mode 0700), so
    under root the ``postgres`` user cannot enter them: the system temp folder is used
    instead. A folder whose path is too long for a unix socket is also avoided.
    """
    for parent in (tmp, Path(tempfile.gettempdir())):
        folder = Path(tempfile.mkdtemp(prefix="pg-", dir=parent))
        runner.give(folder)
        if len(str(folder / "s")) <= MAX_SOCKET_DIR and runner.can_use(folder):
            return folder
        shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError(f"No temporary folder the user {runner.user!r} can write to")


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


def _configure(data: Path, sockets: Path, port: int) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{sockets}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "16MB",
        "max_connections": "50",
        "max_wal_size": "256MB",
        "logging_collector": "off",
        "timezone": "'UTC'",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# healthscore test server\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def _wait_and_create_db(port: int, log: Path, deadline: float) -> None:
    """Retry a connection until the server answers, then create the test database."""
    admin = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=2) as con:
                con.execute(f'CREATE DATABASE "{DATABASE}"')
                return
        except psycopg.OperationalError as exc:
            error = exc
            time.sleep(0.1)
    raise RuntimeError(
        f"PostgreSQL did not accept connections on 127.0.0.1:{port} within "
        f"{READY_TIMEOUT:.0f} s ({error}); server log tail:\n{_log_tail(log)}"
    )


def _kill_leftover(data: Path) -> None:
    """If ``pg_ctl stop`` left the postmaster running, kill it by its own pid file."""
    pid_file = data / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_postgres(tmp: Path, pg_bin: Path | None = None) -> Iterator[str]:
    """Start a fresh PostgreSQL server; yield ``postgresql://USER@127.0.0.1:PORT/healthscore``.

    The cluster lives in a new folder under ``tmp`` (or the system temp folder when the
    server's user cannot reach ``tmp``); on exit the server is stopped
    (``pg_ctl stop -m immediate``) and the folder removed.
    """
    pg_bin = pg_bin or find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl/postgres found)")
    runner = _Runner()
    work = _workdir(tmp, runner)
    data, sockets, log = work / "data", work / "s", work / "server.log"
    started = False
    try:
        runner.run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=work,
        )
        sockets.mkdir()
        runner.give(sockets)
        deadline = time.monotonic() + READY_TIMEOUT
        for attempt in range(3):
            port = _free_port()
            _configure(data, sockets, port)  # later lines win: a retry overrides the port
            try:
                runner.run(
                    [
                        str(pg_bin / "pg_ctl"),
                        "start",
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-w",
                        "-t",
                        str(int(READY_TIMEOUT)),
                    ],
                    cwd=work,
                    timeout=READY_TIMEOUT + 10,
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                # Another process may have taken the port between the probe and the start.
                if attempt < 2 and "could not bind" in _log_tail(log):
                    continue
                raise RuntimeError(
                    f"PostgreSQL did not start: {exc}\nserver log tail:\n{_log_tail(log)}"
                ) from None
            started = True
            break
        _wait_and_create_db(port, log, deadline)
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started or (data / "postmaster.pid").exists():
            try:
                runner.run(
                    [str(pg_bin / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"],
                    cwd=work,
                    timeout=30,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill_leftover(data)
        shutil.rmtree(work, ignore_errors=True)

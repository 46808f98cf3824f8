"""Queue trial: procrastinate (PostgreSQL) vs Celery on Redis, 2 worker processes, real servers.

Usage: .venv/bin/python -m benchmarks.queue_trial [--jobs 200] [--lease 15] [--port-base 0] [--no-write]
(needs `pip install -e ".[queue,postgres,bench]"`, Debian's postgresql and redis-server). Starts a throw-away
PostgreSQL (scripts/pg_throwaway.sh) and a redis-server, then for each engine starts 2 worker
processes (concurrency 1 each, benchmarks/queue_trial_workers.py) afresh for every scenario:

- throughput: N small jobs (10 ms of sleep + 3 SQL statements each) enqueued one by one;
- kill: a 5 s job whose worker is SIGKILLed 1 s in, then 20 small jobs: re-delivered? when? twice?
- restart: the queue's server (PostgreSQL / Redis) restarted 1 s into a 5 s job, then 20 more jobs;
- long: one job running 2x the lease on healthy workers: is it ever run twice?
- poison: a job that always fails: how often it runs and where it ends (a dead-letter state?).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.queue_trial_engines import Celery, Engine, Procrastinate, Servers, wait_for
from benchmarks.queue_trial_workers import MAX_ATTEMPTS
from benchmarks.report import write_results

KILL_JOB_S = 5.0


# ---------------------------------------------------------------------------------------- readings
def executions(db: psycopg.Connection[Any], run: str, key: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT key, pid, worker, enqueued, started, finished, failed FROM trial_exec WHERE run = %s"
    params: tuple[str, ...] = (run,)
    if key is not None:
        query, params = query + " AND key = %s", (run, key)
    cols = ["key", "pid", "worker", "enqueued", "started", "finished", "failed"]
    return [dict(zip(cols, row, strict=True)) for row in db.execute(query + " ORDER BY id", params)]


def results(db: psycopg.Connection[Any], run: str) -> int:
    row = db.execute("SELECT count(*) FROM trial_result WHERE run = %s", (run,)).fetchone()
    return int(row[0]) if row else 0


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


# --------------------------------------------------------------------------------------- scenarios
def throughput(engine: Engine, n: int) -> dict[str, Any]:
    db = engine.servers.db
    for i in range(4):  # warm both workers (imports, connections) outside the timing
        engine.enqueue("warm-" + engine.name, f"w{i}")
    wait_for(lambda: results(db, "warm-" + engine.name) == 4, 60)
    run = f"{engine.name}-throughput"
    t0 = time.time()
    for i in range(n):
        engine.enqueue(run, f"j{i}")
    enqueue_s = time.time() - t0
    if not wait_for(lambda: results(db, run) == n, 600, poll=0.02):
        raise RuntimeError(f"{engine.name}: only {results(db, run)} of {n} jobs ran within 600 s")
    rows = executions(db, run)
    wall = max(r["finished"] for r in rows) - t0
    latency = [(r["finished"] - r["enqueued"]) * 1000 for r in rows]
    per_worker = {w: sum(1 for r in rows if r["worker"] == w) for w in sorted({r["worker"] for r in rows})}
    conns = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
    return {
        "workers_ready_s": round(engine.startup_s, 1),
        "workers_rss_mb": engine.rss_mb(),
        # The trial's own: 1 driver + 1 per worker process for the job's writes (+ procrastinate's pool).
        "pg_connections": int(conns[0]) if conns else 0,
        "jobs": n,
        "enqueue_s": round(enqueue_s, 3),
        "wall_s": round(wall, 3),
        "jobs_per_s": round(n / wall, 1),
        "latency_p50_ms": round(pct(latency, 50), 1),
        "latency_p95_ms": round(pct(latency, 95), 1),
        "executions": len(rows),
        "per_worker": per_worker,
    }


def kill(engine: Engine, mode: str) -> dict[str, Any]:
    """SIGKILL the process running a 5 s job 1 s in: the whole worker, or (Celery) its pool child."""
    db = engine.servers.db
    run = f"{engine.name}-kill-{mode}"
    engine.enqueue(run, "long", KILL_JOB_S)
    if not wait_for(lambda: bool(executions(db, run, "long")), 30):
        raise RuntimeError(f"{engine.name}: the long job never started")
    time.sleep(1.0)
    pid = executions(db, run, "long")[0]["pid"]
    if mode == "worker":
        os.killpg(engine.owner(pid).pid, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)
    t_kill = time.time()
    for i in range(20):
        engine.enqueue(run, f"s{i}")
    done = wait_for(lambda: results(db, run) == 21, engine.lease * 3 + 60, poll=0.1)
    time.sleep(2.0)  # let a late duplicate show itself
    runs = executions(db, run, "long")
    small = [r for r in executions(db, run) if r["key"] != "long"]
    again = runs[1:]
    return {
        "killed": "whole worker (process group)" if mode == "worker" else "pool child running the job",
        "redelivered": bool(again),
        "redelivery_s": round(again[0]["started"] - t_kill, 1) if again else None,
        "finished_after_kill_s": round(max(r["finished"] for r in again if r["finished"]) - t_kill, 1)
        if done and again
        else None,
        "runs_of_killed_job": len(runs),
        "result_rows_of_killed_job": 1 if done else 0,
        "small_jobs_ran": len({r["key"] for r in small}),
        "small_job_duplicates": len(small) - len({r["key"] for r in small}),
    }


def broker_restart(engine: Engine) -> dict[str, Any]:
    """Restart the queue's server 1 s into a 5 s job, then enqueue 20 more: does everything still run?"""
    run = f"{engine.name}-restart"
    engine.enqueue(run, "long", KILL_JOB_S)
    if not wait_for(lambda: bool(executions(engine.servers.db, run, "long")), 30):
        raise RuntimeError(f"{engine.name}: the long job never started")
    time.sleep(1.0)
    t0 = time.time()
    broker = engine.restart_broker()
    back = time.time()
    for i in range(20):
        engine.enqueue(run, f"s{i}")
    done = wait_for(lambda: results(engine.servers.db, run) == 21, 90, poll=0.2)
    rows = executions(engine.servers.db, run)
    small = [r for r in rows if r["key"] != "long"]
    return {
        "restarted": broker,
        "restart_s": round(back - t0, 1),
        "all_done": done,
        "done_after_restart_s": round(max(r["finished"] or 0 for r in rows) - back, 1) if done else None,
        "runs_of_running_job": sum(1 for r in rows if r["key"] == "long"),
        "small_jobs_ran": len({r["key"] for r in small}),
        "small_job_duplicates": len(small) - len({r["key"] for r in small}),
    }


def long_job(engine: Engine) -> dict[str, Any]:
    """One job of twice the lease on healthy workers: a lease that is not renewed runs it twice."""
    db = engine.servers.db
    run = f"{engine.name}-long"
    engine.enqueue(run, "long", engine.lease * 2)
    wait_for(lambda: results(db, run) == 1, engine.lease * 4 + 30, poll=0.2)
    wait_for(lambda: all(r["finished"] for r in executions(db, run)), engine.lease * 3, poll=0.2)
    runs = executions(db, run)
    overlap = len(runs) > 1 and runs[1]["started"] < (runs[0]["finished"] or float("inf"))
    return {
        "job_s": engine.lease * 2,
        "runs": len(runs),
        "second_run_started_after_s": round(runs[1]["started"] - runs[0]["started"], 1)
        if len(runs) > 1
        else None,
        "ran_concurrently": overlap,
    }


def poison(engine: Engine) -> dict[str, Any]:
    db = engine.servers.db
    run = f"{engine.name}-poison"
    engine.enqueue(run, "bad", fail=True)
    wait_for(lambda: len(executions(db, run)) >= MAX_ATTEMPTS, 60, poll=0.1)
    time.sleep(3.0)  # any further attempt would show up here
    runs = len(executions(db, run))
    where = engine.dead_letter(run, "bad")
    retried = engine.admin_retry(run, "bad")
    if retried:
        wait_for(lambda: len(executions(db, run)) > runs, 30, poll=0.1)
    return {
        "runs": runs,
        "ends_in": where,
        "admin_retry_ran_it_again": retried and len(executions(db, run)) > runs,
    }


def scenario(engine: Engine, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    engine.reset()
    engine.start_workers(2)
    try:
        return fn(engine, *args)
    finally:
        engine.stop_workers()


SCENARIOS = ["throughput", "kill", "restart", "long", "poison"]


def trial(servers: Servers, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls, kill_modes in ((Procrastinate, ["worker"]), (Celery, ["child", "worker"])):
        if cls.name not in args.engines:
            continue
        engine = cls(servers, args.lease, tmp)
        figures: dict[str, Any] = {}
        if "throughput" in args.scenarios:
            figures["throughput"] = scenario(engine, throughput, args.jobs)
        for mode in kill_modes if "kill" in args.scenarios else []:
            figures[f"kill_{mode}"] = scenario(engine, kill, mode)
        for name, fn in (("restart", broker_restart), ("long", long_job), ("poison", poison)):
            if name in args.scenarios:
                figures[name] = scenario(engine, fn)
        out[engine.name] = figures
        print(f"{engine.name}: {figures}", file=sys.stderr)
    return out


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table, preceded by a blank line; booleans read as yes/no."""
    cells = [["yes" if c is True else "no" if c is False else str(c) for c in row] for row in rows]
    lines = ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in cells]


def markdown(data: dict[str, Any], cmd: str) -> str:
    engines = data["engines"].items()
    lines = [
        "## Task queue trial (`benchmarks/queue_trial.py`)",
        "",
        f"Command: `{cmd}`. Real PostgreSQL {data['postgres']} and redis-server {data['redis']} on loopback; "
        f"2 worker processes per engine (concurrency 1 each); lease / visibility timeout {data['lease_s']:g} s; "
        f"load average {data['load_before']} before, {data['load_after']} after (shared 2-core machine).",
    ]
    lines += table(
        ["engine", f"{data['jobs']} jobs: wall s", "jobs/s", "enqueue s", "enqueue→done p50 ms", "p95 ms"]
        + ["runs", "2 workers: ready s", "RSS MiB", "PostgreSQL connections"],
        [
            [name, t["wall_s"], t["jobs_per_s"], t["enqueue_s"], t["latency_p50_ms"], t["latency_p95_ms"]]
            + [t["executions"], t["workers_ready_s"], t["workers_rss_mb"], t["pg_connections"]]
            for name, f in engines
            if (t := f.get("throughput"))
        ],
    )
    lines += table(
        ["engine", "SIGKILL", "re-delivered", "after s", "done after s", "runs of that job"]
        + ["20 jobs after it: ran, dupes"],
        [
            [name, k["killed"], k["redelivered"], k["redelivery_s"], k["finished_after_kill_s"]]
            + [k["runs_of_killed_job"], f"{k['small_jobs_ran']}, {k['small_job_duplicates']}"]
            for name, f in engines
            for key, k in f.items()
            if key.startswith("kill_")
        ],
    )
    lines += table(
        ["engine", "restarted mid-job", "all 21 jobs done", "done after restart s", "runs of the running job"]
        + ["20 jobs after it: ran, dupes"],
        [
            [name, f"{r['restarted']} ({r['restart_s']} s)", r["all_done"], r["done_after_restart_s"]]
            + [r["runs_of_running_job"], f"{r['small_jobs_ran']}, {r['small_job_duplicates']}"]
            for name, f in engines
            if (r := f.get("restart"))
        ],
    )
    lines += table(
        ["engine", "job of 2× lease, healthy workers: runs", "concurrently", "poison job: runs", "ends in"]
        + ["admin retry"],
        [
            [name, lg["runs"], lg["ran_concurrently"], p["runs"], p["ends_in"]]
            + ["ran it again" if p["admin_retry_ran_it_again"] else "nothing to retry"]
            for name, f in engines
            if (lg := f.get("long")) and (p := f.get("poison"))
        ],
    )
    return "\n".join(lines)


def server_version(cmd: list[str]) -> str:
    text = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return next((w.split("=", 1)[-1] for w in text.split() if w[:1].isdigit() or w.startswith("v=")), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--lease", type=float, default=15.0, help="heartbeat lease / visibility timeout, s")
    parser.add_argument("--port-base", type=int, default=0, help="use ports BASE+1 (pg), BASE+2 (redis)")
    parser.add_argument("--engines", type=lambda v: v.split(","), default=["procrastinate", "celery"])
    parser.add_argument("--scenarios", type=lambda v: v.split(","), default=SCENARIOS)
    parser.add_argument("--logs", type=Path, help="copy the servers' and workers' logs here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    partial = set(args.engines) != {"procrastinate", "celery"} or args.scenarios != SCENARIOS
    # `timeout` or a CI runner stop us with SIGTERM: unwind, so workers and servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = f"{os.getloadavg()[0]:.2f}"
    with tempfile.TemporaryDirectory(prefix="kb-queue-trial-") as tmp, ExitStack() as stack:
        os.chmod(tmp, 0o755)  # pg_throwaway.sh runs PostgreSQL as user postgres when we are root
        servers = Servers(stack, Path(tmp), args.port_base)
        try:
            engines = trial(servers, Path(tmp), args)
            pg_version = servers.db.execute("SHOW server_version").fetchone()
        finally:
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in [*Path(tmp).glob("*.log"), Path(tmp) / "pg" / "server.log"]:
                    shutil.copy(log, args.logs / log.name)
    data = {
        "jobs": args.jobs,
        "lease_s": args.lease,
        "postgres": pg_version[0].split()[0] if pg_version else "?",
        "redis": server_version(["redis-server", "--version"]),
        "load_before": load_before,
        "load_after": f"{os.getloadavg()[0]:.2f}",
        "engines": engines,
    }
    cmd = ".venv/bin/python -m benchmarks.queue_trial" + (f" --jobs {args.jobs}" if args.jobs != 200 else "")
    cmd += f" --lease {args.lease:g}" if args.lease != 15.0 else ""
    text = markdown(data, cmd)
    print(text)
    if not args.no_write and not partial:
        write_results("queue_trial", data, text)


if __name__ == "__main__":
    main()

"""Scale-out figures on real processes: ingest throughput with 1 and 2 `kb worker`s on the same
documents, time from upload to searchable, and a load run (concurrent streamed chats and searches
while an ingest runs) against one API replica with explicit generation capacity.

    .venv/bin/python -m benchmarks.scaleout --out benchmarks/results/scaleout.json [--llm-profile default]
    .venv/bin/python -m benchmarks.scaleout --out OUT --phases load \
        --llm-backend openai --llm-url http://127.0.0.1:18120 --llm-model NAME --slots 4

Starts its own throw-away PostgreSQL (scripts/dev_services.sh); everything else is `kb serve` and
`kb worker` with the default embedder. With ``--llm-backend openai`` the API answers through an
OpenAI-compatible server started beforehand (scripts/llama_server.sh start 4 18120), with
``KB_GENERATION_SLOTS`` = ``--slots``. The machine is shared: the load average is recorded with
every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.faults.cluster import PASSWORD, REPO, Cluster, cluster_env, start_postgres, stop_postgres

SAMPLES = REPO / "samples"
DOCS = sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".pdf", ".md") and p.name != "ATTRIBUTION.md")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


def upload(c: Cluster, kb: str, files: list[Path]) -> str:
    response = httpx.post(
        f"{c.apis['A'].url}/kbs/{kb}/documents",
        headers=c.headers,
        files=[("files", (p.name, p.read_bytes())) for p in files],
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def make_kb(c: Cluster, name: str) -> None:
    httpx.post(
        f"{c.apis['A'].url}/kbs", headers=c.headers, json={"name": name, "read_groups": ["everyone"]}
    ).raise_for_status()


def throughput(c: Cluster, workers: int, tag: str) -> dict[str, Any]:
    """Four bases, a quarter of the documents each, uploaded at once; until every job is done."""
    for name in list(c.workers):
        c.workers.pop(name).process.terminate()
    for i in range(workers):
        c.start_worker(f"{tag}-w{i}")
    c.wait_workers_ready()
    quarters = [DOCS[i::4] for i in range(4)]
    before = load()
    started = time.monotonic()
    jobs = []
    for i, files in enumerate(quarters):
        make_kb(c, f"{tag}{i}")
        jobs.append(upload(c, f"{tag}{i}", files))
    done = [c.wait_job("A", job, seconds=1800) for job in jobs]
    seconds = time.monotonic() - started
    chunks = sum(j["chunks"] for j in done)
    return {
        "workers": workers,
        "files": len(DOCS),
        "chunks": chunks,
        "seconds": round(seconds, 1),
        "files_per_s": round(len(DOCS) / seconds, 3),
        "chunks_per_s": round(chunks / seconds, 2),
        "statuses": sorted({j["status"] for j in done}),
        "load_before": before,
        "load_after": load(),
    }


def upload_to_searchable(c: Cluster, rounds: int = 5) -> dict[str, Any]:
    make_kb(c, "fresh")
    times = []
    for i in range(rounds):
        word = f"zebracode{i}x{int(time.time())}"
        started = time.monotonic()
        body = f"# Note {i}\n\nThe access word for room {i} is {word}.\n".encode()
        httpx.post(
            f"{c.apis['A'].url}/kbs/fresh/documents",
            headers=c.headers,
            files=[("files", (f"note{i}.md", body))],
            timeout=60,
        ).raise_for_status()
        deadline = started + 120
        while time.monotonic() < deadline:
            hits = httpx.post(
                f"{c.apis['A'].url}/search",
                headers=c.headers,
                json={"query": word, "kbs": ["fresh"], "k": 10},
                timeout=60,
            ).json()["hits"]
            if any(word in hit["text"] for hit in hits):  # the notes look alike: any rank counts
                times.append(time.monotonic() - started)
                break
            time.sleep(0.05)
    return {
        "rounds": rounds,
        "found": len(times),
        "p50_s": pct(times, 0.5),
        "max_s": round(max(times, default=float("nan")), 3),
        "load": load(),
    }


async def _chat(client: httpx.AsyncClient, c: Cluster, kb: str, question: str) -> dict[str, Any]:
    started = time.monotonic()
    out: dict[str, Any] = {"status": 0, "queued_s": 0.0, "first_token_s": None, "positions": []}
    async with client.stream(
        "POST",
        f"{c.apis['A'].url}/chat",
        headers=c.headers,
        json={"question": question, "kbs": [kb], "stream": True},
        timeout=900,
    ) as response:
        out["status"] = response.status_code
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "queued":
                out["positions"].append(json.loads(line[5:])["position"])
                out["queued_s"] = time.monotonic() - started
            elif line.startswith("data:") and event == "sentence" and out["first_token_s"] is None:
                out["first_token_s"] = time.monotonic() - started
            elif line.startswith("data:") and event == "answer":
                answer = json.loads(line[5:])
                out["kind"] = "abstained" if answer.get("abstained") else answer.get("kind")
                out["answer_s"] = time.monotonic() - started
            elif line.startswith("data:") and event == "error":
                out["error"] = json.loads(line[5:]).get("detail")
    out["total_s"] = time.monotonic() - started
    return out


async def _search(client: httpx.AsyncClient, c: Cluster, kb: str, query: str) -> tuple[int, float]:
    """(HTTP status, seconds); status 0 when the connection broke (counted, not fatal)."""
    started = time.monotonic()
    try:
        response = await client.post(
            f"{c.apis['A'].url}/search", headers=c.headers, json={"query": query, "kbs": [kb]}, timeout=60
        )
    except httpx.TransportError:
        return 0, time.monotonic() - started
    return response.status_code, time.monotonic() - started


async def load_run(c: Cluster, chats: int, searches: int, rounds: int) -> dict[str, Any]:
    questions = json.loads((SAMPLES / "customer_service" / "example_questions.json").read_text())
    texts = [q["question"] if isinstance(q, dict) else str(q) for q in questions] or ["What is PerksPlus?"]
    make_kb(c, "ingesting")
    ingest_job = upload(c, "ingesting", DOCS)  # runs on the workers during the whole load
    before = load()
    # Searches open a connection each: a kept-alive one that uvicorn closes after 5 idle seconds can
    # be reused by the client at the moment the (busy) server closes it, a client-side ReadError.
    fresh = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as client,
        httpx.AsyncClient(limits=fresh) as searcher,
    ):
        chat_tasks = [
            asyncio.create_task(_chat(client, c, "t20", texts[i % len(texts)])) for i in range(chats)
        ]
        search_results: list[tuple[int, float]] = []
        for r in range(rounds):
            batch = [_search(searcher, c, "t20", texts[(r + i) % len(texts)]) for i in range(searches)]
            search_results += await asyncio.gather(*batch)
            await asyncio.sleep(2)
        chat_results = await asyncio.gather(*chat_tasks)
    ingest = httpx.get(f"{c.apis['A'].url}/jobs/{ingest_job}", headers=c.headers).json()
    latencies = [s for code, s in search_results if code == 200]
    first = [r["first_token_s"] for r in chat_results if r["first_token_s"] is not None]
    queued = [r["queued_s"] for r in chat_results]
    return {
        "chats": chats,
        "searches_per_round": searches,
        "search_rounds": rounds,
        "search_status": sorted({code for code, _ in search_results}),  # 0: the connection broke
        "search_connection_errors": sum(code == 0 for code, _ in search_results),
        "search_p50_s": pct(latencies, 0.5),
        "search_p95_s": pct(latencies, 0.95),
        "chat_status": sorted({r["status"] for r in chat_results}),
        "chat_errors": [r["error"] for r in chat_results if r.get("error")],
        "queue_wait_p50_s": pct(queued, 0.5),
        "queue_wait_p95_s": pct(queued, 0.95),
        "max_position_seen": max((max(r["positions"]) for r in chat_results if r["positions"]), default=0),
        "first_token_p50_s": pct(first, 0.5),
        "first_token_p95_s": pct(first, 0.95),
        "chat_total_p95_s": pct([r["total_s"] for r in chat_results], 0.95),
        # Only generated answers stream sentences; an abstention or a quote arrives whole.
        "chats_with_sentence": len(first),
        "answer_kinds": dict(Counter(str(r.get("kind")) for r in chat_results)),
        "answer_event_p50_s": pct([r["answer_s"] for r in chat_results if "answer_s" in r], 0.5),
        "answer_event_p95_s": pct([r["answer_s"] for r in chat_results if "answer_s" in r], 0.95),
        "chat_rows": [
            {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items() if k != "positions"}
            for r in chat_results
        ],
        "ingest_during_load": {k: ingest[k] for k in ("status", "processed_files", "total_files")},
        "load_before": before,
        "load_after": load(),
    }


def llm_env(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Any]]:
    """The API's generation settings for the run, and what the results record about them."""
    env = {"KB_LLM_PROFILE": args.llm_profile, "KB_GENERATION_SLOTS": str(args.slots)}
    record: dict[str, Any] = {"llm_backend": args.llm_backend, "generation_slots": args.slots}
    if args.llm_backend == "llamacpp":
        if args.llm_threads:
            env["KB_LLM_THREADS"] = str(args.llm_threads)
        return env, {**record, "llm_profile": args.llm_profile, "llm_threads": args.llm_threads}
    if not (args.llm_url and args.llm_model):
        raise SystemExit("--llm-backend openai needs --llm-url and --llm-model (scripts/llama_server.sh)")
    env.update(KB_LLM_BACKEND="openai", KB_LLM_BASE_URL=args.llm_url, KB_LLM_MODEL=args.llm_model)
    props = httpx.get(f"{args.llm_url}/props", timeout=10)  # llama-server: its slots, as a check
    server_slots = props.json().get("total_slots") if props.status_code == 200 else None
    if server_slots is not None and server_slots != args.slots:
        raise SystemExit(f"{args.llm_url} has {server_slots} slots but --slots is {args.slots}")
    return env, {**record, "llm_url": args.llm_url, "llm_model": args.llm_model, "server_slots": server_slots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--llm-profile", default="default")
    parser.add_argument("--llm-backend", choices=("llamacpp", "openai"), default="llamacpp")
    parser.add_argument("--llm-url", help="OpenAI-compatible server root (--llm-backend openai)")
    parser.add_argument("--llm-model", help="the model name that server serves (--llm-backend openai)")
    parser.add_argument("--slots", type=int, default=1, help="KB_GENERATION_SLOTS: the server's slots")
    parser.add_argument("--llm-threads", type=int, help="KB_LLM_THREADS of the in-process model")
    parser.add_argument("--chats", type=int, default=16)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", default="ingest,searchable,load", help="any of ingest,searchable,load")
    args = parser.parse_args()
    generation_env, generation = llm_env(args)
    root = Path(tempfile.mkdtemp(prefix="kb-scaleout-"))
    services = Path(tempfile.mkdtemp(prefix="kb-scaleout-pg-"))
    database_url = start_postgres(services)
    c = Cluster(root, services, cluster_env(root / "data", database_url), database_url)
    # The product's defaults, not the fault suite's shortcuts: real embedder, real LLM.
    for key in ("KB_EMBEDDER", "KB_LLM_BACKEND", "KB_COMMIT_EVERY_CHUNKS", "KB_JOB_LEASE_SECONDS"):
        c.env.pop(key, None)
    c.env.update(generation_env)
    c.env["KB_GENERATION_WAIT_SECONDS"] = "900"  # every chat waits its turn: the figure is the wait
    results: dict[str, Any] = {"documents": [str(p.relative_to(REPO)) for p in DOCS], "cores": os.cpu_count()}
    try:
        assert (
            c.cli(
                "users", "create-admin", "--username", "root", "--password-stdin", stdin=PASSWORD + "\n"
            ).returncode
            == 0
        )
        c.start_api("A", log_level="info")
        c.token = httpx.post(
            f"{c.apis['A'].url}/auth/login", json={"username": "root", "password": PASSWORD}
        ).json()["access_token"]
        if "ingest" in args.phases:
            results["ingest_1_worker"] = throughput(c, 1, "t1")
            print(json.dumps(results["ingest_1_worker"]), flush=True)
        results["ingest_2_workers"] = throughput(c, 2, "t2")  # also the bases the load run searches
        print(json.dumps(results["ingest_2_workers"]), flush=True)
        if "searchable" in args.phases:
            results["upload_to_searchable"] = upload_to_searchable(c)
            print(json.dumps(results["upload_to_searchable"]), flush=True)
        if "load" in args.phases:
            try:
                results["load"] = asyncio.run(load_run(c, args.chats, args.searches, args.rounds))
            finally:
                results["api_exit_code"] = c.apis["A"].process.poll()  # None: it kept running
            results["load"].update(generation)
            print(json.dumps(results["load"]), flush=True)
    finally:
        c.stop()
        stop_postgres(services)
        args.out.write_text(json.dumps(results, indent=2))
        shutil.rmtree(root / "data" / "models", ignore_errors=True)  # a joined 1.1 GB copy; logs stay


if __name__ == "__main__":
    main()

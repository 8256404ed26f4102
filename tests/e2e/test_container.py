"""The container: the Dockerfile and docker-compose.yml read as files (always), and the image
built and started where a Docker daemon answers (skipped, saying why, where none does)."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_hf import FakeHF

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def procfile_command() -> list[str]:
    (line,) = [
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:")
    ]
    return shlex.split(line.removeprefix("worker:"))


def test_the_image_is_slim_runs_the_procfile_command_as_a_non_root_user() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the bot must not run as root"
    (cmd,) = [rest for keyword, rest in steps if keyword == "CMD"]
    assert json.loads(cmd) == procfile_command() == ["python", "-m", "bot"]
    # The USER comes before the command, and the database lives in a volume it may write.
    keywords = [keyword for keyword, _ in steps]
    assert keywords.index("USER") < keywords.index("CMD")
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "DATABASE_URL=sqlite:////data/papers.db" in env
    assert any(keyword == "VOLUME" and "/data" in rest for keyword, rest in steps)
    (health,) = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert "METRICS_PORT" in health and "/healthz" in health


def test_no_token_or_database_is_copied_into_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "*.db"} <= set(ignored)


def test_compose_runs_the_bot_on_its_postgresql_service() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML (a dev dependency) reads the compose files")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bot, postgres = compose["services"]["bot"], compose["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://papers:")
    assert "@postgres:5432/papers" in bot["environment"]["DATABASE_URL"]
    # Nothing merged in by Compose on its own sends the bot back to SQLite.
    assert not (ROOT / "docker-compose.override.yml").exists()


def docker_daemon() -> str | None:
    """None when a Docker daemon answers; otherwise why not, in a few words."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    try:
        answer = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 20 s"
    if answer.returncode != 0:
        lines = (answer.stderr or answer.stdout).strip().splitlines()
        return "no Docker daemon: `docker info` failed (" + (lines[-1] if lines else "?") + ")"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    why_not = docker_daemon()
    if why_not is not None:
        pytest.skip(f"{why_not}: only the docker client is here, so the image is not built")
    tag = f"papers-bot-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=900)
    try:
        yield tag
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], check=False, timeout=120)


async def docker(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "docker", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.timeout(1200)
async def test_the_image_starts_as_a_non_root_user_and_fills_its_volume(image: str) -> None:
    code, out, _ = await docker("run", "--rm", image, "id", "-u")
    assert code == 0 and out.strip() != "0"
    # Started without a token, the Procfile's command says so in one line and exits 2.
    code, _, err = await docker("run", "--rm", image)
    assert code == 2 and "DISCORD_TOKEN is not set" in err, err
    # The operator command, in the container, stores a day in the volume (the fake Hugging Face
    # listens on the host's 127.0.0.1: the host network reaches it).
    volume = f"papers-bot-test-{uuid.uuid4().hex[:8]}"
    try:
        async with FakeHF() as hf:
            day = hf.load_fixture_day("daily_papers_2024-08-01.json")
            code, out, err = await docker(
                "run", "--rm", "--network", "host", "-v", f"{volume}:/data",
                "-e", f"HF_BASE_URL={hf.base_url}",
                image, "python", "-m", "bot", "fetch", "--date", str(day),
            )  # fmt: skip
        assert code == 0, err
        assert f"{day}: 11 papers (11 new, 0 updated)" in out
        code, out, err = await docker(
            "run", "--rm", "-v", f"{volume}:/data", image, "python", "-m", "bot", "search", "llama"
        )
        assert code == 0 and "Llama 3" in out, err
    finally:
        await docker("volume", "rm", "-f", volume)

"""The operator's view: `python -m bot` start-up checks, `fetch` and `search`, as real processes."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date
from pathlib import Path

from bot.store.db import database_at
from bot.store.papers import PaperRepo
from tests.fakes.fake_hf import FakeHF

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "DATABASE_", "HF_", "POLL_", "DEV_GUILD", "BOOKMARK_"))
    }
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'papers.db'}", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


async def run_bot_cli(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    # cwd is tmp_path so that no developer's .env is picked up
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_no_token_exits_2_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    code, _, err = await run_bot_cli(tmp_path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "DISCORD_TOKEN" in lines[0] and ".env.example" in lines[0]
    assert "Traceback" not in err


async def test_an_invalid_setting_is_named(tmp_path: Path) -> None:
    code, _, err = await run_bot_cli(tmp_path, DISCORD_TOKEN="x", POLL_INTERVAL_SECONDS="abc")
    assert code == 2
    assert "POLL_INTERVAL_SECONDS" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


async def test_fetch_stores_every_paper_and_search_finds_them(tmp_path: Path) -> None:
    async with FakeHF() as hf:
        first = hf.load_fixture_day("daily_papers_2024-08-01.json")
        code, out, err = await run_bot_cli(
            tmp_path, "fetch", "--date", "2024-08-02", "--days", "3", HF_BASE_URL=hf.base_url
        )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("2024-07-31: 0 papers")
    assert lines[1] == f"{first}: 11 papers (11 new, 0 updated)"
    assert lines[2].startswith("2024-08-02: 0 papers")
    assert lines[-1].startswith("total: 11 papers fetched (11 new, 0 updated), 0 days failed")
    async with database_at(tmp_path / "papers.db") as db:
        assert len(await PaperRepo(db).papers_listed_on(date(2024, 8, 1))) == 11

    code, out, err = await run_bot_cli(tmp_path, "search", "llama herd", "--limit", "3")
    assert code == 0, err
    assert out.splitlines()[0].startswith("2407.21783")
    assert "The Llama 3 Herd of Models" in out.splitlines()[0]


async def test_fetch_during_an_outage_says_so_and_fails(tmp_path: Path) -> None:
    async with FakeHF() as hf:
        hf.outage = True
        code, out, _ = await run_bot_cli(
            tmp_path, "fetch", "--date", "2024-08-01", HF_BASE_URL=hf.base_url
        )
    assert code == 1
    assert out.splitlines()[0].startswith("2024-08-01: failed: Hugging Face")


async def test_similar_prints_the_papers_most_like_a_stored_one(tmp_path: Path) -> None:
    async with FakeHF() as hf:
        hf.load_fixture_day("daily_papers_2024-08-01.json")
        code, _, err = await run_bot_cli(
            tmp_path, "fetch", "--date", "2024-08-01", HF_BASE_URL=hf.base_url
        )
    assert code == 0, err
    code, out, err = await run_bot_cli(tmp_path, "similar", "2407.21783", "--limit", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "similar to 2407.21783  The Llama 3 Herd of Models"
    # ShieldGemma builds on Llama Guard: id and title, then what it shares
    assert lines[1].startswith("2407.21772   ShieldGemma")
    assert lines[2].split()[0] == "shares:" and "llama" in lines[2]
    assert "2407.21783" not in "\n".join(lines[1:])
    assert len([line for line in lines[1:] if line[:1].isdigit()]) == 3

    code, out, _ = await run_bot_cli(tmp_path, "similar", "2501.99999")
    assert code == 1
    assert out.startswith("no stored paper '2501.99999'") and "python -m bot fetch" in out

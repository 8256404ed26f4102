"""The operator's view: `python -m bot` start-up checks, `fetch` and `search`, as real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.cli import empty_day_note
from bot.store.db import database_at
from bot.store.papers import PaperRepo
from tests.fakes.fake_discord import FakeDiscord
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


async def test_fetch_prints_each_day_once_and_calls_only_weekends_weekends(
    tmp_path: Path, fake_hf: FakeHF
) -> None:
    fake_hf.load_fixture_day("daily_papers_2024-08-01.json")  # a Thursday
    code, out, err = await run_bot_cli(
        tmp_path, "fetch", "--date", "2024-08-04", "--days", "5", HF_BASE_URL=fake_hf.base_url
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[:5] == [
        "2024-07-31: 0 papers (0 new, 0 updated) (nothing listed)",
        "2024-08-01: 11 papers (11 new, 0 updated)",
        "2024-08-02: 0 papers (0 new, 0 updated) (nothing listed)",
        "2024-08-03: 0 papers (0 new, 0 updated) (nothing listed: Saturday, a weekend)",
        "2024-08-04: 0 papers (0 new, 0 updated) (nothing listed: Sunday, a weekend)",
    ]
    assert "2024-08-01" not in err  # the day is not told twice (once printed, once logged)


def test_only_days_that_may_still_fill_in_are_empty_yet() -> None:
    friday = date(2024, 8, 2)
    assert empty_day_note(friday, today=friday) == "nothing listed yet"
    assert empty_day_note(friday, today=date(2024, 8, 3)) == "nothing listed yet"
    assert empty_day_note(friday, today=date(2024, 8, 9)) == "nothing listed"
    assert empty_day_note(date(2024, 8, 3), today=date(2024, 8, 3)) == (
        "nothing listed: Saturday, a weekend"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--days", "0"), "--days must be 1 or more (got 0)"),
        (("--days", "-3"), "--days must be 1 or more (got -3)"),
        (("--date", "2999-01-01"), "--date 2999-01-01 is in the future"),
    ],
)
async def test_fetch_refuses_a_future_date_and_fewer_than_one_day(
    tmp_path: Path, fake_hf: FakeHF, args: tuple[str, ...], expected: str
) -> None:
    code, out, err = await run_bot_cli(tmp_path, "fetch", *args, HF_BASE_URL=fake_hf.base_url)
    assert code == 2
    assert out == "" and err.strip().splitlines() == [err.strip()], err
    assert expected in err and "Traceback" not in err
    assert fake_hf.requests == [] and not (tmp_path / "papers.db").exists()


async def test_search_without_a_database_says_how_to_fill_it_and_creates_nothing(
    tmp_path: Path,
) -> None:
    code, out, err = await run_bot_cli(tmp_path, "search", "diffusion")
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert str(tmp_path / "papers.db") in line and "python -m bot fetch" in line
    assert os.listdir(tmp_path) == []  # no empty database file was made


def a_directory(tmp_path: Path) -> str:
    (tmp_path / "a-directory").mkdir()
    return f"sqlite:///{tmp_path / 'a-directory'}"


def a_text_file(tmp_path: Path) -> str:
    (tmp_path / "notes.txt").write_text("not a database " * 20)
    return f"sqlite:///{tmp_path / 'notes.txt'}"


UNUSABLE_DATABASE_URLS: dict[str, Callable[[Path], str]] = {
    "a directory": a_directory,
    "an empty path": lambda _: "sqlite:///",
    "under /proc": lambda _: "sqlite:////proc/papers.db",
    "read-only /sys": lambda _: "sqlite:////sys/papers.db",
    "a text file": a_text_file,
    "another scheme": lambda _: "postgresql://localhost/papers",
}


@pytest.mark.parametrize("command", [("search", "llama"), ("fetch",), ()])
@pytest.mark.parametrize("place", list(UNUSABLE_DATABASE_URLS))
async def test_an_unusable_database_url_is_one_line_and_exit_2(
    tmp_path: Path, command: tuple[str, ...], place: str
) -> None:
    url = UNUSABLE_DATABASE_URLS[place](tmp_path)
    code, out, err = await run_bot_cli(
        tmp_path,
        *command,
        DATABASE_URL=url,
        DISCORD_TOKEN="not-used",  # the bot stops at the database, before Discord
        HF_BASE_URL="http://127.0.0.1:9",
    )
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert line.startswith("papers-bot: ") and "DATABASE_URL" in line, line
    assert "Traceback" not in err and out == ""


class LoggedProcess:
    """``python -m bot`` with its stderr read line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def wait_for_line(self, needle: str, count: int = 1) -> None:
        assert self.process.stderr is not None
        while sum(needle in line for line in self.lines) < count:
            line = await asyncio.wait_for(self.process.stderr.readline(), 30)
            assert line, "the bot exited early:\n" + "".join(self.lines)
            self.lines.append(line.decode())

    async def stop(self) -> int:
        """SIGTERM, then wait for the exit and keep the rest of stderr."""
        assert self.process.stderr is not None
        self.process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(self.process.stderr.read(), 30)
        self.lines.extend(rest.decode().splitlines(keepends=True))
        return await asyncio.wait_for(self.process.wait(), 30)


async def start_bot_process(tmp_path: Path, **env: str) -> LoggedProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=clean_env(tmp_path, POLL_INTERVAL_SECONDS="3600", **env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return LoggedProcess(process)


def assert_one_line_each(lines: list[str]) -> None:
    text = "".join(lines)
    assert "Traceback" not in text and "refused DISCORD_TOKEN" not in text, text
    assert "voice will NOT be supported" not in text, text  # the bot has no voice
    for line in lines:
        if "cannot reach Discord" in line:
            assert len(line) < 300, line


async def test_a_bot_started_before_discord_is_reachable_retries_then_logs_in(
    tmp_path: Path, fake_hf: FakeHF
) -> None:
    with socket.socket() as placeholder:
        # Bound but not listening: connections are refused until the fake takes the port.
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
        fake = FakeDiscord(port=port)
        bot = await start_bot_process(
            tmp_path, **fake.env(), HF_BASE_URL=fake_hf.base_url, DISCORD_RETRY_SECONDS="0.05"
        )
        await bot.wait_for_line("cannot reach Discord", count=3)
    async with fake:  # the network comes up
        await fake.wait_for(lambda: fake.stats.get("identifies", 0) > 0, 30, "IDENTIFY")
        await fake.settle()
        assert await bot.stop() == 0, "".join(bot.lines)
    attempts = [line for line in bot.lines if "cannot reach Discord" in line]
    assert len(attempts) >= 3
    assert "attempt 1:" in attempts[0] and f"127.0.0.1:{port}" in attempts[0]
    assert "trying again in 0.05 s" in attempts[0] and "trying again in 0.1 s" in attempts[1]
    assert_one_line_each(bot.lines)
    assert "papers-bot stopped" in bot.lines[-1]
    assert fake.unhandled == []


async def test_sigterm_while_waiting_to_retry_stops_at_once_with_status_0(
    tmp_path: Path, fake_hf: FakeHF
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        fake = FakeDiscord(port=placeholder.getsockname()[1])
        # an hour's wait: only a prompt stop ends the process within the test's timeouts
        bot = await start_bot_process(
            tmp_path, **fake.env(), HF_BASE_URL=fake_hf.base_url, DISCORD_RETRY_SECONDS="3600"
        )
        await bot.wait_for_line("trying again in 3600 s")
        assert await bot.stop() == 0, "".join(bot.lines)
    assert_one_line_each(bot.lines)
    assert "papers-bot stopped" in bot.lines[-1]


async def test_a_refused_token_still_exits_1_with_one_line(
    tmp_path: Path, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    code, _, err = await run_bot_cli(
        tmp_path,
        **fake_discord.env() | {"DISCORD_TOKEN": "not.the.token"},
        HF_BASE_URL=fake_hf.base_url,
    )
    assert code == 1, err
    assert "Discord refused DISCORD_TOKEN" in err and "Traceback" not in err
    assert "cannot reach Discord" not in err


async def test_similar_where_no_database_exists_says_so_and_creates_none(tmp_path: Path) -> None:
    code, _, err = await run_bot_cli(tmp_path, "similar", "2407.21783")
    assert code == 2
    assert "no database at" in err and "python -m bot fetch" in err
    assert not (tmp_path / "papers.db").exists()

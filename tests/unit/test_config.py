"""Settings: names and defaults as documented, secrets never shown, bad values named."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.log import RedactingFilter, quiet_discord_client
from bot.shards import ShardSet

ROOT = Path(__file__).resolve().parents[2]
ENV_NAMES = [
    "DISCORD_TOKEN",
    "DATABASE_URL",
    "HF_BASE_URL",
    "FEED_FIRST_BATCH",
    "DISCORD_API_BASE",
    "DISCORD_GATEWAY_URL",
    "DISCORD_RETRY_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "DEV_GUILD_ID",
    "BOOKMARK_EMOJI",
    "LOG_LEVEL",
    "METRICS_PORT",
    "METRICS_HOST",
    "SHARD_COUNT",
    "SHARD_IDS",
    "DISCORD_REQUESTS_PER_SECOND",
    "LEASE_SECONDS",
    "OUTBOX_CLAIM_SECONDS",
]


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer's .env


def test_env_example_lists_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^([A-Z_]+)=(.*)$", text, flags=re.MULTILINE))
    assert sorted(listed) == sorted(ENV_NAMES)
    assert sorted(name.upper() for name in Settings.model_fields) == sorted(ENV_NAMES)
    defaults = load_settings()
    for name, value in listed.items():
        if value:
            parsed = load_settings(**{name.lower(): value})
            assert getattr(parsed, name.lower()) == getattr(defaults, name.lower()), name


def test_defaults_match_the_design() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///papers.db"
    assert settings.database_target == Path("papers.db")
    assert settings.poll_interval_seconds == 600
    assert settings.bookmark_emoji == "🔖"
    assert settings.dev_guild_id is None
    assert settings.metrics_port is None  # no server unless asked
    assert settings.metrics_host == "127.0.0.1"  # and then only on loopback


def test_the_token_is_never_in_repr_and_missing_token_names_it() -> None:
    settings = load_settings(discord_token="super-secret-token")
    assert "super-secret-token" not in repr(settings) and "super-secret-token" not in str(settings)
    with pytest.raises(SettingsError, match=r"DISCORD_TOKEN.*\.env\.example"):
        load_settings().token_value()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLL_INTERVAL_SECONDS", "abc"),
        ("POLL_INTERVAL_SECONDS", "-5"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "sqlite:///"),
        ("DATABASE_URL", "sqlite:///  "),
        ("DATABASE_URL", "sqlite:////proc"),
        ("DEV_GUILD_ID", "my-server"),
        ("LOG_LEVEL", "LOUD"),
        ("HF_BASE_URL", "huggingface.co"),
        ("METRICS_PORT", "metrics"),
        ("METRICS_PORT", "70000"),
    ],
)
def test_an_invalid_value_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert name in str(raised.value) and "\n" not in str(raised.value)


def test_a_database_url_naming_a_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}")
    with pytest.raises(SettingsError, match=r"^invalid setting DATABASE_URL: names a directory"):
        load_settings()


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLL_INTERVAL_SECONDS=42\nDEV_GUILD_ID=\n", encoding="utf-8")
    settings = load_settings()
    assert settings.poll_interval_seconds == 42 and settings.dev_guild_id is None


def test_log_records_never_carry_the_token() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "token is %s", ("abc.def",), None)
    RedactingFilter(["abc.def"]).filter(record)
    assert "abc.def" not in record.getMessage() and "[redacted]" in record.getMessage()


def test_discord_voice_warnings_are_silenced_and_other_warnings_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_discord_client()
    quiet_discord_client()  # idempotent: one filter each however often logging is set up
    client_log = logging.getLogger("discord.client")
    with caplog.at_level(logging.WARNING):
        client_log.warning("PyNaCl is not installed, voice will NOT be supported")
        client_log.warning("davey is not installed, voice will NOT be supported")
        client_log.warning("Application has an interaction endpoint URL set")
    assert [record.getMessage() for record in caplog.records] == [
        "Application has an interaction endpoint URL set"
    ]
    assert len(client_log.filters) == 2


def test_a_gateway_reconnect_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    quiet_discord_client()
    with caplog.at_level(logging.WARNING):
        try:
            raise ConnectionResetError("Cannot connect to host gateway.discord.gg:443")
        except ConnectionResetError:
            # what discord.Client.connect() logs before each reconnect
            logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 1.5)
    [record] = caplog.records
    assert record.getMessage() == (
        "lost the connection to Discord (Cannot connect to host gateway.discord.gg:443); "
        "reconnecting in 1.50s"
    )
    assert record.exc_info is None and "Traceback" not in caplog.text


POSTGRES = "postgresql://bot@db.example/papers"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SHARD_COUNT": "2"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0"}, "SHARD_COUNT"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
    ],
)
def test_shards_are_refused_on_sqlite_in_one_line(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token-value")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    text = str(raised.value)
    assert text.startswith(f"invalid setting {named}: several processes need a postgresql://")
    assert "\n" not in text and "secret-token-value" not in text


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        (None, "0", "SHARD_IDS: needs SHARD_COUNT"),
        ("2", "0,2", "SHARD_IDS: each must be below SHARD_COUNT (2), got 2"),
        ("2", "0;1", "SHARD_IDS: must be shard numbers separated by commas"),
        ("0", None, "SHARD_COUNT"),
    ],
)
def test_shard_ids_must_fit_the_shard_count(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", POSTGRES)
    for name, value in (("SHARD_COUNT", count), ("SHARD_IDS", ids)):
        if value is not None:
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings()


def test_a_process_runs_the_shards_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", POSTGRES)
    assert load_settings().shards is None  # unsharded: one plain bot
    monkeypatch.setenv("SHARD_COUNT", "3")
    assert load_settings().shards == ShardSet(3, frozenset({0, 1, 2}))
    monkeypatch.setenv("SHARD_IDS", " 2, 0 ")
    shards = load_settings().shards
    assert shards == ShardSet(3, frozenset({0, 2})) and str(shards) == "shards 0,2 of 3"


def test_the_request_budget_defaults_to_just_under_discords_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().discord_requests_per_second == 48
    monkeypatch.setenv("DISCORD_REQUESTS_PER_SECOND", "60")
    with pytest.raises(SettingsError, match="DISCORD_REQUESTS_PER_SECOND"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bot:hunter2@/papers",  # no server
        "postgresql://bot:hunter2@db.example:notaport/papers",
        "postgresql://bot:hunter2@db.example:99999/papers",
        "postgres://bot:hunter2@[::1/papers",  # a broken IPv6 address
    ],
)
def test_a_bad_postgresql_url_is_one_line_without_its_password(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(database_url=url)
    message = str(raised.value)
    assert message.startswith("invalid setting DATABASE_URL: ") and "\n" not in message
    assert "hunter2" not in message and "bot:***@" in message


def test_a_postgresql_url_is_taken_as_it_is() -> None:
    settings = load_settings(database_url="postgresql://bot:pw@db.example:5433/papers")
    assert settings.uses_postgres
    assert settings.database_target == "postgresql://bot:pw@db.example:5433/papers"

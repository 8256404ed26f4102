"""Settings from the environment or a `.env` file, built once at start-up and passed down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.shards import ShardSet

DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^@]*@")
POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Every setting papers-bot reads. Names and defaults are documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    discord_token: SecretStr | None = None
    database_url: str = "sqlite:///papers.db"
    hf_base_url: str = "https://huggingface.co"
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = DEFAULT_GATEWAY_URL
    discord_retry_seconds: float = Field(default=5, gt=0)
    poll_interval_seconds: float = Field(default=600, gt=0)
    # How many papers a new (or long-paused) subscription posts at once (bot/feed.py).
    feed_first_batch: int = Field(default=5, ge=1, le=100)
    dev_guild_id: int | None = None
    bookmark_emoji: str = "🔖"
    log_level: LogLevel = "INFO"
    # Off (None) by default; 0 lets the system pick a free port (tests).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # Loopback by default: /metrics names processes and counts, not for the open internet.
    metrics_host: str = "127.0.0.1"
    # Several processes (PostgreSQL only): how many shards in all, and which this one runs
    # (unset: all of them). ``0,1`` in the environment.
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    # This process's share of Discord's global 50 requests/s per token (interactions aside):
    # 48 for one process; about 44 divided by their number for several (headroom for jitter).
    discord_requests_per_second: float = Field(default=48, gt=0, le=50)
    # How long the lease on the once-only work (polling, syncing commands, digests, alerts)
    # lasts unless renewed; another process takes over within two of these after a crash.
    lease_seconds: float = Field(default=30, gt=0)
    # How long a process's claim on an outbox row it is sending lasts: a crashed process's rows
    # are sent by another (or by it, restarted) once their claims expire. A send is given up
    # after half of it, so a claim always outlasts its send.
    outbox_claim_seconds: float = Field(default=60, ge=2)

    @field_validator("database_url")
    @classmethod
    def _sqlite_or_postgres(cls, value: str) -> str:
        if value.startswith(POSTGRES_SCHEMES):
            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 - reading it checks it (a ValueError when malformed)
            except ValueError as exc:
                raise ValueError(f"is not a valid PostgreSQL URL ({exc})") from None
            if not parts.hostname and "host=" not in value:
                raise ValueError("must name a server, like postgresql://user@db.example/papers")
            return value
        if not value.startswith("sqlite:///"):
            raise ValueError(
                "must look like sqlite:///papers.db or postgresql://user@host/database"
            )
        rest = value.removeprefix("sqlite:///")
        if not rest.strip():
            raise ValueError("must name a file after sqlite:///, like sqlite:///papers.db")
        if rest != ":memory:" and Path(rest).is_dir():
            raise ValueError("names a directory: add a file name, like sqlite:///data/papers.db")
        return value

    @field_validator("hf_base_url", "discord_api_base", "discord_gateway_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return value.rstrip("/") if not value.endswith("://") else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            if not all(part.isdigit() for part in parts):
                raise ValueError("must be shard numbers separated by commas, like 0,1")
            return tuple(int(part) for part in parts)
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Self:
        sharded = self.shard_count is not None or self.shard_ids is not None
        if sharded and not self.uses_postgres:
            name = "SHARD_COUNT" if self.shard_count is not None else "SHARD_IDS"
            raise ValueError(
                f"{name}: several processes need a postgresql:// DATABASE_URL; on SQLite the bot "
                "runs as one process (unset SHARD_COUNT and SHARD_IDS)"
            )
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("SHARD_IDS: needs SHARD_COUNT (how many shards in all)")
            wrong = sorted(i for i in self.shard_ids if i >= self.shard_count)
            if wrong or not self.shard_ids:
                raise ValueError(
                    f"SHARD_IDS: each must be below SHARD_COUNT ({self.shard_count}), got "
                    + ",".join(map(str, wrong or self.shard_ids))
                )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("bookmark_emoji")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def database_target(self) -> Path | str:
        """What DATABASE_URL names: the SQLite file (or ``:memory:``), or the PostgreSQL URL."""
        if self.uses_postgres:
            return self.database_url
        rest = self.database_url.removeprefix("sqlite:///")
        return rest if rest == ":memory:" else Path(rest)

    @property
    def shards(self) -> ShardSet | None:
        """The shards this process runs, or None when SHARD_COUNT is unset (one plain bot)."""
        if self.shard_count is None:
            return None
        return ShardSet.of(self.shard_count, self.shard_ids)

    def token_value(self) -> str:
        """The bot token; raises SettingsError when it is missing."""
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise SettingsError(
                "DISCORD_TOKEN is not set: put your bot token in the environment or in .env "
                "(see .env.example)"
            )
        return self.discord_token.get_secret_value().strip()


def without_password(url: str) -> str:
    """``url`` with the password of its user part (if any) shown as ``***``, for messages."""
    return _URL_PASSWORD.sub(r"\1***@", url, count=1)


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning pydantic's report into one line that names each bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:
                # Settings that conflict: the message names them. Its input is every setting,
                # the token included, so it is not shown.
                problems.append(message)
                continue
            name = str(error["loc"][0]).upper()
            given = error.get("input")
            if name == "DISCORD_TOKEN":
                problems.append(f"{name}: {message}")  # the token is never printed
                continue
            if name == "DATABASE_URL" and isinstance(given, str):
                given = without_password(given)
            problems.append(f"{name}: {message} (got {given!r})")
        raise SettingsError(
            "invalid setting " + "; ".join(problems) + " (see .env.example)"
        ) from None

"""Logging set-up: one format, quiet third-party chatter, and never the token."""

from __future__ import annotations

import logging
import sys


class RedactingFilter(logging.Filter):
    """Replaces any occurrence of a secret in a log record's final message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(secret in message for secret in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "[redacted]")
                record.msg, record.args = message, ()
        return True


# discord.py warns about missing voice libraries when a client is built; papers-bot has no voice.
VOICE_WARNINGS = frozenset(
    {
        "PyNaCl is not installed, voice will NOT be supported",
        "davey is not installed, voice will NOT be supported",
    }
)


class NoVoiceWarnings(logging.Filter):
    """Drops exactly discord.py's "voice will NOT be supported" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg in VOICE_WARNINGS)


_NO_VOICE_WARNINGS = NoVoiceWarnings()


def silence_voice_warnings() -> None:
    """Install the voice-warning filter on discord.client (once, however often it is called)."""
    logging.getLogger("discord.client").addFilter(_NO_VOICE_WARNINGS)


def setup_logging(level: str, *, secrets: list[str] | None = None) -> None:
    """Log to stderr as ``time level logger: message``; discord.py's chatter at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(RedactingFilter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("discord.gateway", "discord.client", "discord.http", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    silence_voice_warnings()

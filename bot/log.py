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


class OneLineReconnects(logging.Filter):
    """discord.py logs each gateway reconnect with the network error's whole traceback; one
    line with the error says as much (it only does so for network errors and closed sockets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Attempting a reconnect in %.2fs" and record.exc_info:
            error = record.exc_info[1]
            reason = (str(error) or type(error).__name__) if error else "unknown error"
            record.msg = "lost the connection to Discord (%s); reconnecting in %.2fs"
            record.args = (reason, *(record.args if isinstance(record.args, tuple) else ()))
            record.exc_info, record.exc_text = None, None
        return True


_NO_VOICE_WARNINGS = NoVoiceWarnings()
_ONE_LINE_RECONNECTS = OneLineReconnects()


def quiet_discord_client() -> None:
    """Install the filters above on discord.client (once, however often it is called)."""
    client_log = logging.getLogger("discord.client")
    client_log.addFilter(_NO_VOICE_WARNINGS)
    client_log.addFilter(_ONE_LINE_RECONNECTS)


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
    quiet_discord_client()

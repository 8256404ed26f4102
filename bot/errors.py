"""A small error hierarchy: each error carries the sentence a user may read."""

from __future__ import annotations


class PaperBotError(Exception):
    """Base error whose ``user_message`` is safe and useful to show in Discord."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UpstreamError(PaperBotError):
    """Hugging Face could not be reached or answered with an error."""


class RateLimitedError(UpstreamError):
    """Hugging Face answered 429 and we gave up waiting."""

    def __init__(self, user_message: str, retry_after: float) -> None:
        super().__init__(user_message)
        self.retry_after = retry_after


class ParseError(PaperBotError):
    """A Hugging Face response had a shape we do not understand."""


class PaperNotFound(PaperBotError):
    """No paper with that id is stored, and Hugging Face does not know it either."""


class InvalidQuery(PaperBotError):
    """The user's search text has nothing to search for, or too many terms."""


class QueryTooBroad(PaperBotError):
    """A search ran past its time budget and was stopped; a narrower one will finish."""


class InvalidInput(PaperBotError):
    """A command option could not be understood (a bad date, say)."""

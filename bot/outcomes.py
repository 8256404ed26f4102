"""What an answer to a send means for the outbox: one policy, as a pure function.

The delivery worker turns whatever came back from Discord (a status and a JSON error code, or a
timeout) into an `Outcome`, and the feed service records it: retry later, pause the channel,
remove its subscription, drop the one message with its reason, or stop everything (the token was
refused). Only `read_answer` knows Discord's numbers; the rest of the outbox reads outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Discord's JSON error codes the policy tells apart (topics/opcodes-and-status-codes).
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
CANNOT_MESSAGE_USER = 50007  # a DM to a member who does not accept them
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035
# "A thread has already been created for this message": a retry of a thread that exists.
THREAD_ALREADY_CREATED = 160004
PERMISSION_CODES = frozenset({MISSING_ACCESS, MISSING_PERMISSIONS})

# A 404 that is not "unknown channel" may be a passing glitch: tried this many times in all,
# then dropped with its reason.
NOT_FOUND_ATTEMPTS = 3
# Any other 4xx is about this one request: tried this many times in all, then dropped.
CLIENT_ERROR_ATTEMPTS = 5


class Action(StrEnum):
    """What the outbox does with a message after an answer."""

    SENT = "sent"
    RETRY = "retry"  # later, with backoff; dropped after ``Outcome.attempts`` attempts, if set
    PAUSE = "pause"  # the target refuses the bot: pause the subscription (permissions) or the
    # member's alerts (their DMs are closed)
    REMOVE = "remove"  # the channel is gone: remove its subscription
    DROP = "drop"  # this message can never be sent as it is: give up on it, with the reason
    STOP = "stop"  # the token was refused: send nothing more, keep everything pending


@dataclass(frozen=True, slots=True)
class Outcome:
    """An answer read as an action, with the reason shown in logs and ``/feed preview``."""

    action: Action
    reason: str = ""
    # RETRY only: attempts in all before the message is dropped (None: retried for ever, as
    # for server errors and timeouts, which say nothing about the message).
    attempts: int | None = None


SENT = Outcome(Action.SENT)


def transient(reason: str) -> Outcome:
    """A timeout, a network error or a rate limit: retry later, however often it takes."""
    return Outcome(Action.RETRY, reason)


def answer_reason(status: int, code: int, text: str) -> str:
    """``"400 Invalid Form Body (code 50035)"``: what an error answer said, in one line."""
    words = " ".join(text.split()).removeprefix(f"{status}: ")  # "401: Unauthorized"
    head = f"{status} {words}" if words else str(status)
    return f"{head} (code {code})" if code else head


def read_answer(status: int, code: int = 0, text: str = "", *, editing: bool = False) -> Outcome:
    """Discord's answer to a send, by HTTP status and JSON error ``code``, as an outcome.

    401 stops everything (the token was reset); 403 pauses only for missing access or
    permissions, or a member who accepts no DMs (50007), and is otherwise retried like a server
    error; 404 removes the subscription only
    when the channel is unknown; 400 with "invalid form body" drops the message; other 4xx are
    retried a bounded number of times; 429 and 5xx are retried with backoff for as long as it
    takes. ``editing``: the answer to an edit of a posted message, where any 404 means the
    message (or its channel) is gone: REMOVE forgets the post.
    """
    reason = answer_reason(status, code, text)
    if status < 400:
        return SENT
    if status == 401:
        return Outcome(Action.STOP, reason)
    if editing and status == 404:
        return Outcome(Action.REMOVE, reason)
    if code == CANNOT_MESSAGE_USER and status in (400, 403):
        return Outcome(Action.PAUSE, reason)
    if status == 403:
        if code in PERMISSION_CODES:
            return Outcome(Action.PAUSE, reason)
        return transient(reason)
    if status == 404:
        if code == UNKNOWN_CHANNEL:
            return Outcome(Action.REMOVE, reason)
        return Outcome(Action.RETRY, reason, attempts=NOT_FOUND_ATTEMPTS)
    if status == 400 and code == INVALID_FORM_BODY:
        return Outcome(Action.DROP, reason)
    if status == 429 or status >= 500:
        return transient(reason)
    return Outcome(Action.RETRY, reason, attempts=CLIENT_ERROR_ATTEMPTS)

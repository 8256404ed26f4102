"""Discord's answers read by status and JSON error code: one policy, one table."""

from __future__ import annotations

import pytest

from bot.outcomes import (
    CLIENT_ERROR_ATTEMPTS,
    NOT_FOUND_ATTEMPTS,
    Action,
    Outcome,
    read_answer,
)


@pytest.mark.parametrize(
    ("status", "code", "action", "attempts"),
    [
        (200, 0, Action.SENT, None),
        (401, 0, Action.STOP, None),  # the token was reset while the bot ran
        (403, 50001, Action.PAUSE, None),  # Missing Access
        (403, 50013, Action.PAUSE, None),  # Missing Permissions
        (403, 40333, Action.RETRY, None),  # not about permissions: retried like a 5xx
        (403, 0, Action.RETRY, None),
        (404, 10003, Action.REMOVE, None),  # Unknown Channel
        (404, 10008, Action.RETRY, NOT_FOUND_ATTEMPTS),
        (404, 0, Action.RETRY, NOT_FOUND_ATTEMPTS),
        (400, 50035, Action.DROP, None),  # Invalid Form Body: this message, never again
        (400, 50006, Action.RETRY, CLIENT_ERROR_ATTEMPTS),
        (413, 40005, Action.RETRY, CLIENT_ERROR_ATTEMPTS),
        (429, 0, Action.RETRY, None),
        (500, 0, Action.RETRY, None),
        (503, 0, Action.RETRY, None),
    ],
)
def test_each_answer_has_one_outcome(
    status: int, code: int, action: Action, attempts: int | None
) -> None:
    outcome = read_answer(status, code, "whatever Discord said")
    assert (outcome.action, outcome.attempts) == (action, attempts)


def test_the_reason_names_the_status_and_the_code_on_one_line() -> None:
    outcome = read_answer(400, 50035, "Invalid Form Body\nIn embeds.0.title: Must be 256 or fewer")
    assert outcome == Outcome(
        Action.DROP,
        "400 Invalid Form Body In embeds.0.title: Must be 256 or fewer (code 50035)",
    )
    assert read_answer(401, 0, "401: Unauthorized").reason == "401 Unauthorized"
    assert read_answer(503, 0, "").reason == "503"


def test_an_edit_whose_message_or_channel_is_gone_forgets_the_post() -> None:
    for code in (10008, 10003, 0):
        assert read_answer(404, code, editing=True).action is Action.REMOVE
    assert read_answer(401, editing=True).action is Action.STOP
    assert read_answer(403, 50013, editing=True).action is Action.PAUSE

"""What the fake remembers for tests, and the one wake-up mechanism every waiter uses.

Nothing here polls: a waiter re-checks its predicate each time `Notifier.changed` fires, which
the fake calls after every request, callback, message change and gateway event.

The waiting methods of the fake take a ``timeout`` (a deadline for the test, which fails with a
description of what it waited for) instead of asking tests to wrap them in `asyncio.timeout`;
hence the ``noqa: ASYNC109`` on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Notifier:
    """Wakes every waiter whenever the fake's state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def changed(self) -> None:
        """Something changed: let every waiter re-check its predicate."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float,  # noqa: ASYNC109
        describe: Callable[[], str] | str = "condition",
    ) -> T:
        """Return the predicate's first truthy result; TimeoutError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = describe() if callable(describe) else describe
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                continue  # one last check of the predicate above


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, with the status it answered.

    ``path`` is relative to the API base (``/channels/1/messages``); CDN requests start with
    ``/cdn``. ``json`` is the JSON body, or ``payload_json`` of a multipart body.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    route: str = ""  # the route template, e.g. "/channels/{channel_id}/messages"

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} → {self.status}>"


@dataclass(frozen=True)
class RecordedError:
    """A 4xx/5xx the fake answered, with Discord's JSON code."""

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} → {self.status} code={self.code} {self.message!r}>"

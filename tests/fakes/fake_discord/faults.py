"""Programmed misbehaviour: make matching requests fail or answer slowly.

``fake.fail("POST", r"/channels/\\d+/messages", 429, retry_after=0.05)`` answers the next
matching request with a 429 discord.py will honour and retry; ``fake.hold(...)`` keeps matching
requests in flight until the test calls ``release()``. Patterns are searched
(`re.search`) in the path relative to the API base, e.g. ``/channels/123/messages``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One injected failure (``status``), delay (``delay`` seconds) or hold (``gate``: the
    request waits until ``release()``), used ``times`` times."""

    method: str  # "POST", … or "*" for any
    pattern: re.Pattern[str]
    status: int | None = None
    times: int | None = 1  # None: forever
    code: int | None = None
    message: str | None = None
    retry_after: float | None = None
    is_global: bool = False
    delay: float = 0.0
    gate: asyncio.Event | None = None
    hits: int = 0
    matched: list[str] = field(default_factory=list)

    def release(self) -> None:
        """Let the requests this fault holds (and any later ones it matches) go on."""
        if self.gate is not None:
            self.gate.set()

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        return (
            not self.exhausted
            and self.method in ("*", method.upper())
            and self.pattern.search(path) is not None
        )


class Faults:
    """The programmed faults, first match wins."""

    def __init__(self) -> None:
        self.active: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.active.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Use up the first fault matching this request, if any."""
        for fault in self.active:
            if fault.matches(method, path):
                fault.hits += 1
                fault.matched.append(f"{method} {path}")
                return fault
        return None

    def release_all(self) -> None:
        for fault in self.active:
            fault.release()

    def clear(self) -> None:
        self.release_all()
        self.active.clear()

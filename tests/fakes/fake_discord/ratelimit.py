"""Discord-style rate limits for ``FakeDiscord(rate_limits=True)`` (benchmarks, not unit tests).

Per-route buckets keyed by the route's major parameter (channel, guild or webhook), each a
fixed window opened by its first request, plus the 50 requests/s global limit that interaction
callbacks and interaction webhooks are exempt from (topics/rate-limits.mdx). Responses carry
the same ``X-RateLimit-*`` headers Discord sends, so discord.py's pre-emptive limiter works as
it does in production; 429s carry ``Via`` and a JSON body, or discord.py would treat them as a
Cloudflare ban.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

GLOBAL_LIMIT = 50
GLOBAL_WINDOW_SECONDS = 1.0
VIA = "1.1 google"  # Discord's responses come through Google's front end


@dataclass(frozen=True)
class BucketRule:
    """``limit`` requests per ``per`` seconds for each value of the route's ``major`` param."""

    name: str
    limit: int
    per: float
    major: str | None  # "channel_id", "guild_id", "token" or None (one bucket for the route)
    exempt_from_global: bool = False

    @property
    def bucket_hash(self) -> str:
        """An opaque id like Discord's ``X-RateLimit-Bucket`` (stable per rule)."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:32]  # an id, not a secret


REACTIONS = BucketRule("reactions", limit=1, per=0.25, major="channel_id")
ROUTE_RULES: dict[tuple[str, str], BucketRule] = {
    ("POST", "/channels/{channel_id}/messages"): BucketRule(
        "create-message", limit=5, per=5.0, major="channel_id"
    ),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): BucketRule(
        "edit-message", limit=5, per=5.0, major="channel_id"
    ),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): BucketRule(
        "delete-message", limit=5, per=1.0, major="channel_id"
    ),
    ("GET", "/channels/{channel_id}/messages"): BucketRule(
        "get-messages", limit=10, per=1.0, major="channel_id"
    ),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"): REACTIONS,
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"): REACTIONS,
    ("POST", "/webhooks/{webhook_id}/{token}"): BucketRule(
        "webhook-execute", limit=5, per=2.0, major="token", exempt_from_global=True
    ),
}
WEBHOOK_MESSAGE = BucketRule(
    "webhook-message", limit=5, per=1.0, major="token", exempt_from_global=True
)
DEFAULT_RULE = BucketRule("default", limit=50, per=1.0, major=None)


def rule_for(method: str, route: str) -> BucketRule | None:
    """The bucket of a route template; None for routes with no limit (interaction callbacks)."""
    if route.startswith("/interactions/"):
        return None
    if (method, route) in ROUTE_RULES:
        return ROUTE_RULES[(method, route)]
    if route.startswith("/webhooks/"):
        return WEBHOOK_MESSAGE
    return DEFAULT_RULE


@dataclass
class _Window:
    reset_at: float
    used: int = 0


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer: headers to send, and whether to answer 429 instead."""

    headers: dict[str, str]
    limited: bool = False
    retry_after: float = 0.0
    is_global: bool = False

    def body(self) -> dict[str, object]:
        """The JSON body of the 429."""
        return {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }


def _round_up(seconds: float) -> float:
    """Round up to milliseconds, so a client that waits exactly this long is never early."""
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


class RateLimiter:
    """Per-route buckets and the global limit, on a monotonic clock."""

    def __init__(
        self,
        *,
        global_limit: int = GLOBAL_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_limit = global_limit
        self._clock = clock
        self._global = _Window(reset_at=0.0)
        self._windows: dict[tuple[str, str], _Window] = {}

    def check(self, method: str, route: str, params: Mapping[str, str]) -> Verdict:
        """Count one request; say whether it passes and with which headers."""
        rule = rule_for(method, route)
        if rule is None:
            return Verdict(headers={})
        now = self._clock()
        if not rule.exempt_from_global:
            verdict = self._check_global(now)
            if verdict is not None:
                return verdict

        key = (rule.name, params.get(rule.major, "") if rule.major else "")
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = _Window(reset_at=now + rule.per)
        reset_after = _round_up(window.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": rule.bucket_hash,
        }
        if window.used >= rule.limit:
            headers |= {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Scope": "user",
                "Retry-After": str(math.ceil(reset_after)),
                "Via": VIA,
            }
            return Verdict(headers=headers, limited=True, retry_after=reset_after)
        window.used += 1
        headers["X-RateLimit-Remaining"] = str(rule.limit - window.used)
        return Verdict(headers=headers)

    def _check_global(self, now: float) -> Verdict | None:
        if now >= self._global.reset_at:
            self._global = _Window(reset_at=now + GLOBAL_WINDOW_SECONDS)
        if self._global.used < self.global_limit:
            self._global.used += 1
            return None
        retry_after = _round_up(self._global.reset_at - now)
        headers = {
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Retry-After": str(math.ceil(retry_after)),
            "Via": VIA,
        }
        return Verdict(headers=headers, limited=True, retry_after=retry_after, is_global=True)


def injected_429(retry_after: float, *, is_global: bool) -> Verdict:
    """A 429 for `FakeDiscord.fail`, shaped exactly like a real one."""
    retry_after = _round_up(retry_after)
    headers = {
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": "global" if is_global else "user",
        "Via": VIA,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers |= {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        }
    return Verdict(headers=headers, limited=True, retry_after=retry_after, is_global=is_global)

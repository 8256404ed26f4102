"""The delivery engine, Discord-agnostic: what the outbox sends, when, and what each answer means.

``bot.delivery.engine`` drains the outbox (one task per channel, paced under Discord's global
limit, resting channels after failures, stopping when the token is refused) and calls a
``bot.delivery.sender.Sender``, which the Discord layer implements (``cogs/discord_sender.py``).
"""

from bot.delivery.engine import DeliveryEngine, RequestPacer
from bot.delivery.sender import ForumPost, RecentPost, Sender, SendFailed, SentMessage

__all__ = [
    "DeliveryEngine",
    "ForumPost",
    "RecentPost",
    "RequestPacer",
    "SendFailed",
    "Sender",
    "SentMessage",
]

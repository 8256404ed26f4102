"""The delivery engine, Discord-agnostic: what the outbox sends, when, and what each answer means.

``bot.delivery.engine`` drains the outbox (one task per channel, within this process's share of
Discord's global limit, ``budget.py``; resting channels after failures, stopping when the token
is refused) and calls a ``bot.delivery.sender.Sender``, which the Discord layer implements
(``cogs/discord_sender.py``).
"""

from bot.delivery.budget import RateBudget
from bot.delivery.engine import DeliveryEngine
from bot.delivery.sender import ForumPost, RecentPost, Sender, SendFailed, SentMessage

__all__ = [
    "DeliveryEngine",
    "ForumPost",
    "RateBudget",
    "RecentPost",
    "SendFailed",
    "Sender",
    "SentMessage",
]

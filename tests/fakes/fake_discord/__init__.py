"""A strict fake Discord (REST under /api/v10 + gateway WebSocket) for end-to-end tests.

The real, unmodified discord.py talks to it over sockets on 127.0.0.1; see `server.FakeDiscord`
for the API and `harness` for running a bot against it. Modules: `world` (state), `payloads`
(Discord JSON), `rest` (routes), `gateway` (WebSocket), `events` (what the bot is told),
`interactions` (records of interactions), `commands` (synced commands → interaction data),
`limits` (Discord's limits), `mentions` (who a message pings), `permissions`, `errors`,
`messages`, `faults`, `ratelimit`.
"""

from .commands import CommandNotAvailable
from .errors import DiscordError
from .harness import point_discord_py_at, running_bot
from .interactions import InteractionRecord, InteractionRejected
from .mentions import Pings
from .permissions import Permission
from .records import RecordedError, RecordedRequest
from .server import FakeDiscord
from .world import StoredAttachment

__all__ = [
    "CommandNotAvailable",
    "DiscordError",
    "FakeDiscord",
    "InteractionRecord",
    "InteractionRejected",
    "Permission",
    "Pings",
    "RecordedError",
    "RecordedRequest",
    "StoredAttachment",
    "point_discord_py_at",
    "running_bot",
]

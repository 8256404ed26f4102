"""The gateway WebSocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatch.

Frames go out as TEXT (discord.py only decompresses BINARY frames, so the ``compress`` query
parameter and IDENTIFY's ``compress`` can be ignored). Each session keeps the frames it was
sent, so after `Gateway.drop_connection` the client's RESUME gets exactly what it missed,
like Discord's replay. Events are filtered per session by the intents it identified with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .records import Notifier

log = logging.getLogger(__name__)

# Opcodes (topics/opcodes-and-status-codes).
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Close codes.
UNKNOWN_ERROR = 4000
UNKNOWN_OPCODE = 4001
DECODE_ERROR = 4002
NOT_AUTHENTICATED = 4003
AUTHENTICATION_FAILED = 4004
ALREADY_AUTHENTICATED = 4005
INVALID_API_VERSION = 4012
INVALID_INTENTS = 4013
DISALLOWED_INTENTS = 4014
CLIENT_DONE = frozenset({1000, 1001})  # a client closing with these ends its session

# Intents (events/gateway.mdx).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
}
"""Events a session only receives with this intent (absent: always delivered)."""

CONTENT_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE"})
REPLAY_BUFFER = 10_000  # frames kept per session for RESUME


@dataclass
class Connection:
    """One WebSocket connection; frames go out in order through its queue."""

    ws: web.WebSocketResponse
    query: dict[str, str]
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    session: Session | None = None
    dropped_by_test: bool = False
    writer: asyncio.Task[None] | None = None
    heartbeats: int = 0

    def send(self, frame: str) -> None:
        self.queue.put_nowait(frame)

    def send_json(self, payload: dict[str, Any]) -> None:
        self.send(json.dumps(payload))


@dataclass
class Session:
    """A gateway session: survives a dropped connection until the client resumes it."""

    id: str
    intents: int
    shard: list[int] | None
    identify: dict[str, Any]
    seq: int = 0
    frames: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    connection: Connection | None = None
    ended: bool = False

    def receives(self, guild_id: int | None) -> bool:
        """Whether this session gets a guild's events: the guild is on its shard
        (``(guild_id >> 22) % count``); events of no guild (DMs) go to shard 0 only."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Number, remember and (if connected) send one event."""
        self.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data})
        self.frames.append((self.seq, frame))
        if self.connection is not None:
            self.connection.send(frame)


OnIdentify = Callable[[Session], list[tuple[str, dict[str, Any]]]]
# Events whose payload is the guild itself (its id is ``id``, not ``guild_id``).
GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


def event_guild(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to, which decides the shard that receives it (None: a DM)."""
    guild_id = data.get("id") if event in GUILD_EVENTS else data.get("guild_id")
    return int(guild_id) if guild_id is not None else None


class Gateway:
    """Accepts discord.py's WebSocket, speaks the gateway protocol, and dispatches events."""

    def __init__(
        self,
        *,
        token: str,
        bot_user_id: int,
        notifier: Notifier,
        stats: Counter[str],
        unhandled: list[str],
        on_identify: OnIdentify,
        resume_url: Callable[[], str],
        heartbeat_interval_ms: int = 41_250,
        allowed_privileged_intents: int = 0,
    ) -> None:
        self._token = token
        self._bot_user_id = bot_user_id
        self._notifier = notifier
        self._stats = stats
        self._unhandled = unhandled
        self._on_identify = on_identify
        self._resume_url = resume_url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged_intents = allowed_privileged_intents
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies: list[dict[str, Any]] = []  # IDENTIFY payloads, token removed
        self.close_codes: list[int | None] = []  # how each connection ended

    def accept_token(self, token: str) -> None:
        """The token IDENTIFY and RESUME must carry from now on (the old one was reset)."""
        self._token = token

    # --- state for tests ---------------------------------------------------------------------

    @property
    def live_sessions(self) -> list[Session]:
        """Sessions that receive events now or on RESUME."""
        return [s for s in self.sessions.values() if not s.ended]

    @property
    def connected(self) -> bool:
        """Whether some identified session currently has an open connection."""
        return any(s.connection is not None for s in self.live_sessions)

    @property
    def intents(self) -> int | None:
        """The intents of the latest IDENTIFY (None before any)."""
        return self.identifies[-1]["intents"] if self.identifies else None

    # --- dispatch ----------------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, author_id: int | None = None) -> int:
        """Send an event to every live session its intents allow; return how many got it.

        ``author_id`` marks a message event: without MESSAGE_CONTENT, other users' content,
        embeds, attachments and components arrive empty, as on Discord.
        """
        delivered = 0
        needed = EVENT_INTENTS.get(event, 0)
        guild_id = event_guild(event, data)
        for session in self.live_sessions:
            if (needed and not session.intents & needed) or not session.receives(guild_id):
                continue
            payload = data
            if (
                event in CONTENT_EVENTS
                and author_id not in (None, self._bot_user_id)
                and not session.intents & MESSAGE_CONTENT
            ):
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            session.dispatch(event, payload)
            delivered += 1
        if delivered:
            self._stats["gateway_events"] += 1
        return delivered

    async def flush(self) -> None:
        """Wait until every queued frame has been written to its socket."""
        for connection in list(self.connections):
            await connection.queue.join()

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the client has parsed every frame sent so far.

        Sends a server HEARTBEAT (op 1) and waits for the client's answering heartbeat:
        discord.py reads frames one at a time and runs the parser (cache updates) of each
        before reading the next, so its answer proves everything before it was parsed.
        Listeners it dispatched may still be running.
        """
        waiting = [
            (c, c.heartbeats) for c in self.connections if c.session is not None and not c.ws.closed
        ]
        for connection, _ in waiting:
            connection.send_json({"op": HEARTBEAT, "d": None})
        await self._notifier.wait_for(
            lambda: all(c.heartbeats > seen or c.ws.closed for c, seen in waiting),
            timeout,
            "the bot to answer a server heartbeat",
        )

    async def drop_connection(self, code: int = UNKNOWN_ERROR) -> None:
        """Close every connection with a resumable code; sessions stay for RESUME."""
        for connection in list(self.connections):
            connection.dropped_by_test = True
            await connection.ws.close(code=code, message=b"dropped by the test")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client closes and resumes."""
        for connection in list(self.connections):
            connection.send_json({"op": RECONNECT, "d": None})
        await self.flush()

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; unless resumable, the client identifies afresh."""
        for connection in list(self.connections):
            if connection.session is not None and not resumable:
                connection.session.ended = True
            connection.send_json({"op": INVALID_SESSION, "d": resumable})
        await self.flush()

    async def close_all(self) -> None:
        """Shut down: close every socket (code 1001 Going Away) and end every session."""
        for session in self.sessions.values():
            session.ended = True
        for connection in list(self.connections):
            await connection.ws.close(code=1001, message=b"fake discord shutting down")

    # --- the WebSocket handler ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for ``GET /gateway`` (a WebSocket upgrade)."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws=ws, query=dict(request.query))
        connection.writer = asyncio.create_task(self._write(connection))
        self.connections.append(connection)
        self._stats["gateway_connections"] += 1
        try:
            if connection.query.get("v") != "10":
                await ws.close(code=INVALID_API_VERSION, message=b"Invalid API version")
            elif connection.query.get("encoding", "json") != "json":
                await ws.close(code=DECODE_ERROR, message=b"only encoding=json is faked")
            else:
                connection.send_json(
                    {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
                )
                await self._receive(connection)
        finally:
            await self._closed(connection)
        return ws

    async def _receive(self, connection: Connection) -> None:
        async for message in connection.ws:
            if message.type is WSMsgType.TEXT:
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await connection.ws.close(code=DECODE_ERROR, message=b"Decode error")
                    return
                await self._on_frame(connection, frame)
            elif message.type is WSMsgType.BINARY:
                await connection.ws.close(code=DECODE_ERROR, message=b"binary frames unexpected")
                return

    async def _on_frame(self, connection: Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            self._stats["heartbeats"] += 1
            connection.heartbeats += 1
            connection.send_json({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data or {})
        elif op == RESUME:
            await self._resume(connection, data or {})
        elif connection.session is None:
            await connection.ws.close(code=NOT_AUTHENTICATED, message=b"Not authenticated")
        elif op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            self._stats[f"gateway_op_{op}"] += 1
        elif op == REQUEST_GUILD_MEMBERS:
            self._stats["member_requests"] += 1
            self._unhandled.append(f"GATEWAY op 8 REQUEST_GUILD_MEMBERS {data}")
        else:
            self._unhandled.append(f"GATEWAY unknown op {op}")
            await connection.ws.close(code=UNKNOWN_OPCODE, message=b"Unknown opcode")
        self._notifier.changed()

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if connection.session is not None:
            await connection.ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated")
            return
        if data.get("token") != self._token:
            await connection.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await connection.ws.close(code=INVALID_INTENTS, message=b"Invalid intent(s)")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await connection.ws.close(code=DISALLOWED_INTENTS, message=b"Disallowed intent(s)")
            return
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        self._stats["identifies"] += 1
        session = Session(
            id=secrets.token_hex(16), intents=intents, shard=data.get("shard"), identify=data
        )
        self.sessions[session.id] = session
        self._attach(connection, session)
        for event, payload in self._on_identify(session):
            session.dispatch(event, payload)

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        oldest = session.frames[0][0] if session and session.frames else 1
        if (
            data.get("token") != self._token
            or session is None
            or session.ended
            or (session.frames and seq < oldest - 1)
        ):
            self._stats["invalid_sessions"] += 1
            connection.send_json({"op": INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not connection:
            old = session.connection
            old.session = None
            old.dropped_by_test = True
            await old.ws.close(code=UNKNOWN_ERROR, message=b"session resumed elsewhere")
        self._attach(connection, session)
        for frame_seq, frame in session.frames:
            if frame_seq > seq:
                connection.send(frame)
        self._stats["resumes"] += 1
        session.dispatch("RESUMED", {})

    def _attach(self, connection: Connection, session: Session) -> None:
        connection.session = session
        session.connection = connection

    async def _write(self, connection: Connection) -> None:
        while True:
            frame = await connection.queue.get()
            try:
                if not connection.ws.closed:
                    await connection.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                log.debug("gateway frame lost on a closing socket")
            finally:
                connection.queue.task_done()

    async def _closed(self, connection: Connection) -> None:
        if connection.writer is not None:
            connection.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection.writer
        while not connection.queue.empty():  # nobody will write these: release flush()
            connection.queue.get_nowait()
            connection.queue.task_done()
        self.connections.remove(connection)
        code = connection.ws.close_code
        self.close_codes.append(code)
        session = connection.session
        if session is not None and session.connection is connection:
            session.connection = None
            if code in CLIENT_DONE and not connection.dropped_by_test:
                session.ended = True
        self._notifier.changed()

    def ready_payload(
        self,
        session: Session,
        *,
        user: dict[str, Any],
        guild_ids: list[int],
        application: dict[str, Any],
    ) -> dict[str, Any]:
        """The READY event for a new session."""
        payload: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._resume_url(),
            "application": application,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "user_settings": {},
            "_trace": ['["fake-discord",{"micros":0}]'],
        }
        if session.shard is not None:
            payload["shard"] = session.shard  # required by AutoShardedClient
        return payload

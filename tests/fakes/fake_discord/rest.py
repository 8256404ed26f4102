"""The REST API under ``/api/v10``: the routes discord.py calls for what papers-bot does.

One middleware wraps every request: it parses the body once (JSON or multipart), records it,
applies injected faults, checks authentication and rate limits, turns `DiscordError` into
Discord's JSON error body, and answers unknown routes with 404 *and* an entry in
``fake.unhandled`` (tests assert that list stays empty). Responses use the exact
``Content-Type: application/json`` discord.py requires (with a charset it would not parse them).

To add a route: write a handler below and list it in `RestApi.routes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import payloads
from .errors import (
    CANNOT_EDIT_OTHERS_MESSAGE,
    CANNOT_MESSAGE_USER,
    INTERACTION_ALREADY_ACKNOWLEDGED,
    INVALID_FORM_BODY,
    INVALID_JSON,
    INVALID_WEBHOOK_TOKEN,
    MAX_REACTIONS,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_EMOJI,
    UNKNOWN_GUILD,
    UNKNOWN_INTERACTION,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    UNKNOWN_WEBHOOK,
    DiscordError,
    FormErrors,
)
from .gateway import GUILD_MEMBERS
from .interactions import (
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
    InteractionRecord,
)
from .limits import (
    AUTO_ARCHIVE_DURATIONS,
    FORUM_TAGS_LIMIT,
    REACTIONS_PER_MESSAGE,
    THREAD_NAME_LIMIT,
    validate_choices,
    validate_commands,
    validate_message,
)
from .limits import validate_modal as validate_modal_body
from .messages import (
    CHANNEL_FLAGS,
    WEBHOOK_FLAGS,
    apply_edit,
    build_message,
    check_files,
    check_nonce,
)
from .permissions import Permission
from .ratelimit import VIA, injected_429
from .records import RecordedError, RecordedRequest, UploadedFile
from .world import EPHEMERAL, GUILD_FORUM, GUILD_TEXT, LOADING, Message, Reaction, Thread

if TYPE_CHECKING:
    from .faults import Fault
    from .server import FakeDiscord

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"
GATEWAY_PATH = "/gateway"
JSON_CONTENT_TYPE = "application/json"  # exactly: discord.py compares the header verbatim
TRUE_VALUES = frozenset({"1", "true", "True"})
_FILE_FIELD = re.compile(r"files\[(\d+)\]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with ``Content-Type`` exactly ``application/json``."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": JSON_CONTENT_TYPE, **(headers or {})},
    )


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class Body:
    """A request body parsed once by the middleware."""

    json: Any = None
    files: dict[int, UploadedFile] = field(default_factory=dict)
    invalid: bool = False


BODY = web.RequestKey("body", Body)


async def read_body(request: web.Request) -> Body:
    """Parse a JSON body, or a multipart one (``payload_json`` + ``files[n]``)."""
    if request.content_type == "multipart/form-data":
        body = Body()
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.name == "payload_json":
                body.json = json.loads(await part.text())
            elif match := _FILE_FIELD.fullmatch(part.name):
                body.files[int(match.group(1))] = UploadedFile(
                    filename=part.filename or "unknown",
                    data=bytes(await part.read()),
                    content_type=part.headers.get("Content-Type"),
                )
        return body
    raw = await request.read()
    if not raw:
        return Body()
    try:
        return Body(json=json.loads(raw))
    except ValueError:
        return Body(invalid=True)


def snowflake_param(request: web.Request, name: str) -> int:
    """A numeric path parameter, or Discord's 400 for a malformed snowflake."""
    value = request.match_info[name]
    if not value.isdigit():
        errors = FormErrors()
        errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
        errors.raise_if_any()
    return int(value)


def query_snowflake(request: web.Request, name: str) -> int | None:
    """An optional numeric query parameter (400/50035 if it is not a snowflake)."""
    value = request.query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        errors = FormErrors()
        errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
        errors.raise_if_any()
    return int(value)


class RestApi:
    """Route handlers and the middleware, bound to one `FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        for method, path, handler in self.routes():
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_get(
            CDN_PREFIX + "/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn_attachment
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        """Every route the fake knows (anything else is a 404 recorded in ``unhandled``)."""
        message = "/channels/{channel_id}/messages/{message_id}"
        webhook_message = "/webhooks/{webhook_id}/{token}/messages/{message_id}"
        return [
            ("GET", "/users/@me", self.get_current_user),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/{application_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/commands", self.put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{token}", self.execute_webhook),
            ("GET", webhook_message, self.get_webhook_message),
            ("PATCH", webhook_message, self.edit_webhook_message),
            ("DELETE", webhook_message, self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.get_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("POST", "/channels/{channel_id}/typing", self.trigger_typing),
            ("POST", "/channels/{channel_id}/threads", self.start_forum_post),
            ("GET", message, self.get_message),
            ("PATCH", message, self.edit_message),
            ("DELETE", message, self.delete_message),
            ("GET", message + "/reactions/{emoji}", self.get_reactions),
            ("PUT", message + "/reactions/{emoji}/@me", self.add_reaction),
            ("DELETE", message + "/reactions/{emoji}/@me", self.remove_reaction),
            ("POST", message + "/threads", self.start_thread_from_message),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/threads/active", self.get_active_threads),
            ("GET", "/guilds/{guild_id}/members", self.list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
        ]

    # --- middleware --------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == GATEWAY_PATH:
            return await handler(request)
        fake = self.fake
        path = request.path.removeprefix(API_PREFIX)
        try:
            body = await read_body(request)
        except ValueError:  # malformed multipart or payload_json
            body = Body(invalid=True)
        request[BODY] = body
        resource = request.match_info.route.resource
        route = resource.canonical.removeprefix(API_PREFIX) if resource is not None else ""
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body.json,
            files=list(body.files.values()),
            headers=dict(request.headers),
            route=route,
        )
        fake.requests.append(record)
        try:
            response = await self._answer(request, handler, record)
        except DiscordError as error:
            self._note_rejection(request, error)
            response = json_response(error.body(), status=error.status)
        except Exception as exc:  # a bug in the fake: fail the test, never a retried 5xx
            log.exception("fake discord crashed on %s %s", request.method, path)
            fake.unhandled.append(f"INTERNAL ERROR {request.method} {path}: {exc!r}")
            response = json_response({"message": f"fake discord crashed: {exc!r}", "code": 0}, 400)
        response.headers.setdefault("Via", VIA)
        record.status = response.status
        fake.stats["http_requests"] += 1
        if response.status >= 400:
            self._record_error(record, response)
        fake.notifier.changed()
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, record: RecordedRequest
    ) -> web.StreamResponse:
        fake = self.fake
        if fake.latency:
            await asyncio.sleep(fake.latency)
        fault = fake.faults.take(request.method, record.path)
        if fault is not None:
            fake.notifier.changed()  # tests wait on ``fault.hits`` (e.g. a request held in flight)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.gate is not None:
                await fault.gate.wait()
            if fault.status is not None:
                return self._fault_response(fault)

        http_error = request.match_info.http_exception
        if http_error is not None:
            fake.unhandled.append(f"{request.method} {record.path}")
            raise DiscordError(http_error.status)

        is_token_route = record.route.startswith(("/interactions/", "/webhooks/"))
        is_cdn = record.path.startswith(CDN_PREFIX)
        if not (is_token_route or is_cdn) and (
            request.headers.get("Authorization") != f"Bot {fake.token}"
        ):
            raise DiscordError(401)

        headers: dict[str, str] = {}
        if fake.rate_limiter is not None and not is_cdn:
            verdict = fake.rate_limiter.check(request.method, record.route, request.match_info)
            if verdict.limited:
                fake.stats["http_429"] += 1
                if verdict.is_global:
                    fake.stats["http_429_global"] += 1
                return json_response(verdict.body(), status=429, headers=verdict.headers)
            headers = verdict.headers

        if request[BODY].invalid:
            raise DiscordError.of(INVALID_JSON)
        response = await handler(request)
        response.headers.update(headers)
        return response

    def _note_rejection(self, request: web.Request, error: DiscordError) -> None:
        """Tell the interaction (if any) that one of the bot's answers was refused."""
        info = request.match_info
        record = None
        if info.get("interaction_id", "").isdigit():
            record = self.fake.interactions.by_id(int(info["interaction_id"]))
        elif "token" in info:
            record = self.fake.interactions.by_token(info["token"])
        if record is not None:
            record.rejections.append(error)

    def _fault_response(self, fault: Fault) -> web.Response:
        assert fault.status is not None
        if fault.status == 429:
            self.fake.stats["http_429"] += 1
            verdict = injected_429(fault.retry_after or 0.0, is_global=fault.is_global)
            return json_response(verdict.body(), status=429, headers=verdict.headers)
        error = DiscordError(fault.status, fault.code or 0, fault.message)
        return json_response(error.body(), status=fault.status)

    def _record_error(self, record: RecordedRequest, response: web.StreamResponse) -> None:
        body: dict[str, Any] = {}
        if isinstance(response, web.Response) and response.body:
            try:
                body = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                body = {}
        self.fake.errors.append(
            RecordedError(
                method=record.method,
                path=record.path,
                status=response.status,
                code=int(body.get("code", 0)),
                message=str(body.get("message", "")),
                errors=body.get("errors"),
            )
        )

    def _json(self, request: web.Request) -> dict[str, Any]:
        data = request[BODY].json
        if not isinstance(data, dict):
            raise DiscordError(
                400,
                INVALID_FORM_BODY,
                errors={
                    "_errors": [
                        {
                            "code": "DICT_TYPE_CONVERT",
                            "message": "Only dictionaries may be used in a DictType",
                        }
                    ]
                },
            )
        return data

    def _files(self, request: web.Request) -> dict[int, UploadedFile]:
        files: dict[int, UploadedFile] = request[BODY].files
        return files

    def _render(self, message: Message) -> dict[str, Any]:
        return payloads.message_payload(self.world, message, viewer_id=self.fake.bot_user_id)

    # --- users, application, gateway --------------------------------------------------------

    async def get_current_user(self, request: web.Request) -> web.Response:
        user = self.world.users[self.fake.bot_user_id]
        return json_response(
            {
                **payloads.user_payload(user),
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
                "email": None,
            }
        )

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(snowflake_param(request, "user_id"))
        if user is None:
            raise DiscordError.of(UNKNOWN_USER)
        return json_response(payloads.user_payload(user))

    async def create_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels`` with ``recipient_id``: the DM channel (type 1). Opening
        it always works; a member who closed DMs refuses the messages (403/50007)."""
        body = self._json(request)
        try:
            user_id = int(body.get("recipient_id", ""))
        except (TypeError, ValueError):
            errors = FormErrors()
            errors.add(("recipient_id",), "NUMBER_TYPE_COERCE", "Value is not snowflake.")
            errors.raise_if_any()
            raise
        if user_id not in self.world.users or user_id == self.fake.bot_user_id:
            raise DiscordError.of(UNKNOWN_USER)
        channel = self.world.dm_channel_with(user_id)
        return json_response(payloads.dm_channel_payload(self.world, channel))

    async def get_application(self, request: web.Request) -> web.Response:
        fake = self.fake
        return json_response(
            {
                "id": str(fake.application_id),
                "name": self.world.users[fake.bot_user_id].username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": payloads.user_payload(self.world.users[fake.owner_id]),
                "team": None,
                "flags": fake.application_flags,
                "rpc_origins": [],
                "redirect_uris": [],
                "tags": [],
                "interactions_endpoint_url": None,  # set, discord.py would expect no gateway events
                "role_connections_verification_url": None,
                "approximate_guild_count": len(self.world.guilds),
                "integration_types_config": {"0": {}},
                "bot": payloads.user_payload(self.world.users[fake.bot_user_id]),
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    # --- application commands -----------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if snowflake_param(request, "application_id") != self.fake.application_id:
            raise DiscordError.of(MISSING_ACCESS)
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake_param(request, "guild_id")
        if guild_id not in self.world.guilds:
            raise DiscordError.of(UNKNOWN_GUILD)
        return guild_id

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.fake.commands.commands(self._command_scope(request)))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[BODY].json
        errors = FormErrors()
        validate_commands(body, errors)
        errors.raise_if_any()
        return json_response(self.fake.commands.overwrite(scope, body))

    # --- interactions -------------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        """``POST /interactions/{id}/{token}/callback``: the initial response, once, within 3 s."""
        fake = self.fake
        record = fake.interactions.by_id(snowflake_param(request, "interaction_id"))
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError.of(UNKNOWN_INTERACTION)
        if record.responded:
            raise DiscordError.of(INTERACTION_ALREADY_ACKNOWLEDGED)
        if record.ack_expired or time.monotonic() - record.dispatched_at > fake.ack_window:
            raise DiscordError.of(UNKNOWN_INTERACTION)

        body = self._json(request)
        files = self._files(request)
        kind = body.get("type")
        data = body.get("data") or {}
        errors = FormErrors()
        allowed = ALLOWED_CALLBACKS.get(record.kind, frozenset())
        if kind not in allowed:
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Value must be one of {sorted(allowed)} for interaction type {record.kind}.",
            )
        elif kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            validate_message(data, errors, ("data",))
            check_files(files, errors)
        elif kind == AUTOCOMPLETE_RESULT:
            validate_choices(data.get("choices"), errors, ("data", "choices"))
        elif kind == MODAL:
            validate_modal_body(data, errors, ("data",))
        errors.raise_if_any()
        assert isinstance(kind, int)

        message: Message | None = None
        if kind == CHANNEL_MESSAGE:
            message = self._interaction_message(record, data, files)
            self.world.add_message(message)
            fake.events.message_created(message)
            record.original_id = message.id
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self._interaction_message(record, {}, {}, flags=flags)
            self.world.add_message(message)
            record.original_id = message.id
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            assert record.message_id is not None
            target = self.world.messages[record.message_id]
            if kind == UPDATE_MESSAGE:
                apply_edit(self.world, target, data, files)
                fake.events.message_updated(target)
                message = target
            record.original_id = target.id
        elif kind == AUTOCOMPLETE_RESULT:
            record.choices = list(data.get("choices") or [])
        elif kind == MODAL:
            record.modal = data

        record.response_type = kind
        record.callbacks.append(body)
        if request.query.get("with_response") not in TRUE_VALUES:
            return no_content()
        return json_response(self._callback_response(record, kind, message))

    def _interaction_message(
        self,
        record: InteractionRecord,
        data: dict[str, Any],
        files: dict[int, UploadedFile],
        *,
        flags: int | None = None,
    ) -> Message:
        """A message sent through an interaction: authored by the bot via the app's webhook."""
        fake = self.fake
        user = self.world.users[record.user_id]
        metadata: dict[str, Any] = {
            "id": str(record.id),
            "type": record.kind,
            "user": payloads.user_payload(user),
            "authorizing_integration_owners": {
                "0": str(self.world.channels[record.channel_id].guild_id)
            },
        }
        if record.kind == APPLICATION_COMMAND:
            metadata |= {"name": record.payload["data"]["name"], "command_type": 1}
        if record.message_id is not None:
            metadata["interacted_message_id"] = str(record.message_id)
        fields: dict[str, Any] = {
            "webhook_id": fake.application_id,
            "application_id": fake.application_id,
            "interaction_metadata": metadata,
            "type": 20 if record.kind == APPLICATION_COMMAND else 0,
        }
        if flags is not None:  # a deferral: an empty "thinking…" placeholder
            channel = self.world.channels[record.channel_id]
            message = Message(
                id=self.world.snowflakes.next(),
                channel_id=record.channel_id,
                guild_id=channel.guild_id,
                author_id=fake.bot_user_id,
                flags=flags,
                **fields,
            )
        else:
            message = build_message(
                self.world,
                data,
                files,
                channel_id=record.channel_id,
                author_id=fake.bot_user_id,
                allowed_flags=WEBHOOK_FLAGS,
                **fields,
            )
        if message.ephemeral:
            message.shown_to = record.user_id
        return message

    def _callback_response(
        self, record: InteractionRecord, kind: int, message: Message | None
    ) -> dict[str, Any]:
        """The InteractionCallbackResponse discord.py requires for ``?with_response=1``."""
        interaction: dict[str, Any] = {"id": str(record.id), "type": record.kind}
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            interaction |= {
                "response_message_id": str(message.id),
                "response_message_loading": message.loading,
                "response_message_ephemeral": message.ephemeral,
            }
            resource["message"] = self._render(message)
        return {"interaction": interaction, "resource": resource}

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        """The interaction behind ``/webhooks/{application_id}/{token}``."""
        fake = self.fake
        record = fake.interactions.by_token(request.match_info["token"])
        if (
            snowflake_param(request, "webhook_id") != fake.application_id
            or record is None
            or not record.responded  # before the first ACK the webhook does not exist yet
            or record.kind == AUTOCOMPLETE
        ):
            raise DiscordError.of(UNKNOWN_WEBHOOK)
        if record.token_expired or time.monotonic() - record.dispatched_at > fake.token_ttl:
            raise DiscordError.of(INVALID_WEBHOOK_TOKEN)
        return record

    def _webhook_message(self, record: InteractionRecord, request: web.Request) -> Message:
        raw = request.match_info["message_id"]
        if raw == "@original":
            message_id = record.original_id
        else:
            message_id = snowflake_param(request, "message_id")
            if not record.owns(message_id):
                raise DiscordError.of(UNKNOWN_MESSAGE)
        message = self.world.messages.get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            raise DiscordError.of(UNKNOWN_MESSAGE)
        return message

    async def execute_webhook(self, request: web.Request) -> web.Response:
        """A followup. After a deferral, the first one fills in the "thinking…" message."""
        record = self._webhook_record(request)
        body = self._json(request)
        files = self._files(request)
        errors = FormErrors()
        validate_message(body, errors)
        check_files(files, errors)
        errors.raise_if_any()

        original = self.world.messages.get(record.original_id) if record.original_id else None
        if original is not None and original.loading and not original.deleted:
            apply_edit(self.world, original, body, files, edited=False)
            original.flags &= ~LOADING  # ephemeral or not was decided by the deferral
            message = original
        else:
            message = self._interaction_message(record, body, files)
            self.world.add_message(message)
        self.fake.events.message_created(message)
        record.followup_ids.append(message.id)
        if request.query.get("wait") not in TRUE_VALUES:
            return no_content()
        return json_response(self._render(message))

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        return json_response(self._render(self._webhook_message(record, request)))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        message = self._webhook_message(record, request)
        body = self._json(request)
        files = self._files(request)
        errors = FormErrors()
        validate_message(body, errors)
        check_files(files, errors)
        errors.raise_if_any()
        if message.loading:
            apply_edit(self.world, message, body, files, edited=False)
            message.flags &= ~LOADING
            self.fake.events.message_created(message)
        else:
            apply_edit(self.world, message, body, files)
            self.fake.events.message_updated(message)
        return json_response(self._render(message))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        message = self._webhook_message(record, request)
        message.deleted = True
        self.fake.events.message_deleted(message)
        return no_content()

    # --- channels and messages --------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        channel_id = snowflake_param(request, "channel_id")
        channel = self.world.channel(channel_id)
        self.world.require(channel_id, self.fake.bot_user_id, Permission.VIEW_CHANNEL)
        return json_response(payloads.channel_payload(channel))

    async def get_messages(self, request: web.Request) -> web.Response:
        """Newest first; ``limit`` 1–100 (default 50), ``before`` / ``after`` / ``around``."""
        channel_id = snowflake_param(request, "channel_id")
        self.world.channel(channel_id)
        bot = self.fake.bot_user_id
        self.world.require(channel_id, bot, Permission.VIEW_CHANNEL)
        limit_text = request.query.get("limit", "50")
        limit = int(limit_text) if limit_text.isdigit() else 0
        if not 1 <= limit <= 100:
            errors = FormErrors()
            errors.add(("limit",), "NUMBER_TYPE_MAX", "Must be between 1 and 100.")
            errors.raise_if_any()
        if not self.world.channel_permissions(channel_id, bot) & Permission.READ_MESSAGE_HISTORY:
            return json_response([])  # Discord's documented answer without the permission
        messages = self.world.channel_messages(channel_id)
        before, after, around = (query_snowflake(request, k) for k in ("before", "after", "around"))
        if before is not None:
            messages = [m for m in messages if m.id < before]
        if after is not None:
            messages = [m for m in messages if m.id > after][:limit]
        if around is not None:
            older = [m for m in messages if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in messages if m.id > around][: limit - len(older)]
            messages = older + newer
        newest_first = sorted(messages, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([self._render(m) for m in newest_first])

    async def get_message(self, request: web.Request) -> web.Response:
        channel_id = snowflake_param(request, "channel_id")
        self.world.channel(channel_id)
        self.world.require(
            channel_id,
            self.fake.bot_user_id,
            Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY,
        )
        message = self.world.message_in(channel_id, snowflake_param(request, "message_id"))
        return json_response(self._render(message))

    def _strip_embeds(
        self, channel_id: int, body: dict[str, Any], files: dict[int, UploadedFile]
    ) -> dict[str, Any]:
        """Without EMBED_LINKS, Discord drops embeds, or answers 403 if nothing else is left."""
        bits = self.world.channel_permissions(channel_id, self.fake.bot_user_id)
        if not body.get("embeds") or bits & Permission.EMBED_LINKS:
            return body
        if not (body.get("content") or files or body.get("components")):
            raise DiscordError.of(MISSING_PERMISSIONS)
        return {**body, "embeds": []}

    async def create_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages``, with ``enforce_nonce`` de-duplication."""
        world, bot = self.world, self.fake.bot_user_id
        channel_id = snowflake_param(request, "channel_id")
        dm = world.dm_channels.get(channel_id)
        if dm is None:
            world.channel(channel_id)
            world.require(channel_id, bot, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
        elif not world.users[dm.recipient_id].accepts_dms:
            raise DiscordError.of(CANNOT_MESSAGE_USER)
        body = self._json(request)
        files = self._files(request)
        errors = FormErrors()
        validate_message(body, errors)
        check_files(files, errors)
        check_nonce(body, errors)
        errors.raise_if_any()

        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = world.by_nonce(channel_id, bot, nonce)
            if existing is not None:  # Discord answers with the message already created
                self.fake.stats["nonce_duplicates"] += 1
                return json_response(self._render(existing))
        if dm is None:  # a DM has no permissions to check
            if files and not world.channel_permissions(channel_id, bot) & Permission.ATTACH_FILES:
                raise DiscordError.of(MISSING_PERMISSIONS)
            body = self._strip_embeds(channel_id, body, files)

        fields: dict[str, Any] = {"nonce": nonce}
        reference = body.get("message_reference")
        if reference and dm is None:
            world.require(channel_id, bot, Permission.READ_MESSAGE_HISTORY)
            try:
                world.message_in(channel_id, int(reference["message_id"]))
            except DiscordError:
                if reference.get("fail_if_not_exists", True):
                    raise
            fields |= {"message_reference": reference, "type": 19}
        message = build_message(
            world,
            body,
            files,
            channel_id=channel_id,
            author_id=bot,
            allowed_flags=CHANNEL_FLAGS,
            **fields,
        )
        world.add_message(message)
        if dm is None:  # papers-bot asks for no DM events (nor do the drivers need them)
            self.fake.events.message_created(message)
        return json_response(self._render(message))

    async def start_thread_from_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages/{mid}/threads``: a public thread on a message, which
        takes the message's id. A message has one thread at most: a second is 400/160004."""
        world, bot = self.world, self.fake.bot_user_id
        channel_id = snowflake_param(request, "channel_id")
        channel = world.channel(channel_id)
        world.require(channel_id, bot, Permission.VIEW_CHANNEL | Permission.CREATE_PUBLIC_THREADS)
        message = world.message_in(channel_id, snowflake_param(request, "message_id"))
        body = self._json(request)
        errors = FormErrors()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.required(("name",))
        elif len(name) > THREAD_NAME_LIMIT:
            errors.too_long(("name",), THREAD_NAME_LIMIT)
        duration = body.get("auto_archive_duration", 1440)
        if duration not in AUTO_ARCHIVE_DURATIONS:
            errors.add(
                ("auto_archive_duration",),
                "BASE_TYPE_CHOICES",
                "Value must be one of {60, 1440, 4320, 10080}.",
            )
        errors.raise_if_any()
        if channel.type != GUILD_TEXT:
            raise DiscordError(400, INVALID_FORM_BODY, "Threads are opened on text channels")
        thread = world.open_thread(message, name.strip(), owner_id=bot, duration=duration)
        self.fake.events.thread_created(thread)
        return json_response(payloads.thread_payload(thread), status=201)

    async def start_forum_post(self, request: web.Request) -> web.Response:
        """``POST /channels/{forum}/threads``: a forum post, a thread whose first message (with
        the thread's id) is ``message``. At most 5 ``applied_tags``, each one of the forum's
        (else 400/50035); a moderated tag needs Manage Threads. Only forums are served."""
        world, bot = self.world, self.fake.bot_user_id
        channel_id = snowflake_param(request, "channel_id")
        forum = world.channel(channel_id)
        if forum.id != channel_id or forum.type != GUILD_FORUM:
            raise DiscordError(400, INVALID_FORM_BODY, "The fake serves forum posts only")
        world.require(channel_id, bot, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
        body = self._json(request)
        errors = FormErrors()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.required(("name",))
        elif len(name) > THREAD_NAME_LIMIT:
            errors.too_long(("name",), THREAD_NAME_LIMIT)
        tags = {int(tag["id"]): tag for tag in forum.available_tags}
        applied = [int(tag) for tag in body.get("applied_tags") or []]
        if len(applied) > FORUM_TAGS_LIMIT:
            errors.too_long(("applied_tags",), FORUM_TAGS_LIMIT)
        for index, tag_id in enumerate(applied):
            if tag_id not in tags:
                errors.add(("applied_tags", index), "ENTITY_UNKNOWN", "Unknown tag")
        message_body = body.get("message")
        if not isinstance(message_body, dict):
            errors.required(("message",))
            message_body = {}
        validate_message(message_body, errors)
        errors.raise_if_any()
        if any(tags[tag_id]["moderated"] for tag_id in applied) and not (
            world.channel_permissions(channel_id, bot) & Permission.MANAGE_THREADS
        ):
            raise DiscordError.of(MISSING_PERMISSIONS)
        message_body = self._strip_embeds(channel_id, message_body, {})
        message = build_message(
            world,
            message_body,
            {},
            channel_id=channel_id,
            author_id=bot,
            allowed_flags=CHANNEL_FLAGS,
        )
        assert isinstance(name, str)
        thread = Thread(
            id=message.id,
            guild_id=forum.guild_id,
            parent_id=channel_id,
            owner_id=bot,
            name=name.strip(),
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            applied_tags=applied,
        )
        message.channel_id = thread.id  # the first message is in the post, with its id
        world.threads[thread.id] = thread
        world.add_message(message)
        forum.last_message_id = thread.id
        self.fake.events.thread_created(thread)
        self.fake.events.message_created(message)
        payload = {**payloads.thread_payload(thread), "message": self._render(message)}
        return json_response(payload, status=201)

    async def get_active_threads(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/threads/active``: the guild's open threads the bot can see."""
        guild = self._guild(request)
        bot = self.fake.bot_user_id
        threads = [
            payloads.thread_payload(thread)
            for thread in self.world.threads.values()
            if thread.guild_id == guild.id
            and self.world.channel_permissions(thread.id, bot) & Permission.VIEW_CHANNEL
        ]
        return json_response({"threads": threads, "members": []})

    async def trigger_typing(self, request: web.Request) -> web.Response:
        channel_id = snowflake_param(request, "channel_id")
        self.world.channel(channel_id)
        self.world.require(
            channel_id, self.fake.bot_user_id, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
        )
        return no_content()

    async def edit_message(self, request: web.Request) -> web.Response:
        world, bot = self.world, self.fake.bot_user_id
        channel_id = snowflake_param(request, "channel_id")
        world.channel(channel_id)
        world.require(channel_id, bot, Permission.VIEW_CHANNEL)
        message = world.message_in(channel_id, snowflake_param(request, "message_id"))
        if message.author_id != bot:
            raise DiscordError.of(CANNOT_EDIT_OTHERS_MESSAGE)
        body = self._json(request)
        files = self._files(request)
        errors = FormErrors()
        validate_message(body, errors)
        check_files(files, errors)
        errors.raise_if_any()
        body = self._strip_embeds(channel_id, body, files)
        apply_edit(world, message, body, files)
        self.fake.events.message_updated(message)
        return json_response(self._render(message))

    async def delete_message(self, request: web.Request) -> web.Response:
        world, bot = self.world, self.fake.bot_user_id
        channel_id = snowflake_param(request, "channel_id")
        world.channel(channel_id)
        world.require(channel_id, bot, Permission.VIEW_CHANNEL)
        message = world.message_in(channel_id, snowflake_param(request, "message_id"))
        if message.author_id != bot:
            world.require(channel_id, bot, Permission.MANAGE_MESSAGES)
        message.deleted = True
        self.fake.events.message_deleted(message)
        return no_content()

    # --- reactions ----------------------------------------------------------------------------

    def _reaction_target(self, request: web.Request) -> tuple[Message, str, dict[str, Any]]:
        world = self.world
        channel_id = snowflake_param(request, "channel_id")
        world.channel(channel_id)
        world.require(
            channel_id,
            self.fake.bot_user_id,
            Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY,
        )
        message = world.message_in(channel_id, snowflake_param(request, "message_id"))
        text = request.match_info["emoji"]
        key, emoji = payloads.emoji_from_route(text)
        # The fake knows no custom emoji, and a plain word is no unicode emoji.
        if emoji["id"] is not None or text.isascii():
            raise DiscordError.of(UNKNOWN_EMOJI)
        return message, key, emoji

    async def add_reaction(self, request: web.Request) -> web.Response:
        """``PUT …/reactions/{emoji}/@me``: ADD_REACTIONS is only needed for a new emoji."""
        bot = self.fake.bot_user_id
        message, key, emoji = self._reaction_target(request)
        reaction = message.reactions.get(key)
        if reaction is None:
            bits = self.world.channel_permissions(message.channel_id, bot)
            if not bits & Permission.ADD_REACTIONS:
                raise DiscordError.of(MISSING_PERMISSIONS)
            if len(message.reactions) >= REACTIONS_PER_MESSAGE:
                raise DiscordError.of(MAX_REACTIONS)
            reaction = message.reactions[key] = Reaction(emoji=emoji)
        if bot not in reaction.user_ids:
            reaction.user_ids.append(bot)
            self.fake.events.reaction(message, user_id=bot, emoji=emoji, added=True)
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        bot = self.fake.bot_user_id
        message, key, emoji = self._reaction_target(request)
        reaction = message.reactions.get(key)
        if reaction is not None and bot in reaction.user_ids:
            reaction.user_ids.remove(bot)
            if not reaction.user_ids:
                del message.reactions[key]
            self.fake.events.reaction(message, user_id=bot, emoji=emoji, added=False)
        return no_content()

    async def get_reactions(self, request: web.Request) -> web.Response:
        message, key, _ = self._reaction_target(request)
        reaction = message.reactions.get(key)
        user_ids = sorted(reaction.user_ids) if reaction else []
        after = query_snowflake(request, "after")
        if after is not None:
            user_ids = [u for u in user_ids if u > after]
        limit = int(request.query.get("limit", "25"))
        return json_response([payloads.user_payload(self.world.users[u]) for u in user_ids[:limit]])

    # --- guilds -------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Any:
        guild = self.world.guilds.get(snowflake_param(request, "guild_id"))
        if guild is None:
            raise DiscordError.of(UNKNOWN_GUILD)
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        payload = payloads.guild_payload(guild)
        if request.query.get("with_counts") in TRUE_VALUES:
            payload |= {
                "approximate_member_count": len(guild.members),
                "approximate_presence_count": 0,
            }
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(
            [payloads.channel_payload(self.world.channels[c]) for c in guild.channel_ids]
        )

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([payloads.role_payload(r) for r in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = guild.members.get(snowflake_param(request, "user_id"))
        if member is None:
            raise DiscordError.of(UNKNOWN_MEMBER)
        return json_response(payloads.member_payload(self.world, guild, member))

    async def list_members(self, request: web.Request) -> web.Response:
        """Needs the privileged GUILD_MEMBERS intent enabled for the application."""
        guild = self._guild(request)
        if not self.fake.gateway.allowed_privileged_intents & GUILD_MEMBERS:
            raise DiscordError.of(MISSING_ACCESS)
        after = query_snowflake(request, "after") or 0
        limit = int(request.query.get("limit", "1"))
        members = sorted(
            (m for m in guild.members.values() if m.user_id > after), key=lambda m: m.user_id
        )
        return json_response(
            [payloads.member_payload(self.world, guild, m) for m in members[:limit]]
        )

    # --- CDN ----------------------------------------------------------------------------------

    async def cdn_attachment(self, request: web.Request) -> web.Response:
        """The bytes behind an attachment URL, for ``Attachment.read()``."""
        attachment = self.world.attachments.get(snowflake_param(request, "attachment_id"))
        if attachment is None:
            raise DiscordError(404)
        return web.Response(
            body=attachment.data,
            headers={"Content-Type": attachment.content_type or "application/octet-stream"},
        )

"""Discord's JSON error responses: codes, messages and the nested "Invalid Form Body" errors.

A route handler raises `DiscordError`; the server's middleware turns it into the exact body
Discord sends (``{"code": …, "message": …, "errors": …}``), which discord.py parses into
`HTTPException.code` and a readable ``In embeds.0.title: Must be 256 or fewer in length.``.
"""

from __future__ import annotations

from typing import Any

# JSON error codes (topics/opcodes-and-status-codes), named after Discord's own wording.
GENERAL_ERROR = 0
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_EMOJI = 10014
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
MAX_REACTIONS = 30010
REQUEST_ENTITY_TOO_LARGE = 40005
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHERS_MESSAGE = 50005
CANNOT_SEND_EMPTY_MESSAGE = 50006
CANNOT_MESSAGE_USER = 50007
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
INVALID_JSON = 50109
THREAD_ALREADY_CREATED = 160004

MESSAGES: dict[int, str] = {
    GENERAL_ERROR: "General error",
    UNKNOWN_CHANNEL: "Unknown Channel",
    UNKNOWN_GUILD: "Unknown Guild",
    UNKNOWN_MEMBER: "Unknown Member",
    UNKNOWN_MESSAGE: "Unknown Message",
    UNKNOWN_ROLE: "Unknown Role",
    UNKNOWN_USER: "Unknown User",
    UNKNOWN_EMOJI: "Unknown Emoji",
    UNKNOWN_WEBHOOK: "Unknown Webhook",
    UNKNOWN_INTERACTION: "Unknown interaction",
    UNKNOWN_APPLICATION_COMMAND: "Unknown application command",
    MAX_REACTIONS: "Maximum number of reactions reached (20)",
    REQUEST_ENTITY_TOO_LARGE: "Request entity too large",
    INTERACTION_ALREADY_ACKNOWLEDGED: "Interaction has already been acknowledged.",
    MISSING_ACCESS: "Missing Access",
    CANNOT_EDIT_OTHERS_MESSAGE: "Cannot edit a message authored by another user",
    CANNOT_SEND_EMPTY_MESSAGE: "Cannot send an empty message",
    CANNOT_MESSAGE_USER: "Cannot send messages to this user",
    MISSING_PERMISSIONS: "Missing Permissions",
    INVALID_WEBHOOK_TOKEN: "Invalid Webhook Token",
    INVALID_FORM_BODY: "Invalid Form Body",
    INVALID_JSON: "The request body contains invalid JSON.",
    THREAD_ALREADY_CREATED: "A thread has already been created for this message",
}

# HTTP status of each code, so `DiscordError.of(code)` needs nothing else.
STATUS: dict[int, int] = {
    UNKNOWN_CHANNEL: 404,
    UNKNOWN_GUILD: 404,
    UNKNOWN_MEMBER: 404,
    UNKNOWN_MESSAGE: 404,
    UNKNOWN_ROLE: 404,
    UNKNOWN_USER: 404,
    UNKNOWN_EMOJI: 400,
    UNKNOWN_WEBHOOK: 404,
    UNKNOWN_INTERACTION: 404,
    UNKNOWN_APPLICATION_COMMAND: 404,
    MAX_REACTIONS: 400,
    REQUEST_ENTITY_TOO_LARGE: 413,
    INTERACTION_ALREADY_ACKNOWLEDGED: 400,
    MISSING_ACCESS: 403,
    CANNOT_EDIT_OTHERS_MESSAGE: 403,
    CANNOT_SEND_EMPTY_MESSAGE: 400,
    CANNOT_MESSAGE_USER: 403,
    MISSING_PERMISSIONS: 403,
    INVALID_WEBHOOK_TOKEN: 401,
    INVALID_FORM_BODY: 400,
    INVALID_JSON: 400,
    THREAD_ALREADY_CREATED: 400,
}

# Messages of the bare HTTP errors Discord answers without a JSON code.
HTTP_REASONS: dict[int, str] = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "403: Forbidden",
    404: "404: Not Found",
    405: "405: Method Not Allowed",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}


class DiscordError(Exception):
    """An error response, raised by a route handler and rendered by the server."""

    def __init__(
        self,
        status: int,
        code: int = GENERAL_ERROR,
        message: str | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        default = MESSAGES.get(code) if code else HTTP_REASONS.get(status)
        self.message = message or default or str(status)
        self.errors = errors
        super().__init__(f"{status} {self.code} {self.message}")

    @classmethod
    def of(cls, code: int, message: str | None = None) -> DiscordError:
        """The error for a JSON ``code`` with Discord's status and wording."""
        return cls(STATUS.get(code, 400), code, message)

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` tree for a 400/50035.

    Paths are tuples of keys and list indices, e.g. ``("embeds", 0, "title")``, rendered as
    ``{"embeds": {"0": {"title": {"_errors": [{"code": …, "message": …}]}}}}``.
    """

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        """Record one error at ``path``."""
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple[str | int, ...], limit: int) -> None:
        """A string or list longer than ``limit``."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def too_short(self, path: tuple[str | int, ...], limit: int) -> None:
        """A string or list shorter than ``limit``."""
        self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length.")

    def required(self, path: tuple[str | int, ...]) -> None:
        """A missing required field."""
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def raise_if_any(self) -> None:
        """Raise the collected errors as a 400/50035, if there are any."""
        if self.tree:
            raise DiscordError(400, INVALID_FORM_BODY, errors=self.tree)

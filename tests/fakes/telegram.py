"""A fake Telegram Bot API server for tests: a real aiohttp server on 127.0.0.1.

Point a real client at it (``fake.base_url``) and drive it from the test:

    async with FakeTelegram() as fake:
        bot = fake.make_bot()                      # aiogram Bot aimed at the fake
        dana = fake.user(1001, "Dana")             # a Hebrew-speaking user with a private chat
        fake.send_text(dana, "/start abc")         # queue an update (getUpdates or webhook)
        req = await fake.wait_for(lambda r: r.method == "sendMessage")
        assert fake.sent_messages(dana.id)[-1].text == "..."

Responses have the exact Bot API shape and carry every field aiogram 3.31 (Bot API 10.3) requires.
Validation follows the real server where it matters for bugs (text/caption length, callback_data bytes,
button count, poll limits, HTML/MarkdownV2 entity parsing, "message is not modified", chat not found,
blocked users, bot not in group).  Description strings are the real ones where known; match on the
"Bad Request"/"Forbidden" prefix where exact wording matters less.

Every instance is independent (no module state), so tests may run several at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout, MultipartReader, web

from tests.fakes.loopback import LoopbackServer

if TYPE_CHECKING:
    from aiogram import Bot

JSONDict = dict[str, Any]
T = TypeVar("T")
FaultKind = Literal["429", "500", "502", "timeout"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
POLL_OPTIONS_MIN, POLL_OPTIONS_MAX = 2, 12
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# fmt: off
_METHODS = (
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "sendMessage", "editMessageText",
    "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery", "sendPoll", "stopPoll", "sendDocument",
    "setMyCommands", "getMyCommands", "deleteMyCommands", "sendChatAction", "getChat", "setChatMenuButton",
    "getChatMenuButton", "leaveChat",
)
# Methods that count towards the flood limits (when enforce_limits=True).
_LIMITED_METHODS = frozenset({"sendMessage", "sendPoll", "sendDocument", "editMessageText", "stopPoll"})
# Form fields that are plain strings and must never be JSON-decoded ("123" stays "123").
_TEXT_FIELDS = frozenset({
    "text", "caption", "question", "title", "description", "explanation", "callback_query_id", "url",
    "secret_token", "language_code", "parse_mode", "question_parse_mode", "explanation_parse_mode", "action",
    "inline_message_id", "business_connection_id", "message_effect_id", "ip_address", "type", "document", "method",
})
# Fields holding JSON objects/arrays; clients may send them as JSON strings even in JSON bodies.
_JSON_FIELDS = frozenset({
    "reply_markup", "options", "commands", "scope", "menu_button", "allowed_updates", "entities",
    "caption_entities", "question_entities", "explanation_entities", "link_preview_options", "reply_parameters",
    "correct_option_ids",
})
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
    "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji", "tg-time",
})
# fmt: on
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler", "[": "TextUrl"}
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class _ApiError(Exception):
    """Raised inside handlers; becomes a Bot API error response."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content: bytes
    content_type: str


@dataclass
class RecordedRequest:
    """One call the bot made: ``at`` = fake clock at arrival, ``status`` = None while pending."""

    method: str
    params: JSONDict
    at: float
    token: str
    files: dict[str, UploadedFile] = field(default_factory=dict)
    via: str = "http"  # "http" or "webhook-reply" (a method returned in a webhook response)
    status: int | None = None
    response: JSONDict | None = None
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return (self.response or {}).get("result")

    def __str__(self) -> str:
        params = json.dumps(self.params, ensure_ascii=False, default=str)
        return f"{self.method} -> {self.status} {params[:200]}"


class _MessageField(Generic[T]):
    """One field of a :class:`SentMessage`'s live Message dict, read as an attribute (None while absent)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, sent: SentMessage, owner: type | None = None) -> T | None:
        value: T | None = sent.message.get(self.name)
        return value


@dataclass
class SentMessage:
    """A message the bot sent. ``message`` is the live Bot API Message dict (edits are applied to it)."""

    method: str
    chat_id: int
    message_id: int
    message: JSONDict
    request: RecordedRequest
    sent_text: str | None = None  # text/caption exactly as the bot sent it (before entity parsing)
    document: UploadedFile | None = None
    deleted: bool = False
    edits: list[RecordedRequest] = field(default_factory=list)

    text = _MessageField[str]()
    caption = _MessageField[str]()
    reply_markup = _MessageField[JSONDict]()
    poll = _MessageField[JSONDict]()

    @property
    def buttons(self) -> list[JSONDict]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass(frozen=True)
class FakeChat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None

    def to_api(self) -> JSONDict:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    language_code: str | None = "he"
    username: str | None = None
    last_name: str | None = None

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    @property
    def chat(self) -> FakeChat:
        return FakeChat(
            self.id, "private", first_name=self.first_name, last_name=self.last_name, username=self.username
        )


@dataclass(frozen=True)
class LogEntry:
    at: float
    chat_id: int
    actor: Literal["user", "bot"]
    kind: str  # text, document, poll, edit, delete, callback, poll_answer, action
    text: str | None
    data: JSONDict

    def __str__(self) -> str:
        return f"{'bot ' if self.actor == 'bot' else 'user'} {self.kind:<11} {self.text or ''}"


@dataclass(frozen=True)
class LimitViolation:
    at: float
    method: str
    chat_id: int
    rule: Literal["global", "per_chat", "per_group"]
    retry_after: int


@dataclass(frozen=True)
class WebhookDelivery:
    at: float
    update_id: int
    status: int | None  # None when the connection failed
    error: str | None = None


@dataclass
class _Fault:
    kind: FaultKind
    retry_after: int
    delay: float


@dataclass
class _PollState:
    poll: JSONDict
    chat_id: int
    message_id: int
    votes: dict[int, list[int]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- parsing


class _TelegramHTML(HTMLParser):
    """Telegram's HTML subset: known tags only, properly nested; produces the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.out: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.error = self.error or f'Unsupported start tag "{tag}"'

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def _parse_html(text: str) -> str:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error:
        raise _bad(f"can't parse entities: {parser.error}")
    return "".join(parser.out)


def _parse_markdown_v2(text: str) -> str:
    """Enough of MarkdownV2 to catch the classic bug: unescaped reserved characters / unclosed entities."""

    def fail(message: str) -> _ApiError:
        return _bad(f"can't parse entities: {message}")

    def offset(k: int) -> int:
        return len(text[:k].encode("utf-8"))

    out: list[str] = []
    stack: list[tuple[str, int]] = []
    expandable_quote = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                out.append(text[i + 1])
                i += 2
            else:
                out.append(c)
                i += 1
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            j, body = i + len(fence), []
            while j < n and not text.startswith(fence, j):
                step = 2 if text[j] == "\\" and j + 1 < n else 1
                body.append(text[j + step - 1])
                j += step
            if j >= n:
                kind = "Pre" if fence == "```" else "Code"
                raise fail(f"Can't find end of {kind} entity at byte offset {offset(i)}")
            content = "".join(body)
            if fence == "```" and "\n" in content and " " not in content.split("\n", 1)[0]:
                content = content.split("\n", 1)[1]  # drop the language line
            out.append(content)
            i = j + len(fence)
            continue
        if line_start and text.startswith("**>", i):
            expandable_quote, i = True, i + 3
            continue
        if line_start and c == ">":
            i += 1
            continue
        if expandable_quote and text.startswith("||", i) and (i + 2 == n or text[i + 2] == "\n"):
            expandable_quote, i = False, i + 2
            continue
        marker = next((m for m in ("__", "||", "*", "_", "~") if text.startswith(m, i)), None)
        if marker:
            open_at = [k for k, (m, _) in enumerate(stack) if m == marker]
            if open_at:
                del stack[open_at[-1]]
            else:
                stack.append((marker, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", i))
            i += 1
            continue
        if c == "]" and any(m == "[" for m, _ in stack):
            del stack[max(k for k, (m, _) in enumerate(stack) if m == "[")]
            i += 1
            if i < n and text[i] == "(":
                j = i + 1
                while j < n and text[j] != ")":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise fail(f"Can't find end of a URL at byte offset {offset(i)}")
                i = j + 1
            continue
        if c in _MDV2_RESERVED:
            raise fail(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if stack:
        marker, pos = stack[-1]
        raise fail(f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset {offset(pos)}")
    return "".join(out)


def _plain_text(text: str, parse_mode: Any, entities: Any) -> str:
    if entities or not parse_mode:
        return text
    mode = str(parse_mode).lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return text  # legacy mode: not validated
    raise _bad(f"unsupported parse_mode {parse_mode!r}")


def _decode_form_value(name: str, value: str) -> Any:
    if name in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _normalize(params: JSONDict) -> JSONDict:
    for key in _JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


async def _read_multipart(reader: MultipartReader) -> tuple[JSONDict, dict[str, UploadedFile]]:
    params: JSONDict = {}
    files: dict[str, UploadedFile] = {}
    while (part := await reader.next()) is not None:
        if isinstance(part, MultipartReader) or part.name is None:
            continue
        content = await part.read(decode=True)
        if part.filename is not None:
            ctype = part.headers.get("Content-Type", "application/octet-stream")
            if ctype == "application/octet-stream":
                ctype = mimetypes.guess_type(part.filename)[0] or ctype
            files[part.name] = UploadedFile(part.name, part.filename, bytes(content), ctype)
        else:
            params[part.name] = _decode_form_value(part.name, bytes(content).decode("utf-8"))
    return params, files


def _int_param(params: JSONDict, key: str, default: int | None = None) -> int:
    value = params.get(key, default)
    if value is None or value == "":
        raise _bad(f"{key} is empty" if key != "message_id" else "message identifier is not specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {key} specified") from None


# --------------------------------------------------------------------------------------------- server


class FakeTelegram(LoopbackServer):
    """Fake Bot API server. See the module docstring; every public method is documented inline."""

    def __init__(
        self,
        *,
        token: str = "123:ABC",
        bot_username: str = "forumbot_test_bot",
        bot_first_name: str = "ForumBot Test",
        strict_token: bool = False,
        enforce_limits: bool = False,
        global_per_second: int = 30,
        per_chat_per_second: int = 1,
        per_group_per_minute: int = 20,
        emit_poll_state_updates: bool = False,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
        first_update_id: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username, self.bot_first_name = bot_username, bot_first_name
        self.strict_token = strict_token
        self.enforce_limits = enforce_limits
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.emit_poll_state_updates = emit_poll_state_updates
        self.webhook_retry_delay, self.webhook_timeout = webhook_retry_delay, webhook_timeout
        self.clock = clock

        self.requests: list[RecordedRequest] = []
        self.updates: list[JSONDict] = []  # every update ever queued, in order
        self.limit_violations: list[LimitViolation] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: dict[str, JSONDict] = {}  # callback_query_id -> answerCallbackQuery params
        self.menu_buttons: dict[int | None, JSONDict] = {}  # chat_id (None = default) -> MenuButton
        self.chat_actions: list[tuple[int, str]] = []
        self.internal_errors: list[Exception] = []  # exceptions raised by the fake's own handlers

        self._handlers: dict[str, tuple[str, Callable[[RecordedRequest], Awaitable[Any]]]] = {
            name.lower(): (name, getattr(self, f"_api_{name}")) for name in _METHODS
        }
        self._pending: list[JSONDict] = []
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._chats: dict[int, FakeChat] = {}
        self._bot_status: dict[int, str] = {}  # group chat id -> member | left | kicked
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._sent: list[SentMessage] = []
        self._sent_by_key: dict[tuple[int, int], SentMessage] = {}
        self._next_message_id: dict[int, int] = {}
        self._log: list[LogEntry] = []
        self._polls: dict[str, _PollState] = {}
        self._files: dict[str, UploadedFile] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._open_callbacks: set[str] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._send_log: list[tuple[float, int]] = []  # (at, chat_id) of successful limited sends
        self._ids = itertools.count(1)
        self._webhook: JSONDict | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()

    # ------------------------------------------------------------------------------ lifecycle

    def application(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def stop(self) -> None:
        self._closing.set()
        self._notify()
        await self._stop_webhook()
        await super().stop()

    def make_bot(self, *, session_timeout: float = 60.0, **bot_kwargs: Any) -> Bot:
        """An aiogram Bot (token ``self.token``) whose session targets this server.

        Its session's ``close()`` skips AiohttpSession's fixed 0.25 s sleep (meant for TLS connections
        to drain; there is no TLS on loopback), which otherwise dominates short tests.
        """
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        class _LoopbackSession(AiohttpSession):
            async def close(self) -> None:
                if self._session is not None and not self._session.closed:
                    await self._session.close()

        api = TelegramAPIServer.from_base(self.base_url)
        return Bot(token=self.token, session=_LoopbackSession(api=api, timeout=session_timeout), **bot_kwargs)

    # ------------------------------------------------------------------------------ recording API

    def sent_messages(self, chat_id: int | None = None, *, include_deleted: bool = True) -> list[SentMessage]:
        return [
            m for m in self._sent if (chat_id is None or m.chat_id == chat_id) and (include_deleted or not m.deleted)
        ]

    def last_sent(self, chat_id: int | None = None) -> SentMessage:
        messages = self.sent_messages(chat_id)
        if not messages:
            raise AssertionError(f"the bot sent nothing to chat {chat_id}; recent:\n{self._recent()}")
        return messages[-1]

    def chat_log(self, chat_id: int) -> list[LogEntry]:
        return [entry for entry in self._log if entry.chat_id == chat_id]

    def format_chat_log(self, chat_id: int) -> str:
        return "\n".join(str(entry) for entry in self.chat_log(chat_id))

    def requests_for(self, method: str, *, ok_only: bool = False) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and (r.ok or not ok_only)]

    def first_request_after(self, t: float, method: str | None = None) -> RecordedRequest | None:
        """First request (any outcome) that arrived strictly after ``t`` on the fake's clock."""
        return next((r for r in self.requests if r.at > t and method in (None, r.method)), None)

    def poll(self, poll_id: str) -> JSONDict:
        return self._polls[poll_id].poll

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        return list(self._pending)

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,
        *,
        method: str | None = None,
    ) -> RecordedRequest:
        """Wait until a successful request (optionally of ``method``) satisfies ``predicate``; return it."""

        def found() -> RecordedRequest | None:
            return next((r for r in self.requests if r.ok and method in (None, r.method) and predicate(r)), None)

        result = await self._wait_until(found, timeout)
        if result is None:
            raise AssertionError(f"wait_for timed out after {timeout}s; recent requests:\n{self._recent()}")
        return result

    async def wait_for_count(
        self,
        n: int,
        method: str | None = None,
        timeout: float = 5.0,
    ) -> list[RecordedRequest]:
        """Wait until at least ``n`` successful requests (of ``method``) were recorded; return them."""

        def found() -> list[RecordedRequest] | None:
            matching = [r for r in self.requests if r.ok and method in (None, r.method)]
            return matching if len(matching) >= n else None

        result = await self._wait_until(found, timeout)
        if result is None:
            have = len([r for r in self.requests if r.ok and method in (None, r.method)])
            raise AssertionError(
                f"wait_for_count: wanted {n} successful {method or 'requests'}, got {have} in {timeout}s; "
                f"recent requests:\n{self._recent()}"
            )
        return result

    # ------------------------------------------------------------------------------ acting as users

    def user(
        self,
        id: int,
        first_name: str,
        language_code: str | None = "he",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        user = FakeUser(id, first_name, language_code, username, last_name)
        self._chats[id] = user.chat
        return user

    def group(self, id: int, title: str, *, supergroup: bool = False) -> FakeChat:
        if id >= 0:
            raise ValueError("group chat ids are negative in the Bot API (e.g. -1001234567890)")
        chat = FakeChat(id, "supergroup" if supergroup else "group", title=title)
        self._chats[id] = chat
        self._bot_status.setdefault(id, "left")
        return chat

    def send_text(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> JSONDict:
        chat = chat or user.chat
        if chat.type == "private" and user.id in self._blocked:
            raise ValueError(f"user {user.id} blocked the bot; call unblock_bot() first")
        if chat.type != "private" and self._bot_status.get(chat.id) != "member":
            raise ValueError(f"the bot is not a member of {chat.title!r}; call add_bot_to_group() first")
        message = self._store_message(chat, user.to_api(), text=text)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._add_log(chat.id, "user", "text", text, message)
        return self._queue("message", copy.deepcopy(message))

    def press(
        self,
        user: FakeUser,
        message: SentMessage | Mapping[str, Any] | int,
        callback_data: str,
        *,
        strict: bool = True,
    ) -> JSONDict:
        """A user taps an inline button of a bot message (SentMessage, Message dict, or id in their DM)."""
        if isinstance(message, SentMessage):
            key = (message.chat_id, message.message_id)
        elif isinstance(message, int):
            key = (user.id, message)
        else:
            key = (int(message["chat"]["id"]), int(message["message_id"]))
        stored = self._messages.get(key)
        sent = self._sent_by_key.get(key)
        if strict:
            if stored is None or sent is None or sent.deleted:
                raise ValueError(f"no live bot message {key} to press a button on")
            if callback_data not in sent.callback_data:
                raise ValueError(
                    f"message {key} has no button with callback_data {callback_data!r}: {sent.callback_data}"
                )
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self._open_callbacks.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": user.to_api(),
            "chat_instance": f"-{7_000_000 + abs(key[0])}",
            "data": callback_data,
        }
        if stored is not None:
            query["message"] = copy.deepcopy(stored)
        self._add_log(key[0], "user", "callback", callback_data, query)
        return self._queue("callback_query", query)

    def answer_poll(self, user: FakeUser, poll_id: str, option_ids: list[int]) -> JSONDict:
        """Vote (empty list = retract): poll_answer update, or a poll update for anonymous polls."""
        state = self._polls.get(poll_id)
        if state is None:
            raise ValueError(f"unknown poll {poll_id!r}")
        poll = state.poll
        if poll["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        valid = all(0 <= i < len(poll["options"]) for i in option_ids)
        if not valid or len(set(option_ids)) != len(option_ids):
            raise ValueError(f"bad option ids {option_ids} for a poll with {len(poll['options'])} options")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError("this poll allows a single answer")
        if state.votes.get(user.id) and not poll["allows_revoting"]:
            raise ValueError("this poll does not allow changing the vote")
        if option_ids:
            state.votes[user.id] = sorted(option_ids)
        else:
            state.votes.pop(user.id, None)
        for index, option in enumerate(poll["options"]):
            option["voter_count"] = sum(index in votes for votes in state.votes.values())
        poll["total_voter_count"] = len(state.votes)
        self._add_log(state.chat_id, "user", "poll_answer", str(option_ids), {"poll_id": poll_id})
        if poll["is_anonymous"]:
            return self._queue("poll", copy.deepcopy(poll))
        answer = {
            "poll_id": poll_id,
            "option_ids": sorted(option_ids),
            "user": user.to_api(),
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in sorted(option_ids)],
        }
        update = self._queue("poll_answer", answer)
        if self.emit_poll_state_updates:
            self._queue("poll", copy.deepcopy(poll))
        return update

    def add_bot_to_group(self, group: FakeChat, by_user: FakeUser) -> JSONDict:
        return self._bot_member_update(group, by_user.to_api(), "member")

    def remove_bot_from_group(self, group: FakeChat, by_user: FakeUser) -> JSONDict:
        return self._bot_member_update(group, by_user.to_api(), "kicked")

    def block_bot(self, user: FakeUser) -> JSONDict:
        self._blocked.add(user.id)
        return self._member_update(user.chat, user.to_api(), "member", "kicked")

    def unblock_bot(self, user: FakeUser) -> JSONDict:
        self._blocked.discard(user.id)
        return self._member_update(user.chat, user.to_api(), "kicked", "member")

    # ------------------------------------------------------------------------------ fault injection

    def fail_next(
        self, method: str, kind: FaultKind, count: int = 1, retry_after: int = 1, delay: float = 30.0
    ) -> None:
        """Make the next ``count`` calls of ``method`` ("*" = any) fail.

        kind "429": Too Many Requests with parameters.retry_after; "500": JSON Internal Server Error;
        "502": an HTML Bad Gateway page (not JSON, like a proxy in front of the API);
        "timeout": hold the request ``delay`` seconds, then process and answer it normally.
        """
        if method != "*" and method.lower() not in self._handlers:
            raise ValueError(f"unknown method {method!r}")
        if kind not in ("429", "500", "502", "timeout"):
            raise ValueError(f"unknown fault kind {kind!r}")
        name = "*" if method == "*" else self._handlers[method.lower()][0]
        self._faults.setdefault(name, []).extend(_Fault(kind, retry_after, delay) for _ in range(count))

    # ------------------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        at = self.clock()
        try:
            params, files = await self._decode(request)
        except (ValueError, UnicodeDecodeError) as exc:
            params, files = {"_undecodable": str(exc)}, {}
        status, body = await self._execute(
            request.match_info["token"], request.match_info["method"], params, files, at=at
        )
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _decode(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        params: JSONDict = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
        elif request.content_type == "multipart/form-data":
            form, files = await _read_multipart(await request.multipart())
            params.update(form)
        elif request.can_read_body:
            form_data = await request.post()
            params.update({k: _decode_form_value(k, v) for k, v in form_data.items() if isinstance(v, str)})
        return _normalize(params), files

    async def _execute(
        self,
        token: str,
        raw_method: str,
        params: JSONDict,
        files: dict[str, UploadedFile],
        *,
        at: float,
        via: str = "http",
    ) -> tuple[int, JSONDict | str]:
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        record = RecordedRequest(name, params, at, token, files, via)
        self.requests.append(record)
        body: JSONDict | str
        try:
            if "_undecodable" in params:
                raise _bad(f"can't parse request: {params['_undecodable']}")
            if self.strict_token and token != self.token:
                raise _ApiError(401, "Unauthorized")
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            fault = self._take_fault(name)
            if fault is not None:
                record.fault = fault.kind
                if fault.kind == "502":
                    status, body = 502, "<html><body><h1>502 Bad Gateway</h1></body></html>"
                    record.status, record.response = status, {"html": body}
                    self._notify()
                    return status, body
                if fault.kind == "429":
                    wait = fault.retry_after
                    raise _ApiError(429, f"Too Many Requests: retry after {wait}", wait)
                if fault.kind == "500":
                    raise _ApiError(500, "Internal Server Error")
                if await self._sleep(fault.delay):
                    raise _ApiError(500, "Internal Server Error: fake server is stopping")
            limited_chat = self._check_limits(name, params)
            body, status = {"ok": True, "result": await handler(record)}, 200
            if limited_chat is not None:
                self._send_log.append((self.clock(), limited_chat))
        except _ApiError as exc:
            body, status = exc.payload(), exc.code
        except Exception as exc:  # a bug in the fake: answer like a broken server and keep the evidence
            self.internal_errors.append(exc)
            body, status = _ApiError(500, f"Internal Server Error: fake raised {exc!r}").payload(), 500
        record.status, record.response = status, body
        self._notify()
        return status, body

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            if self._faults.get(key):
                return self._faults[key].pop(0)
        return None

    def _check_limits(self, method: str, params: JSONDict) -> int | None:
        """Raise 429 if this send would exceed a flood limit; return the chat id to count it against."""
        if not self.enforce_limits or method not in _LIMITED_METHODS:
            return None
        try:
            chat = self._chats.get(int(params.get("chat_id", "")))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            return None  # the handler will answer "chat not found"
        now = self.clock()
        self._send_log = [(t, c) for t, c in self._send_log if t > now - 60]
        rules: list[tuple[Literal["global", "per_chat", "per_group"], list[float], int, float]] = [
            ("global", [t for t, _ in self._send_log if t > now - 1], self.global_per_second, 1.0),
            (
                "per_chat",
                [t for t, c in self._send_log if c == chat.id and t > now - 1],
                self.per_chat_per_second,
                1.0,
            ),
        ]
        if chat.type != "private":
            in_chat = [t for t, c in self._send_log if c == chat.id]
            rules.append(("per_group", in_chat, self.per_group_per_minute, 60.0))
        for rule, times, limit, window in rules:
            if len(times) >= limit:
                retry_after = max(1, math.ceil(times[-limit] + window - now))
                self.limit_violations.append(LimitViolation(now, method, chat.id, rule, retry_after))
                raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        return chat.id

    # ------------------------------------------------------------------------------ internals

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True if interrupted by stop()."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        return self._closing.is_set()

    async def _wait_until(self, probe: Callable[[], T | None], within: float) -> T | None:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            changed = self._changed
            result = probe()
            remaining = deadline - asyncio.get_running_loop().time()
            if result is not None or remaining <= 0:
                return result
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _recent(self, n: int = 15) -> str:
        return "\n".join(f"  {r}" for r in self.requests[-n:]) or "  (no requests)"

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _queue(self, kind: str, payload: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._pending.append(update)
        self.updates.append(update)
        self._notify()
        return update

    def _add_log(
        self, chat_id: int, actor: Literal["user", "bot"], kind: str, text: str | None, data: JSONDict
    ) -> None:
        self._log.append(LogEntry(self.clock(), chat_id, actor, kind, text, data))

    def _store_message(self, chat: FakeChat, sender: JSONDict, **content: Any) -> JSONDict:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat.to_api(), "from": sender}
        message.update({k: v for k, v in content.items() if v is not None})
        self._messages[(chat.id, message_id)] = message
        return message

    def _member_update(self, chat: FakeChat, sender: JSONDict, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            data: JSONDict = {"status": status, "user": self._bot_user()}
            if status == "kicked":
                data["until_date"] = 0
            return data

        payload = {
            "chat": chat.to_api(),
            "from": sender,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self._queue("my_chat_member", payload)

    def _bot_member_update(self, group: FakeChat, sender: JSONDict, new: str) -> JSONDict:
        old = self._bot_status.get(group.id, "left")
        self._bot_status[group.id] = new
        return self._member_update(group, sender, old, new)

    def _chat(self, params: JSONDict, *, sending: bool = False) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username == raw[1:]), None)
        else:
            try:
                chat = self._chats.get(int(raw))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise _bad("chat not found")
        if sending and chat.type == "private" and chat.id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        status = self._bot_status.get(chat.id)
        if chat.type != "private" and status != "member":
            verb = "was kicked from" if status == "kicked" else "is not a member of"
            raise _ApiError(403, f"Forbidden: bot {verb} the {chat.type} chat")
        return chat

    def _validate_markup(self, markup: Any) -> JSONDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup  # reply keyboard / remove / force reply: accepted as is
        buttons = [b for row in rows for b in row]
        if len(buttons) > MAX_INLINE_BUTTONS:
            raise _bad("reply markup is too long")
        for button in buttons:
            if not button.get("text"):
                raise _bad("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                size = len(str(button["callback_data"]).encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                    raise _bad(f"inline keyboard button URL '{button['url']}' is invalid")
            elif len(button) == 1:
                raise _bad("text buttons are unallowed in the inline keyboard")
        return markup

    def _message_text(self, params: JSONDict, key: str, limit: int) -> str | None:
        raw = params.get(key)
        if raw is None:
            return None
        entities_key = "entities" if key == "text" else f"{key}_entities"
        plain = _plain_text(str(raw), params.get("parse_mode"), params.get(entities_key))
        if len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return plain

    def _reply_to(self, chat: FakeChat, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or params.get("reply_to_message_id")
        if not message_id:
            return None
        target = self._messages.get((chat.id, int(message_id)))
        sent = self._sent_by_key.get((chat.id, int(message_id)))
        if target is None or (sent is not None and sent.deleted):
            if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return copy.deepcopy(target)

    def _record_sent(
        self,
        record: RecordedRequest,
        chat: FakeChat,
        sent_text: str | None,
        upload: UploadedFile | None = None,
        **content: Any,
    ) -> JSONDict:
        content["reply_to_message"] = self._reply_to(chat, record.params)
        content["reply_markup"] = self._validate_markup(record.params.get("reply_markup"))
        message = self._store_message(chat, self._bot_user(), **content)
        sent = SentMessage(record.method, chat.id, message["message_id"], message, record, sent_text)
        sent.document = upload
        self._sent.append(sent)
        self._sent_by_key[(chat.id, sent.message_id)] = sent
        kind = {"sendMessage": "text", "sendPoll": "poll", "sendDocument": "document"}[record.method]
        text = content.get("text") or content.get("caption") or (content.get("poll") or {}).get("question")
        self._add_log(chat.id, "bot", kind, text, message)
        return message

    def _editable(self, params: JSONDict) -> SentMessage:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        key = (chat.id, _int_param(params, "message_id"))
        sent = self._sent_by_key.get(key)
        if sent is None or sent.deleted:
            if key in self._messages and sent is None:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return sent

    # ------------------------------------------------------------------------------ Bot API methods

    async def _api_getMe(self, record: RecordedRequest) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getUpdates(self, record: RecordedRequest) -> list[JSONDict]:
        params = record.params
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a waiting older getUpdates gets terminated with 409, like the real server

        def ready() -> list[JSONDict] | None:
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            self._drop_disallowed()
            if self._pending or self._closing.is_set():
                return self._pending[:limit]
            return None

        return await self._wait_until(ready, timeout) or []

    def _drop_disallowed(self) -> None:
        if self._allowed_updates is not None:
            allowed = set(self._allowed_updates)
            self._pending = [u for u in self._pending if allowed & u.keys()]

    async def _api_setWebhook(self, record: RecordedRequest) -> bool:
        params = record.params
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        await self._stop_webhook()
        if url:
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "token": record.token,
                "max_connections": int(params.get("max_connections") or 40),
            }
            self._webhook_error = None
            self._webhook_task = asyncio.create_task(self._webhook_loop())
        return True

    async def _api_deleteWebhook(self, record: RecordedRequest) -> bool:
        if record.params.get("drop_pending_updates"):
            self._pending.clear()
        await self._stop_webhook()
        return True

    async def _api_getWebhookInfo(self, record: RecordedRequest) -> JSONDict:
        info: JSONDict = {"url": "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self._pending)
        if self._webhook is not None:
            info.update(url=self._webhook["url"], max_connections=self._webhook["max_connections"])
            if self._allowed_updates is not None:
                info["allowed_updates"] = self._allowed_updates
            if self._webhook_error is not None:
                info.update(last_error_date=self._webhook_error[0], last_error_message=self._webhook_error[1])
        return info

    async def _api_sendMessage(self, record: RecordedRequest) -> JSONDict:
        chat = self._chat(record.params, sending=True)
        text = self._message_text(record.params, "text", MAX_TEXT)
        if not text or not text.strip():
            raise _bad("message text is empty")
        return self._record_sent(record, chat, record.params["text"], text=text)

    async def _api_editMessageText(self, record: RecordedRequest) -> JSONDict:
        sent = self._editable(record.params)
        if "text" not in sent.message:
            raise _bad("there is no text in the message to edit")
        text = self._message_text(record.params, "text", MAX_TEXT)
        if not text or not text.strip():
            raise _bad("message text is empty")
        markup = self._validate_markup(record.params.get("reply_markup"))
        if record.params["text"] == sent.sent_text and markup == sent.reply_markup:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        sent.sent_text = record.params["text"]
        return self._apply_edit(sent, record, text=text, reply_markup=markup)

    async def _api_editMessageReplyMarkup(self, record: RecordedRequest) -> JSONDict:
        sent = self._editable(record.params)
        markup = self._validate_markup(record.params.get("reply_markup"))
        if markup == sent.reply_markup:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        return self._apply_edit(sent, record, reply_markup=markup)

    def _apply_edit(self, sent: SentMessage, record: RecordedRequest, **changes: Any) -> JSONDict:
        for key, value in changes.items():
            if value is None:
                sent.message.pop(key, None)
            else:
                sent.message[key] = value
        sent.message["edit_date"] = int(time.time())
        sent.edits.append(record)
        self._add_log(sent.chat_id, "bot", "edit", sent.message.get("text"), copy.deepcopy(sent.message))
        return sent.message

    async def _api_deleteMessage(self, record: RecordedRequest) -> bool:
        chat = self._chat(record.params)
        key = (chat.id, _int_param(record.params, "message_id"))
        sent = self._sent_by_key.get(key)
        if key not in self._messages or (sent is not None and sent.deleted):
            raise _bad("message to delete not found")
        if sent is not None:
            sent.deleted = True
        else:
            del self._messages[key]
        self._add_log(chat.id, "bot", "delete", None, {"message_id": key[1]})
        return True

    async def _api_answerCallbackQuery(self, record: RecordedRequest) -> bool:
        query_id = str(record.params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(record.params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = record.params
        return True

    async def _api_sendPoll(self, record: RecordedRequest) -> JSONDict:
        params = record.params
        chat = self._chat(params, sending=True)
        question = str(params.get("question") or "")
        if not question.strip():
            raise _bad("poll question must be non-empty")
        if len(question) > MAX_POLL_QUESTION:
            raise _bad(f"poll question length must not exceed {MAX_POLL_QUESTION}")
        raw_options = params.get("options")
        if not isinstance(raw_options, list):
            raise _bad("options must be a JSON array")
        texts = [str(o.get("text", "") if isinstance(o, dict) else o) for o in raw_options]
        if len(texts) < POLL_OPTIONS_MIN:
            raise _bad(f"poll must have at least {POLL_OPTIONS_MIN} option")
        if len(texts) > POLL_OPTIONS_MAX:
            raise _bad(f"poll can't have more than {POLL_OPTIONS_MAX} options")
        if any(not t.strip() or len(t) > MAX_POLL_OPTION for t in texts):
            raise _bad(f"poll options length must not exceed {MAX_POLL_OPTION}")
        poll_type = str(params.get("type") or "regular")
        if poll_type not in ("regular", "quiz"):
            raise _bad("wrong poll type specified")
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:
            correct = [params["correct_option_id"]]
        if poll_type == "quiz" and (not correct or any(not 0 <= int(i) < len(texts) for i in correct)):
            raise _bad("wrong correct option ID specified")
        poll_id = str(5_000_000_000_000_000_000 + next(self._ids))
        poll: JSONDict = {
            "id": poll_id,
            "question": question,
            "options": [{"persistent_id": f"o{i}", "text": t, "voter_count": 0} for i, t in enumerate(texts)],
            "total_voter_count": 0,
            "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": poll_type,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", poll_type == "regular")),
            "members_only": bool(params.get("members_only", False)),
        }
        if poll_type == "quiz":
            poll["correct_option_ids"] = [int(i) for i in correct or []]
        for key in ("explanation", "open_period", "close_date", "description"):
            if params.get(key) is not None:
                poll[key] = params[key]
        message = self._record_sent(record, chat, question, poll=poll)
        self._polls[poll_id] = _PollState(poll, chat.id, message["message_id"])
        return message

    async def _api_stopPoll(self, record: RecordedRequest) -> JSONDict:
        chat = self._chat(record.params)
        sent = self._sent_by_key.get((chat.id, _int_param(record.params, "message_id")))
        if sent is None or sent.deleted or sent.poll is None:
            raise _bad("message with poll to stop not found")
        if sent.poll["is_closed"]:
            raise _bad("poll has already been closed")
        sent.poll["is_closed"] = True
        if "reply_markup" in record.params:
            self._apply_edit(sent, record, reply_markup=self._validate_markup(record.params["reply_markup"]))
        if self.emit_poll_state_updates:
            self._queue("poll", copy.deepcopy(sent.poll))
        return sent.poll

    async def _api_sendDocument(self, record: RecordedRequest) -> JSONDict:
        params = record.params
        chat = self._chat(params, sending=True)
        ref = params.get("document")
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = record.files.get(ref.removeprefix("attach://"))
        elif ref is None:
            upload = record.files.get("document")
        elif isinstance(ref, str) and ref in self._files:
            upload = self._files[ref]
        elif isinstance(ref, str) and ref.startswith(("http://", "https://")):
            name = ref.rsplit("/", 1)[-1] or "file"
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            upload = UploadedFile("document", name, b"", ctype)
        else:
            upload = None
        if upload is None:
            raise _bad("wrong file identifier/HTTP URL specified" if ref else "document is empty")
        if ref is not None and str(ref).startswith("attach://") and not upload.content:
            raise _bad("file must be non-empty")
        caption = self._message_text(params, "caption", MAX_CAPTION)
        file_id = ref if isinstance(ref, str) and ref in self._files else f"BQACAgIAAx{next(self._ids):08d}"
        self._files[file_id] = upload
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-8:]}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }
        return self._record_sent(record, chat, params.get("caption"), upload, document=document, caption=caption)

    def _commands_key(self, scope: Any, language_code: Any) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    async def _api_setMyCommands(self, record: RecordedRequest) -> bool:
        commands = record.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("commands must be a JSON array")
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not _COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be non-empty")
        key = self._commands_key(record.params.get("scope"), record.params.get("language_code"))
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def _api_getMyCommands(self, record: RecordedRequest) -> list[JSONDict]:
        return self.commands(record.params.get("scope"), record.params.get("language_code") or "")

    async def _api_deleteMyCommands(self, record: RecordedRequest) -> bool:
        key = self._commands_key(record.params.get("scope"), record.params.get("language_code"))
        self._commands.pop(key, None)
        return True

    async def _api_sendChatAction(self, record: RecordedRequest) -> bool:
        chat = self._chat(record.params, sending=True)
        action = str(record.params.get("action") or "")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        self._add_log(chat.id, "bot", "action", action, {})
        return True

    async def _api_getChat(self, record: RecordedRequest) -> JSONDict:
        chat = self._chat(record.params)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    async def _api_setChatMenuButton(self, record: RecordedRequest) -> bool:
        chat_id = record.params.get("chat_id")
        if chat_id is not None:
            chat_id = self._chat(record.params).id
        button = record.params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise _bad("can't parse menu button")
        self.menu_buttons[chat_id] = button
        return True

    async def _api_getChatMenuButton(self, record: RecordedRequest) -> JSONDict:
        chat_id = self._chat(record.params).id if record.params.get("chat_id") is not None else None
        return self.menu_buttons.get(chat_id, {"type": "default" if chat_id is not None else "commands"})

    async def _api_leaveChat(self, record: RecordedRequest) -> bool:
        chat = self._chat(record.params)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._bot_member_update(chat, self._bot_user(), "left")
        return True

    # ------------------------------------------------------------------------------ webhook delivery

    async def _stop_webhook(self) -> None:
        self._webhook = None
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        async with ClientSession(timeout=ClientTimeout(total=self.webhook_timeout)) as session:
            while self._webhook is not None and not self._closing.is_set():
                changed = self._changed
                self._drop_disallowed()
                if not self._pending:
                    await changed.wait()
                    continue
                update = self._pending[0]
                if await self._deliver(session, self._webhook, update):
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    delay = self.webhook_retry_delay
                    self._notify()
                else:
                    await self._sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def _deliver(self, session: ClientSession, hook: JSONDict, update: JSONDict) -> bool:
        headers = {SECRET_HEADER: hook["secret_token"]} if hook["secret_token"] else {}
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(hook["url"], json=update, headers=headers) as resp:
                status = resp.status
                if 200 <= status < 300:
                    await self._execute_webhook_reply(hook["token"], resp)
                else:
                    error = f"Wrong response from the webhook: {status} {resp.reason}"
        except (ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(WebhookDelivery(self.clock(), update["update_id"], status, error))
        if error is not None:
            self._webhook_error = (int(time.time()), error)
        return error is None

    async def _execute_webhook_reply(self, token: str, resp: ClientResponse) -> None:
        """Telegram executes a method returned in the webhook response body (JSON or multipart form)."""
        files: dict[str, UploadedFile] = {}
        if resp.content_type == "application/json":
            body = await resp.json()
            params: JSONDict = dict(body) if isinstance(body, dict) else {}
        elif resp.content_type == "multipart/form-data":
            params, files = await _read_multipart(MultipartReader(resp.headers, resp.content))
        else:
            return
        method = params.pop("method", None)
        if method:
            params = _normalize(params)
            await self._execute(token, str(method), params, files, at=self.clock(), via="webhook-reply")

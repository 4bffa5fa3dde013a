"""The Telegram channel (aiogram 3): updates in as Inbound events, Outbound rendered natively.

Choices become inline keyboards whose callback data is only the opaque token; date polls become
native non-anonymous polls; files become documents. Long polling is the default; with
``TELEGRAM_WEBHOOK_URL`` the webhook is served from the project's one HTTP server and checked
against Telegram's secret-token header.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    MenuButtonWebApp,
    Message,
    PollAnswer,
    Update,
    WebAppInfo,
)
from fastapi import Request, Response

from bot.core.messages import (
    EventKind,
    Inbound,
    Outbound,
    OutKind,
    PermanentError,
    RetryAfter,
    SendResult,
    TransientError,
)
from bot.i18n import LOCALES, Translator
from bot.services.meetings.ballots import native_poll_pending

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings
    from bot.conversation import Command, Context

log = logging.getLogger(__name__)

CHANNEL = "telegram"
LEAD_RECHECK = 300.0  # seconds before a chat whose person leads nothing is checked again (presses: always)
NOT_LEADS_KEPT = 100_000  # chats remembered as leading nothing, at most
ALLOWED_UPDATES = ["message", "callback_query", "poll_answer", "my_chat_member"]
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_BUTTON_ROWS = 12
POLL_REF_WAIT = 5.0  # seconds an answer waits for the poll it answers to be recorded as sent


def make_bot(settings: Settings) -> Bot:
    assert settings.telegram_bot_token is not None
    kwargs: dict[str, Any] = {"timeout": settings.telegram_request_timeout}
    if settings.telegram_api_server:
        kwargs["api"] = TelegramAPIServer.from_base(settings.telegram_api_server)
    return Bot(token=settings.telegram_bot_token.get_secret_value(), session=AiohttpSession(**kwargs))


def webhook_secret(settings: Settings) -> str:
    """The configured secret, or one derived from the token (stable across restarts)."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    assert settings.telegram_bot_token is not None
    digest = hashlib.sha256(b"forumbot-webhook:" + settings.telegram_bot_token.get_secret_value().encode())
    return digest.hexdigest()[:48]


# -- outbound -------------------------------------------------------------------------------------


def keyboard(message: Outbound) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows = [
        [InlineKeyboardButton(text=b.label[:64] or "·", web_app=WebAppInfo(url=b.url)) if b.url
         else InlineKeyboardButton(text=b.label[:64] or "·", callback_data=b.token) for b in row[:8]]
        for row in message.buttons[:MAX_BUTTON_ROWS]
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TelegramSender:
    """Sends one Outbound through the Bot API and maps its errors for the delivery path."""

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        try:
            return await self._send(int(chat_id), message)
        except TelegramRetryAfter as exc:
            raise RetryAfter(float(exc.retry_after)) from None
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError, TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        except TelegramForbiddenError as exc:
            raise PermanentError(f"forbidden: {exc.message}", identity_unreachable=True) from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            unreachable = "chat not found" in exc.message.lower()
            raise PermanentError(f"bad request: {exc.message}", identity_unreachable=unreachable) from None
        except TelegramAPIError as exc:
            raise TransientError(f"api error: {exc.message}") from None

    async def _send(self, chat_id: int, message: Outbound) -> SendResult:
        markup = keyboard(message)
        if message.kind is OutKind.STOP_POLL:
            if message.edit_ref:
                try:
                    await self.bot.stop_poll(chat_id=chat_id, message_id=int(message.edit_ref))
                except TelegramBadRequest as exc:
                    if "already closed" not in exc.message.lower():
                        raise
            return SendResult(message_id=message.edit_ref)
        if message.kind is OutKind.POLL and message.poll is not None:
            poll = message.poll
            sent = await self.bot.send_poll(
                chat_id=chat_id,
                question=_fit(poll.question or message.text, 300),
                options=[InputPollOption(text=_fit(o, 100)) for o in poll.options[:12]],
                is_anonymous=False,
                allows_multiple_answers=poll.multiple,
            )
            return SendResult(message_id=str(sent.message_id), poll_id=sent.poll.id if sent.poll else None)
        if message.kind is OutKind.FILE and message.file is not None:
            sent = await self.bot.send_document(
                chat_id=chat_id,
                document=BufferedInputFile(message.file.data, filename=message.file.name),
                caption=_fit(message.text, MAX_CAPTION) if message.text else None,
                reply_markup=markup,
            )
            return SendResult(message_id=str(sent.message_id))
        text = _fit(message.text or "·", MAX_TEXT)
        if message.edit_ref:
            try:
                edited = await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=int(message.edit_ref), text=text, reply_markup=markup
                )
                return SendResult(message_id=str(getattr(edited, "message_id", message.edit_ref)))
            except TelegramBadRequest as exc:
                if "not modified" in exc.message.lower():
                    return SendResult(message_id=message.edit_ref)
                log.info("could not edit message %s (%s); sending a new one", message.edit_ref, exc.message)
        sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        return SendResult(message_id=str(sent.message_id))


# -- inbound --------------------------------------------------------------------------------------


def _language(code: str | None) -> str | None:
    if not code:
        return None
    short = code.split("-")[0].lower()
    return short if short in LOCALES else ("he" if short == "iw" else None)


def parse_command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    """``/cmd@bot args`` → ("cmd", "args"); None when addressed to another bot."""
    head, _, args = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    return name.lower(), args.strip()


def message_event(message: Message, update_id: int, bot_username: str | None) -> Inbound | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    is_group = message.chat.type in ("group", "supergroup")
    text = message.text or message.caption or ""
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": str(user.id),
        "chat_id": str(message.chat.id),
        "update_key": str(update_id),
        "is_group": is_group,
        "chat_title": message.chat.title or "",
        "language_hint": _language(user.language_code),
    }
    if text.startswith("/"):
        parsed = parse_command(text, bot_username)
        if parsed is None:
            return None
        return Inbound(kind=EventKind.COMMAND, text=text, command=parsed[0], args=parsed[1], **common)
    return Inbound(kind=EventKind.TEXT, text=text, **common)


def callback_event(query: CallbackQuery, update_id: int) -> Inbound | None:
    if query.message is None or not query.data:
        return None
    chat = query.message.chat
    return Inbound(
        channel=CHANNEL,
        user_id=str(query.from_user.id),
        chat_id=str(chat.id),
        kind=EventKind.CHOICE,
        token=query.data,
        update_key=str(update_id),
        is_group=chat.type in ("group", "supergroup"),
        language_hint=_language(query.from_user.language_code),
        message_ref=str(query.message.message_id),
    )


def poll_answer_event(answer: PollAnswer, update_id: int) -> Inbound | None:
    if answer.user is None:
        return None
    return Inbound(
        channel=CHANNEL,
        user_id=str(answer.user.id),
        chat_id=str(answer.user.id),
        kind=EventKind.POLL_ANSWER,
        poll_ref=answer.poll_id,
        option_ids=tuple(answer.option_ids),
        update_key=str(update_id),
        language_hint=_language(answer.user.language_code),
    )


def member_event(change: ChatMemberUpdated, update_id: int) -> Inbound | None:
    if change.chat.type not in ("group", "supergroup"):
        return None
    joined = change.new_chat_member.status in ("member", "administrator")
    return Inbound(
        channel=CHANNEL,
        user_id=str(change.from_user.id),
        chat_id=str(change.chat.id),
        kind=EventKind.GROUP_JOINED if joined else EventKind.GROUP_LEFT,
        update_key=str(update_id),
        is_group=True,
        chat_title=change.chat.title or "",
        language_hint=_language(change.from_user.language_code),
    )


class TelegramChannel:
    """Wires aiogram's dispatcher to the core; one instance per running bot."""

    def __init__(self, app: App, bot: Bot) -> None:
        self.app = app
        self.bot = bot
        self.username: str | None = None
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(self._router())
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._scoped_leads: set[int] = set()
        self._not_leads: dict[int, float] = {}  # private chat -> when its person was last seen to lead nothing

    def _router(self) -> Router:
        router = Router(name="forumbot-telegram")
        router.message.register(self._on_message)
        router.callback_query.register(self._on_callback)
        router.poll_answer.register(self._on_poll_answer)
        router.my_chat_member.register(self._on_member)
        return router

    async def _handle(self, event: Inbound | None) -> None:
        if event is None:
            return
        lock = self._locks.get(event.user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[event.user_id] = lock
        lead_locale: list[str | None] = []  # filled once the event's transaction has committed

        async def check_lead(ctx: Context) -> None:
            # Whether the person led a forum came with their identity (no statement of its own). A
            # button press may have just made them a lead (registration, joining): only then ask
            # again, in the event's own transaction (on SQLite, no second turn at the write lock).
            person = ctx.person
            leads = await ctx.leads(again=ctx.event.kind is EventKind.CHOICE)
            locale = person.locale if person is not None and leads else None
            ctx.after_commit(lambda: lead_locale.append(locale))

        async with lock:  # one person's updates are handled in order
            if event.kind is EventKind.POLL_ANSWER:  # (waiting inside the lock keeps their answers in order)
                await self._until_poll_recorded(event.poll_ref, event.chat_id)
            due = self._lead_check_due(event)
            await self.app.conversations.handle(event, within=check_lead if due else None, read_leads=due)
        if lead_locale:
            chat = int(event.chat_id)
            if lead_locale[-1] is None:
                self._seen_leading_nothing(chat)
            await self._scope_lead_commands(chat, lead_locale[-1])

    async def _on_message(self, message: Message, event_update: Update) -> None:
        await self._handle(message_event(message, event_update.update_id, self.username))

    async def _on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        try:
            await self.bot.answer_callback_query(query.id)
        except TelegramAPIError:
            log.info("could not answer a callback query (too old?)")
        await self._handle(callback_event(query, event_update.update_id))

    async def _on_poll_answer(self, answer: PollAnswer, event_update: Update) -> None:
        await self._handle(poll_answer_event(answer, event_update.update_id))

    async def _until_poll_recorded(self, poll_id: str, chat_id: str) -> None:
        """A person can answer a poll in the moment between Telegram's reply to sendPoll and the
        delivery path recording its poll id (the answer would find no poll and be dropped). While a
        message to them or to a group is still being sent, wait for that record, a few seconds at most."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_REF_WAIT
        while True:
            async with self.app.db.sessions() as session:
                pending = await native_poll_pending(session, CHANNEL, poll_id, chat_id)
            if not pending or loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def _on_member(self, change: ChatMemberUpdated, event_update: Update) -> None:
        await self._handle(member_event(change, event_update.update_id))

    # -- start-up -------------------------------------------------------------------------------

    async def identify(self) -> None:
        me = await self.bot.get_me()
        self.username = me.username
        self.app.links.telegram_username = me.username

    async def set_commands(self) -> None:
        """The command menu in each language; leads get theirs per chat (see _scope_lead_commands)."""
        commands = list(self.app.conversations.commands.values())
        for locale in (None, *LOCALES):
            t = Translator(locale or self.app.settings.default_locale)
            lang = locale or ""
            members = [c for c in commands if c.audience != "lead"]
            await self.bot.set_my_commands(
                _menu(members, t), scope=BotCommandScopeAllPrivateChats(), language_code=lang or None
            )
            groups = [c for c in commands if c.groups]
            if groups:
                await self.bot.set_my_commands(
                    _menu(groups, t), scope=BotCommandScopeAllGroupChats(), language_code=lang or None
                )

    def _lead_check_due(self, event: Inbound) -> bool:
        """Whether to check, with this event, if the person in a private chat leads a forum (for the menu).

        Once per chat until it is found to lead (then its menu is set, once per process); for a chat
        whose person leads nothing, again after LEAD_RECHECK, and on every button press (a press may
        have just made them a lead: registration, joining). The check rides on the identity's query,
        but is not free there: on PostgreSQL about as much of the server's time as the rest of it.
        """
        if event.is_group or event.kind not in (EventKind.COMMAND, EventKind.TEXT, EventKind.CHOICE):
            return False
        chat = int(event.chat_id)
        if chat in self._scoped_leads:
            return False
        if event.kind is EventKind.CHOICE:
            return True
        seen = self._not_leads.get(chat)
        return seen is None or time.monotonic() - seen >= LEAD_RECHECK

    def _seen_leading_nothing(self, chat: int) -> None:
        if len(self._not_leads) >= NOT_LEADS_KEPT:
            self._not_leads.clear()  # a crowd of chats: start the count again rather than grow
        self._not_leads[chat] = time.monotonic()

    async def _scope_lead_commands(self, chat_id: int, locale: str | None) -> None:
        """Give a lead's private chat the full menu, once per process per chat."""
        if locale is None or chat_id in self._scoped_leads:
            return
        self._scoped_leads.add(chat_id)
        try:
            await self.bot.set_my_commands(
                _menu(list(self.app.conversations.commands.values()), Translator(locale)),
                scope=BotCommandScopeChat(chat_id=chat_id),
            )
        except TelegramAPIError:
            log.info("could not set a lead's command menu")
        url = self.app.settings.mini_app_url
        if url:  # leads and coordinators open the web page from the menu button, as a Mini App
            try:
                await self.bot.set_chat_menu_button(chat_id=chat_id, menu_button=MenuButtonWebApp(
                    text=Translator(locale)._("Web page")[:64].strip("\u200f"), web_app=WebAppInfo(url=url)))
            except TelegramAPIError:
                log.info("could not set a lead's menu button")

    async def feed(self, update: Update) -> None:
        await self.dispatcher.feed_update(self.bot, update)


def _menu(commands: list[Command], t: Translator) -> list[BotCommand]:
    return [BotCommand(command=c.name, description=t._(c.description)[:256].strip("\u200f")) for c in commands]


# -- long polling ---------------------------------------------------------------------------------

POLL_LIMIT = 100  # updates per getUpdates (Telegram's maximum); also the most handled at once
POLL_GAP = 0.05  # seconds between two getUpdates while updates are being handled
POLL_ATTEMPTS = 3  # an update whose handling raised is fetched and tried again this often


class UpdateWindow:
    """The updates fetched and not yet acknowledged, and the offset that acknowledges only handled ones.

    getUpdates confirms every update below its ``offset``. The offset here never passes an update
    still being handled: it is the lowest one in flight, or one past the highest handled when
    nothing is. Handled updates above an update still in flight come back with the next answer and
    are skipped (and, were they handled again after a restart, their processed mark makes it a no-op).
    """

    def __init__(self) -> None:
        self.offset: int | None = None
        self.running: dict[int, asyncio.Task[None]] = {}
        self.handled: set[int] = set()
        self.again: set[int] = set()  # raised: to be fetched and tried again
        self.failures: dict[int, int] = {}

    def is_new(self, update_id: int) -> bool:
        below = self.offset is not None and update_id < self.offset
        return not below and update_id not in self.running and update_id not in self.handled

    def start(self, update_id: int, task: asyncio.Task[None]) -> None:
        self.again.discard(update_id)
        self.running[update_id] = task

    def finished(self, update_id: int, ok: bool) -> None:
        self.running.pop(update_id, None)
        if ok:
            self.handled.add(update_id)
            self.failures.pop(update_id, None)
        else:
            self.again.add(update_id)
        self._advance()

    def _advance(self) -> None:
        if self.running or self.again:
            low = min({*self.running, *self.again})
        elif self.handled:
            low = max(self.handled) + 1
        else:
            return
        self.handled = {i for i in self.handled if i >= low}
        self.offset = low if self.offset is None else max(self.offset, low)


async def poll_updates(
    bot: Bot,
    handle: Callable[[Update], Awaitable[None]],
    stop: asyncio.Event,
    *,
    polling_timeout: int,
    allowed_updates: list[str] | None = None,
    limit: int = POLL_LIMIT,
) -> None:
    """Long polling that acknowledges an update only after it was handled (its transaction committed).

    aiogram's dispatcher moves the offset on as soon as it hands an update to a task, so a process
    killed then has acknowledged updates nobody handled. Here a restarted process fetches again
    whatever was not handled; updates of different people are handled at the same time, and one
    person's in order (see TelegramChannel._handle). On ``stop`` the updates in hand are finished
    and acknowledged.
    """
    window = UpdateWindow()
    stopping = asyncio.create_task(stop.wait())
    request_timeout = int((bot.session.timeout or 60) + polling_timeout)
    backoff = 0.0

    async def one(update: Update) -> None:
        ok = False  # cancelled half way (shutdown): not handled, never acknowledged
        try:
            await handle(update)
            ok = True
        except Exception:
            tries = window.failures[update.update_id] = window.failures.get(update.update_id, 0) + 1
            ok = tries >= POLL_ATTEMPTS  # after that, logged and given up (a bug, not an outage)
            log.exception("telegram: update %s failed (%d of %d tries)", update.update_id, tries, POLL_ATTEMPTS)
        finally:
            window.finished(update.update_id, ok)

    try:
        while not stop.is_set():
            busy = bool(window.running or window.again)
            fetch = asyncio.ensure_future(
                bot.get_updates(
                    offset=window.offset,
                    limit=limit,
                    timeout=0 if busy else polling_timeout,
                    allowed_updates=allowed_updates or ALLOWED_UPDATES,
                    request_timeout=request_timeout,
                )
            )
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch
                break
            try:
                updates = fetch.result()
            except TelegramRetryAfter as exc:
                await _pause(stop, float(exc.retry_after))
                continue
            except (TelegramAPIError, ClientDecodeError, TimeoutError, OSError) as exc:
                backoff = min(max(backoff * 2, 1.0), 30.0)
                log.warning("telegram: getUpdates failed (%s: %s); again in %.0f s", type(exc).__name__, exc, backoff)
                await _pause(stop, backoff)
                continue
            backoff = 0.0
            fresh = [u for u in updates if window.is_new(u.update_id)]
            for update in fresh:
                window.start(update.update_id, asyncio.create_task(one(update), name=f"update-{update.update_id}"))
            if fresh and not busy:
                continue  # there may be more right behind them
            if window.running:  # nothing new in the answer: wait for one to finish, or a moment
                running = {*window.running.values(), stopping}
                await asyncio.wait(running, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            if busy:
                await _pause(stop, POLL_GAP)
    finally:
        stopping.cancel()
        if window.running:
            await asyncio.wait(list(window.running.values()), timeout=7)
        acknowledged = window.offset
        if acknowledged is not None:
            with contextlib.suppress(Exception):  # confirm what was handled; a restart re-fetches the rest
                await bot.get_updates(offset=acknowledged, limit=1, timeout=0, request_timeout=5)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def start_telegram(app: App, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """Start the channel: identify the bot, set the menu, then poll or serve the webhook."""
    settings = app.settings
    bot = make_bot(settings)
    channel = TelegramChannel(app, bot)
    await channel.identify()
    app.add_sender(TelegramSender(bot))
    try:
        await channel.set_commands()
    except TelegramAPIError:
        log.warning("could not set the command menu; continuing")
    tasks: list[asyncio.Task[None]] = []
    polling: asyncio.Task[None] | None = None
    if settings.telegram_webhook_url:
        secret = webhook_secret(settings)
        mount_webhook(app, channel, secret)
        await bot.set_webhook(
            url=settings.telegram_webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        log.info("telegram: webhook mode as @%s", channel.username)
    else:
        await bot.delete_webhook(drop_pending_updates=False)

        polling = asyncio.create_task(
            poll_updates(bot, channel.feed, stop, polling_timeout=settings.telegram_polling_timeout),
            name="telegram-polling",
        )
        tasks.append(polling)
        log.info("telegram: long polling as @%s", channel.username)

    async def close_on_stop() -> None:
        await stop.wait()
        if polling is not None:  # it handles what it fetched and acknowledges it first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(polling), timeout=8)
        await asyncio.sleep(0)
        await bot.session.close()

    tasks.append(asyncio.create_task(close_on_stop(), name="telegram-close"))
    return tasks


def mount_webhook(app: App, channel: TelegramChannel, secret: str) -> None:
    """POST <path of TELEGRAM_WEBHOOK_URL> on the one HTTP server; handled before answering 200."""
    path = urlsplit(app.settings.telegram_webhook_url).path or "/telegram/webhook"

    async def webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return Response(status_code=401)
        try:
            update = Update.model_validate(await request.json(), context={"bot": channel.bot})
        except Exception:
            return Response(status_code=400)
        # Handled before answering: if this process dies now, Telegram delivers the update again,
        # and the processed-updates table keeps a second delivery from being handled twice.
        await channel.feed(update)
        return Response(status_code=200)

    app.web.add_api_route(path, webhook, methods=["POST"], include_in_schema=False)

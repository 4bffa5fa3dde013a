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
from bot.services.people import leads_a_forum
from bot.services.polls import native_poll_pending

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings
    from bot.conversation import Command, Context

log = logging.getLogger(__name__)

CHANNEL = "telegram"
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
        self._not_leads: dict[int, float] = {}

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
            # Read in the event's own transaction: the person is loaded already, and it costs no
            # second transaction (on SQLite, no second turn at the write lock).
            person = ctx.person
            locale = person.locale if person is not None and await leads_a_forum(ctx.session, person.id) else None
            ctx.after_commit(lambda: lead_locale.append(locale))

        async with lock:  # one person's updates are handled in order
            if event.kind is EventKind.POLL_ANSWER:  # (waiting inside the lock keeps their answers in order)
                await self._until_poll_recorded(event.poll_ref, event.chat_id)
            await self.app.conversations.handle(event, within=check_lead if self._lead_check_due(event) else None)
        if lead_locale:
            await self._scope_lead_commands(int(event.chat_id), lead_locale[-1])

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
        """Whether to check, with this event, if the person in a private chat leads a forum (for the menu)."""
        if event.is_group or event.kind not in (EventKind.COMMAND, EventKind.TEXT, EventKind.CHOICE):
            return False
        chat_id = int(event.chat_id)
        if chat_id in self._scoped_leads:
            return False
        checked = self._not_leads.get(chat_id)
        # A person becomes a lead by pressing a button (registration, joining); otherwise re-check rarely.
        return checked is None or event.kind is EventKind.CHOICE or time.monotonic() - checked >= 300

    async def _scope_lead_commands(self, chat_id: int, locale: str | None) -> None:
        """Give a lead's private chat the full menu, once per process per chat."""
        if locale is None:
            self._not_leads[chat_id] = time.monotonic()
            return
        if chat_id in self._scoped_leads:
            return
        self._scoped_leads.add(chat_id)
        self._not_leads.pop(chat_id, None)
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

        async def poll() -> None:
            await channel.dispatcher.start_polling(
                bot,
                polling_timeout=settings.telegram_polling_timeout,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=ALLOWED_UPDATES,
                tasks_concurrency_limit=64,
            )

        tasks.append(asyncio.create_task(poll(), name="telegram-polling"))
        log.info("telegram: long polling as @%s", channel.username)

    async def close_on_stop() -> None:
        await stop.wait()
        if not settings.telegram_webhook_url:
            with contextlib.suppress(RuntimeError):
                await channel.dispatcher.stop_polling()
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

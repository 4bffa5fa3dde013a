"""The channel-agnostic conversation layer: routers, a per-event context, and the dispatcher.

One inbound event is one unit of work: the de-duplication mark, every state change and every
reply (written to the outbox) commit together or not at all.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.core.actions import Action, pack, unpack
from bot.core.messages import Button, EventKind, FileSpec, Inbound, Outbound, OutKind, PollSpec
from bot.core.states import FlowState, StaleConversation, declared_flow, fits, load
from bot.domain.text import InputError
from bot.flood import Verdict, build_flood
from bot.i18n import LOCALES, N_, Translator
from bot.services import tokens
from bot.services.delivery.outbox import CHAT_GROUP, CHAT_PRIVATE, PRIORITY_REPLY, enqueue
from bot.services.errors import Refused
from bot.services.forums.people import get_or_create_identity, leads_a_forum, load_event_identity, load_identity
from bot.services.sql import PERSON_LOCK_PG, person_lock_key
from bot.storage.db import origin_of, retry_unavailable
from bot.storage.models import ChannelIdentity, ChoiceToken, ConversationState, Person, ProcessedUpdate

if TYPE_CHECKING:
    from bot.core.host import Host

log = logging.getLogger(__name__)

Handler = Callable[["Context"], Awaitable[None]]
ActionT = TypeVar("ActionT", bound=Action)
StateT = TypeVar("StateT", bound=FlowState)
ActionHandler = Callable[["Context", Any], Awaitable[None]]
TypedHandler = Callable[["Context", ActionT], Awaitable[None]]
MAX_TEXT = 4000
# What a person can send is bounded here, before any handler sees it: longer than any messenger
# allows is cut, NUL and lone surrogates (which PostgreSQL and UTF-8 refuse) are removed.
MAX_INBOUND_TEXT = 4096
MAX_INBOUND_FIELD = 64
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


def bounded(event: Inbound) -> Inbound | None:
    """The event with its free-text fields cleaned and cut, or None if it cannot be from a real chat."""
    ids = (event.channel, event.user_id, event.chat_id)
    if not all(ids) or any(len(v) > MAX_INBOUND_FIELD or _UNSENDABLE.search(v) for v in ids):
        return None

    def cut(value: str, limit: int) -> str:
        return _UNSENDABLE.sub("", value[: limit * 2])[:limit]

    return dataclasses.replace(
        event,
        text=cut(event.text, MAX_INBOUND_TEXT),
        args=cut(event.args, MAX_INBOUND_TEXT),
        command=cut(event.command, MAX_INBOUND_FIELD).lower(),
        token=cut(event.token, MAX_INBOUND_FIELD),
        poll_ref=cut(event.poll_ref, MAX_INBOUND_FIELD),
        update_key=cut(event.update_key, 96),
        chat_title=cut(event.chat_title, 200),
        option_ids=tuple(i for i in event.option_ids[:32] if isinstance(i, int) and 0 <= i < 1000),
        language_hint=cut(event.language_hint, 8) if event.language_hint else None,
        message_ref=cut(event.message_ref, MAX_INBOUND_FIELD) if event.message_ref else None,
        phone=cut(event.phone, 32) if event.phone else None,
    )


INPUT_ERRORS: dict[str, str] = {
    "too_short": N_("That is too short."),
    "too_long": N_("That is too long: at most {max} characters."),
    "name_needs_letters": N_("A name needs at least one letter."),
}


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # an msgid
    handler: Handler
    audience: str = "all"  # all / registered / lead
    groups: bool = False  # also answered inside group chats
    reads_leads: bool = False  # its handler asks Context.leads(): read it with the identity


@dataclass
class Router:
    """Handlers of one feature. Build a new one per dispatcher (no module globals)."""

    name: str
    commands: dict[str, Command] = field(default_factory=dict)
    steps: dict[tuple[str, str], Handler] = field(default_factory=dict)
    typed: dict[str, ActionHandler] = field(default_factory=dict)
    poll_handlers: list[Handler] = field(default_factory=list)
    group_handlers: list[Handler] = field(default_factory=list)
    text_handlers: list[Callable[[Context], Awaitable[bool]]] = field(default_factory=list)

    def command(
        self, name: str, description: str, *, audience: str = "all", groups: bool = False, reads_leads: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.commands[name] = Command(name, description, fn, audience, groups, reads_leads)
            return fn

        return register

    def step(self, flow: str, step: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.steps[(flow, step)] = fn
            return fn

        return register

    def on(self, kind: type[ActionT]) -> Callable[[TypedHandler[ActionT]], TypedHandler[ActionT]]:
        """The handler of a declared action (bot.core.actions): it gets the decoded value."""

        def register(fn: TypedHandler[ActionT]) -> TypedHandler[ActionT]:
            if kind.name in self.typed:
                raise ValueError(f"router {self.name} handles action {kind.name} twice")
            self.typed[kind.name] = fn
            return fn

        return register

    def on_poll_answer(self, fn: Handler) -> Handler:
        self.poll_handlers.append(fn)
        return fn

    def on_group_event(self, fn: Handler) -> Handler:
        self.group_handlers.append(fn)
        return fn

    def on_text(self, fn: Callable[[Context], Awaitable[bool]]) -> Callable[[Context], Awaitable[bool]]:
        """A handler for free text outside any flow; returns True when it took the text."""
        self.text_handlers.append(fn)
        return fn


@dataclass
class Context:
    app: Host
    conversations: Conversations
    session: AsyncSession
    event: Inbound
    identity: ChannelIdentity
    now: datetime
    t: Translator
    state: ConversationState | None = None
    value: str = ""  # the value of a pressed button (for steps) or action argument
    leads_a_forum: bool | None = None  # whether the person led a forum when the event began (None: not read)
    sent: list[Outbound] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once this event's transaction has committed (never if it rolled back)."""
        self.committed.append(fn)

    @property
    def person(self) -> Person | None:
        return self.identity.person

    async def leads(self, *, again: bool = False) -> bool:
        """Whether the person leads a forum anywhere: read with their identity when the adapter
        asked for it (read_leads), else once, here. ``again``: read it anew unless it was already
        so (this event may have just made them a lead: a registration, a join)."""
        if self.leads_a_forum is None or (again and not self.leads_a_forum):
            person = self.person
            self.leads_a_forum = person is not None and await leads_a_forum(self.session, person.id)
        return self.leads_a_forum

    @property
    def text(self) -> str:
        return self.event.text

    def use_translator(self, t: Translator) -> None:
        self.t = t

    # -- state --------------------------------------------------------------------------------

    async def enter(self, value: FlowState, step: str) -> None:
        """Go to ``step`` of a declared flow, carrying ``value`` (it replaces what the flow held)."""
        if step not in value.steps:
            raise ValueError(f"{value.flow} declares no step {step!r}")
        data = value.model_dump(mode="json")
        if self.state is None:
            self.state = ConversationState(
                identity_id=self.identity.id, flow=value.flow, step=step, data=data, updated_at=self.now
            )
            self.session.add(self.state)
        else:
            self.state.flow, self.state.step, self.state.data = value.flow, step, data
            self.state.updated_at = self.now
        await self.session.flush()

    def flow(self, kind: type[StateT]) -> StateT:
        """The current state as ``kind``, validated; StaleConversation if it does not fit."""
        if self.state is None or self.state.flow != kind.flow:
            raise StaleConversation(f"not in {kind.flow}")
        return cast(StateT, load(kind, self.state.step, self.state.data))

    async def clear_state(self) -> None:
        if self.state is not None:
            await self.session.delete(self.state)
            await self.session.flush()
            self.state = None

    # -- buttons ------------------------------------------------------------------------------

    def button(self, label: str, action: Action, *, anyone_in_chat: bool = False) -> Button:
        """A button whose press comes back as ``action`` (a declared action, bot.core.actions); the
        client only sees a token."""
        return self._button(label, pack(action), anyone_in_chat=anyone_in_chat)

    def step_button(self, label: str, flow: str, step: str, value: str) -> Button:
        """A button that answers ``step`` of ``flow`` with ``value``, while the person is on it."""
        return self._button(label, f"@{flow}.{step}:{value}")

    def _button(self, label: str, payload: str, *, anyone_in_chat: bool = False) -> Button:
        token = tokens.mint(
            self.session,
            channel=self.event.channel,
            chat_id=self.event.chat_id,
            identity_id=None if anyone_in_chat else self.identity.id,
            payload=payload,
            now=self.now,
        )
        return Button(token=token, label=label)

    # -- replies ------------------------------------------------------------------------------

    async def reply(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        *,
        edit: bool = False,
    ) -> None:
        message = Outbound(
            kind=OutKind.CHOICES if buttons else OutKind.TEXT,
            text=text[:MAX_TEXT],
            rtl=self.t.rtl,
            buttons=buttons or [],
            edit_ref=self.event.message_ref if edit and self.event.kind is EventKind.CHOICE else None,
        )
        await self.send(message)

    async def reply_file(self, name: str, mime: str, data: bytes, caption: str, ascii_name: str = "") -> None:
        file = FileSpec.of(name, mime, data, ascii_name)
        await self.send(Outbound(kind=OutKind.FILE, text=caption, rtl=self.t.rtl, file=file))

    async def reply_poll(self, text: str, poll: PollSpec) -> None:
        await self.send(Outbound(kind=OutKind.POLL, text=text, rtl=self.t.rtl, poll=poll))

    async def send(self, message: Outbound, *, chat_id: str | None = None) -> None:
        self.sent.append(message)
        await enqueue(
            self.session,
            channel=self.event.channel,
            chat_id=chat_id or self.event.chat_id,
            chat_kind=CHAT_GROUP if chat_id is None and self.event.is_group else CHAT_PRIVATE,
            message=message,
            now=self.now,
            identity_id=self.identity.id,
            priority=PRIORITY_REPLY,
        )


# Built once (building a statement and its cache key costs more than running it): the processed
# mark, and on PostgreSQL the person's transaction-scoped advisory lock taken in the same statement.
_PROCESSED: Table = ProcessedUpdate.__table__  # type: ignore[assignment]
_MARK_SQLITE = sqlite_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["channel", "update_key"])
_LOCK_AND_MARK_PG = (
    pg_insert(_PROCESSED)
    .from_select(
        ["channel", "update_key", "processed_at"],
        select(
            *(bindparam(name, type_=_PROCESSED.c[name].type) for name in ("channel", "update_key", "processed_at"))
        ).select_from(PERSON_LOCK_PG.subquery()),
    )
    .on_conflict_do_nothing(index_elements=["channel", "update_key"])
)
_CHOICE_TOKEN = select(ChoiceToken).where(ChoiceToken.token == bindparam("token"))


class Conversations:
    """Dispatches inbound events to the routers' handlers, one unit of work per event."""

    def __init__(self, app: Host, routers: list[Router]) -> None:
        self.app = app
        self.routers = routers
        self.commands: dict[str, Command] = {}
        self.steps: dict[tuple[str, str], Handler] = {}
        self.typed: dict[str, ActionHandler] = {}
        self.poll_handlers: list[Handler] = []
        self.group_handlers: list[Handler] = []
        self.text_handlers: list[Callable[[Context], Awaitable[bool]]] = []
        settings = app.settings
        self.flood = build_flood(settings)
        for router in routers:
            clash = (
                {f"/{c}" for c in set(self.commands) & set(router.commands)}
                | {f"{f}.{s}" for f, s in set(self.steps) & set(router.steps)}
                | {f"action {a}" for a in set(self.typed) & set(router.typed)}
            )
            if clash:
                raise ValueError(f"router {router.name} registers {sorted(clash)} again")
            self.commands.update(router.commands)
            self.steps.update(router.steps)
            self.typed.update(router.typed)
            self.poll_handlers += router.poll_handlers
            self.group_handlers += router.group_handlers
            self.text_handlers += router.text_handlers
        undeclared = sorted(f"{f}.{st}" for f, st in self.steps if (k := declared_flow(f)) is None or st not in k.steps)
        if undeclared:
            raise ValueError(f"steps of no declared flow (bot.core.states): {undeclared}")

    def translator(self, identity: ChannelIdentity, state: ConversationState | None = None) -> Translator:
        person = identity.person
        if person is not None:
            return Translator(person.locale, person.address_form, self.app.settings.tz)
        if state is not None and state.data.get("locale"):
            return Translator(state.data["locale"], state.data.get("form") or "p", self.app.settings.tz)
        hint = identity.locale_hint if identity.locale_hint in LOCALES else None
        return Translator(hint or self.app.settings.default_locale, "p", self.app.settings.tz)

    async def handle(
        self, event: Inbound, *, within: Handler | None = None, read_leads: bool = False
    ) -> list[Outbound]:
        """Handle one event; returns what was queued for sending (for tests and adapters).

        ``within``, if given, runs after the handler inside the event's own transaction (an adapter's
        read that needs the person, without a transaction of its own); it is not run for a
        re-delivery, a flood-controlled event or when the handler failed. ``read_leads``: read
        whether the person leads a forum with their identity (Context.leads), in the same query.
        """
        now = self.app.clock.now()
        clean = bounded(event)
        if clean is None:
            log.warning("dropped a %s event on %s with impossible ids", event.kind, event.channel)
            return []
        event = clean
        verdict = await self.flood.verdict(f"{event.channel}:{event.user_id}", now)
        if verdict is not Verdict.OK:
            metrics.FLOOD.labels(event.channel, verdict.value).inc()
            if verdict is Verdict.WARN:
                log.info("flood control: slowing down one person on %s", event.channel)
                return await self._say(event, now, SLOW_DOWN)
            return []
        try:
            # The whole event is one transaction (its processed mark included): while the database
            # is unreachable it is run again, about half a minute, before the person gets an apology.
            return await retry_unavailable(
                lambda: self._handle_once(event, now, within, read_leads),
                what=f"handling a {event.kind} event on {event.channel}",
            )
        except DBAPIError as exc:
            # A statement that failed for a reason other than the database being away is a bug or
            # bad data: failed at once (not retried), in one line that says where it came from.
            log.error("handler failed for a %s event on %s: %s", event.kind, event.channel, origin_of(exc))
            metrics.UPDATES.labels(event.channel, event.kind.value, "error").inc()
            metrics.APOLOGIES.labels(event.channel).inc()
            return await self._say(event, now, APOLOGY)
        except Exception:
            log.exception("handler failed for a %s event on %s", event.kind, event.channel)
            metrics.UPDATES.labels(event.channel, event.kind.value, "error").inc()
            metrics.APOLOGIES.labels(event.channel).inc()
            return await self._say(event, now, APOLOGY)

    async def _handle_once(
        self, event: Inbound, now: datetime, within: Handler | None = None, read_leads: bool = False
    ) -> list[Outbound]:
        async with self.app.db.unit_of_work() as session:
            if not await self._begin_event(session, event, now):
                log.info("update %s/%s already handled", event.channel, event.update_key)
                return []
            command = self.commands.get(event.command) if event.kind is EventKind.COMMAND else None
            ctx = await self._context(session, event, now, read_leads or (command is not None and command.reads_leads))
            await self._dispatch(ctx)
            if within is not None:
                await within(ctx)
        for fn in ctx.committed:
            fn()
        self.app.notify_outbox()
        metrics.UPDATES.labels(event.channel, event.kind.value, "ok").inc()
        return ctx.sent

    async def _begin_event(self, session: AsyncSession, event: Inbound, now: datetime) -> bool:
        """Record the event as processed (False if it was already) and, on PostgreSQL, take the person's lock.

        On PostgreSQL one person's events are handled one at a time across every process: a
        transaction-scoped advisory lock, taken in the same statement as the processed mark (one
        round trip; the lock is held before the mark is written, and every later statement of the
        event reads after it).
        """
        mark = {"channel": event.channel, "update_key": event.update_key, "processed_at": now}
        if session.bind is None or session.bind.dialect.name != "postgresql":
            return not event.update_key or bool(getattr(await session.execute(_MARK_SQLITE, mark), "rowcount", 0))
        key = {"lock_key": person_lock_key(event.channel, event.user_id)}
        if not event.update_key:
            await session.execute(PERSON_LOCK_PG, key)
            return True
        return bool(getattr(await session.execute(_LOCK_AND_MARK_PG, {**mark, **key}), "rowcount", 0))

    async def _context(self, session: AsyncSession, event: Inbound, now: datetime, read_leads: bool) -> Context:
        # In a group the sender is still a person with their own (private) identity.
        leads: bool | None = None
        if read_leads:
            found, state, leads = await load_event_identity(session, event.channel, event.user_id)
        else:
            found, state = await load_identity(session, event.channel, event.user_id)
        identity = await get_or_create_identity(
            session,
            channel=event.channel,
            external_id=event.user_id,
            chat_id=event.user_id if event.is_group else event.chat_id,
            now=now,
            locale_hint=event.language_hint,
            phone=None if event.is_group else event.phone,
            preloaded=found,
        )
        return Context(
            app=self.app,
            conversations=self,
            session=session,
            event=event,
            identity=identity,
            now=now,
            t=self.translator(identity, state),
            state=state,
            leads_a_forum=leads,
        )

    async def _dispatch(self, ctx: Context) -> None:
        try:
            await self._route(ctx)
        except Refused as refusal:
            await ctx.reply(ctx.t._(refusal.msgid, **refusal.params))
        except InputError as bad:
            msgid = INPUT_ERRORS.get(bad.key, N_("That did not work. Please try again."))
            await ctx.reply(ctx.t._(msgid, **bad.params))
        except StaleConversation:
            await self._start_again(ctx)

    async def _start_again(self, ctx: Context) -> None:
        """A conversation saved by an older version: end it politely."""
        log.info("a %s conversation no longer fits its declaration; ended", ctx.state.flow if ctx.state else "?")
        await ctx.clear_state()
        await ctx.reply(ctx.t._(START_AGAIN))

    async def _route(self, ctx: Context) -> None:
        event = ctx.event
        if event.kind is EventKind.COMMAND:
            await self._command(ctx)
        elif event.kind is EventKind.CHOICE:
            await self._choice(ctx)
        elif event.kind is EventKind.POLL_ANSWER:
            for handler in self.poll_handlers:
                await handler(ctx)
        elif event.kind in (EventKind.GROUP_JOINED, EventKind.GROUP_LEFT):
            for handler in self.group_handlers:
                await handler(ctx)
        elif not event.is_group:  # plain chatter in a group is not addressed to the bot
            await self._text(ctx)

    async def _command(self, ctx: Context) -> None:
        event = ctx.event
        command = self.commands.get(event.command)
        if command is None or (event.is_group and not command.groups):
            if event.is_group:
                return  # other bots' commands in a group are none of our business
            await ctx.reply(ctx.t._("I don't know that command. Send /help to see what I can do."))
            return
        if command.audience != "all" and ctx.person is None:
            await ctx.reply(ctx.t._(NOT_REGISTERED))
            return
        await command.handler(ctx)

    async def _text(self, ctx: Context) -> None:
        """Typed text in a private chat: the step the person is on, else the text handlers."""
        if ctx.state is not None:
            step = self.steps.get((ctx.state.flow, ctx.state.step))
            if step is not None:
                if not fits(ctx.state.flow, ctx.state.step, ctx.state.data):
                    await self._start_again(ctx)
                    return
                await step(ctx)
                return
            await ctx.clear_state()
        for text_handler in self.text_handlers:
            if await text_handler(ctx):
                return
        if ctx.person is None:
            await ctx.reply(ctx.t._(NOT_REGISTERED))
        else:
            await ctx.reply(ctx.t._("Send /help to see what I can do."))

    async def _choice(self, ctx: Context) -> None:
        event = ctx.event
        token = await ctx.session.scalar(_CHOICE_TOKEN, {"token": event.token})
        if token is None or token.expires_at <= ctx.now or token.channel != event.channel:
            await ctx.reply(ctx.t._(STALE_BUTTON))
            return
        if token.chat_id != event.chat_id or (token.identity_id not in (None, ctx.identity.id)):
            await ctx.reply(ctx.t._("This button is not for you."))
            return
        payload = token.payload
        if not payload.startswith("@"):  # a declared action (bot.core.actions)
            decoded = unpack(payload)
            typed = self.typed.get(decoded.name) if decoded is not None else None
            if decoded is None or typed is None:  # a payload no version of this bot still reads
                await ctx.reply(ctx.t._(STALE_BUTTON))
                return
            await typed(ctx, decoded)
            return
        # A step button: it answers the step the person is on, and only that one.
        where, _, value = payload[1:].partition(":")
        flow, _, step = where.partition(".")
        handler = self.steps.get((flow, step))
        if handler is None or ctx.state is None or (ctx.state.flow, ctx.state.step) != (flow, step):
            await ctx.reply(ctx.t._(STALE_BUTTON))
            return
        if not fits(flow, step, ctx.state.data):
            await self._start_again(ctx)
            return
        ctx.value = value
        await handler(ctx)

    async def _say(self, event: Inbound, now: datetime, msgid: str) -> list[Outbound]:
        """A short message (the apology, "slow down") in the person's language, in a fresh transaction."""
        if event.is_group:
            return []
        try:
            async with self.app.db.unit_of_work() as session:
                identity = await get_or_create_identity(
                    session, channel=event.channel, external_id=event.user_id, chat_id=event.chat_id, now=now
                )
                t = self.translator(identity)
                message = Outbound(
                    kind=OutKind.TEXT,
                    text=t._(msgid),
                    rtl=t.rtl,
                )
                await enqueue(
                    session,
                    channel=event.channel,
                    chat_id=event.chat_id,
                    message=message,
                    now=now,
                    identity_id=identity.id,
                )
            self.app.notify_outbox()
            return [message]
        except Exception:
            log.exception("could not even apologise on %s", event.channel)
            return []


NOT_REGISTERED = N_(
    "Hello! forumbot serves the partnership forums of the education system. To join, you need an "
    "invite from your forum's lead: open their link, or send me the invite code."
)
STALE_BUTTON = N_("This button is no longer active.")
START_AGAIN = N_("The bot was updated since we started this, so let's start again. Send /help to see what I can do.")
APOLOGY = N_("Something went wrong on our side. Nothing you sent was lost; please try again.")
SLOW_DOWN = N_("You are sending me a lot at once. Please wait half a minute, then go on; I will answer again.")

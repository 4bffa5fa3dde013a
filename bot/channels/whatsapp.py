"""The WhatsApp channel: Meta's Cloud API through pywa's async client, on the project's one HTTP server.

Webhook (``WEBHOOK_PATH`` on ``app.web``):

- ``GET`` answers Meta's verification handshake (``hub.mode=subscribe``, ``hub.verify_token``,
  ``hub.challenge``).
- ``POST`` checks ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret,
  compared in constant time) before anything is parsed: missing → 401, wrong → 403.
- The delivery is split into its items (one per message or failed status), parsed with pywa's
  update types, and **stored** in ``whatsapp_inbox`` (unique on the wamid) in one transaction;
  only then is 200 returned. A worker handles the stored items in order through the core's
  dispatcher, whose ``ProcessedUpdate`` mark makes a re-handled wamid a no-op. So nothing is
  lost when the process dies mid-request (Meta re-delivers what was not 200'd), nothing is
  handled twice when Meta re-delivers, and Meta gets its 200 in one short insert.

Sending: :class:`WhatsAppSender` renders an :class:`Outbound` with ``whatsapp_render`` and sends
it with pywa (text, reply buttons, lists, documents uploaded then sent, templates). Outside a
person's 24-hour window the message is held (``bot.services.delivery.held``) and an approved utility
template goes out instead, with a quick-reply button whose tap releases everything held.
Cloud API errors become the delivery path's errors (see :func:`delivery_error`).

Where pywa is not used, and why: the webhook routes (pywa's own FastAPI routes answer 200 even
when a handler failed and de-duplicate in memory only), the signature check (pywa's validator
accepts a signature without its ``sha256=`` prefix and raises on non-ASCII headers), and failed
statuses (pywa 4.5's ``MessageStatus`` requires a ``contacts`` array that status webhooks do
not carry). pywa's base URL is fixed; :class:`RebaseTransport` points it at ``WHATSAPP_API_BASE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types import (
    Button as WaButton,
)
from pywa_async.types import (
    CallbackButton,
    CallbackSelection,
    Message,
    RawUpdate,
    Section,
    SectionList,
    SectionRow,
)
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp_render import (
    MAX_SECTION_TITLE,
    ButtonsPart,
    DocumentPart,
    Labels,
    ListPart,
    Part,
    Row,
    TextPart,
    next_page,
    numbered,
    plan,
    shorten,
    subject_of,
    template_param,
)
from bot.config import ConfigError, Settings
from bot.core.messages import (
    DeliveryError,
    EventKind,
    Inbound,
    Outbound,
    OutKind,
    PermanentError,
    RetryAfter,
    SendResult,
    TransientError,
)
from bot.i18n import Translator
from bot.services.delivery import held
from bot.services.forums import reachability
from bot.services.whatsapp import inbox, window
from bot.services.whatsapp.inbox import RATE_LIMITS, WINDOW_CLOSED
from bot.services.whatsapp.window import Who
from bot.storage.models_whatsapp import WhatsAppInbox

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
DEFAULT_API_BASE = "https://graph.facebook.com"
SIGNATURE_HEADER = "X-Hub-Signature-256"
TEMPLATES_FILE = Path(__file__).with_name("whatsapp_templates.json")
TEMPLATE_NAME = "forumbot_update"
INBOX_KEEP = inbox.KEEP
# A signed delivery older than this (by its items' timestamps) is refused: the inbox no longer
# remembers its keys, so a replay would be handled again. A day less than INBOX_KEEP, for clocks.
REPLAY_WINDOW = INBOX_KEEP - timedelta(days=1)

# Cloud API error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes);
# the window's and the rate limits' are in bot.services.whatsapp.inbox, which judges statuses too.
TRANSIENT = {1, 2, 190, 131000, 131016, 131057, 132001, 133004}
NOT_THE_PERSON = {131031, 131042, 131049, 368}  # our account or Meta's choice: no one to tell
INTERACTIVE_REFUSED = {100, 131009, 131051}  # numbered text is the last resort
TEMPLATE_UNUSABLE = {132000, 132001, 132015, 132016}  # wrong parameters, missing/unapproved, paused, disabled


def require(settings: Settings) -> None:
    """The channel does not start without what it needs to receive safely; one line names it."""
    if settings.whatsapp_app_secret is None or not settings.whatsapp_app_secret.get_secret_value():
        raise ConfigError(
            "setting WHATSAPP_APP_SECRET: required to check the signature of WhatsApp webhooks "
            "(Meta app dashboard → App settings → Basic → App secret)"
        )
    if settings.whatsapp_verify_token is None or not settings.whatsapp_verify_token.get_secret_value():
        raise ConfigError(
            "setting WHATSAPP_VERIFY_TOKEN: required for Meta's webhook handshake (any string you also "
            "enter in the app's WhatsApp → Configuration → Webhook)"
        )


# -- pywa's client, pointed at WHATSAPP_API_BASE -------------------------------------------------


class RebaseTransport(httpx.AsyncBaseTransport):
    """Sends pywa's requests for graph.facebook.com to another base URL (a fake, a proxy)."""

    def __init__(self, base: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.base = httpx.URL(base.rstrip("/"))
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            request.url = request.url.copy_with(
                scheme=self.base.scheme,
                host=self.base.host,
                port=self.base.port,
                path=self.base.path.rstrip("/") + request.url.path,
            )
            request.headers["Host"] = self.base.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# The last reply the Cloud API gave in this task: when pywa cannot read a 2xx reply, the send
# still happened, and the sender must know it (see WhatsAppSender._sent_id).
LAST_REPLY: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar("wa_last_reply", default=None)
_WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=_-]{8,200}")


async def _remember_reply(response: httpx.Response) -> None:
    LAST_REPLY.set(response)


def make_session(settings: Settings, *, timeout: float = 30.0) -> httpx.AsyncClient:
    """The HTTP client pywa sends with: Meta's graph URL, or WHATSAPP_API_BASE in its place."""
    base = settings.whatsapp_api_base
    transport = None if base.rstrip("/") == DEFAULT_API_BASE else RebaseTransport(base)
    return httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(timeout), event_hooks={"response": [_remember_reply]}
    )


def make_client(settings: Settings, session: httpx.AsyncClient) -> WhatsApp:
    token = settings.whatsapp_token.get_secret_value() if settings.whatsapp_token else ""
    return WhatsApp(
        phone_id=settings.whatsapp_phone_id or None,
        token=token or None,
        session=session,
        waba_id=settings.whatsapp_waba_id or None,
    )


# -- webhook: signature, parsing ---------------------------------------------------------------


def signature_of(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_signature(secret: str, body: bytes, header: str | None) -> int | None:
    """None when the body was signed with ``secret``; else the HTTP status to answer (401/403)."""
    if not header:
        return 401
    given = header.strip()
    if not given.startswith("sha256=") or not given.isascii():
        return 403
    expected = signature_of(secret, body)
    return None if hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii")) else 403


InboxItem = inbox.Item


def _contact_for(contacts: list[dict[str, Any]], message: dict[str, Any]) -> dict[str, Any] | None:
    for contact in contacts:
        if (message.get("from_user_id") and contact.get("user_id") == message.get("from_user_id")) or (
            message.get("from") and contact.get("wa_id") == message.get("from")
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _command(text: str) -> tuple[str, str]:
    head, _, args = text[1:].partition(" ")
    return head.strip().lower(), args.strip()


def message_item(
    client: WhatsApp, entry: dict[str, Any], value: dict[str, Any], message: dict[str, Any]
) -> InboxItem | None:
    """One user message as a core event, parsed by pywa's update types; None for what we do not handle."""
    contact = _contact_for(value.get("contacts") or [], message)
    if contact is None:
        return None  # system messages (a changed number) carry no contact
    # pywa 4.5 reads contacts[0]["user_id"]; deliveries from before business-scoped ids lack it.
    contact = {**contact, "user_id": contact.get("user_id") or ""}
    single = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": entry.get("id", ""),
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": value.get("metadata") or {},
                            "contacts": [contact],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }
    raw = RawUpdate(json.dumps(single).encode("utf-8"), hmac_header=None, update_hash=str(message.get("id")))
    kind = message.get("type")
    update: Message | CallbackButton[str] | CallbackSelection[str]
    if kind == "text":
        update = Message.from_update(client, raw)
        text = (update.text or "").strip()
        fields: dict[str, Any] = {"kind": EventKind.TEXT, "text": text}
        if text.startswith("/") and len(text) > 1:
            command, args = _command(text)
            fields = {"kind": EventKind.COMMAND, "text": text, "command": command, "args": args}
    elif kind == "interactive" and (message.get("interactive") or {}).get("type") == "button_reply":
        update = CallbackButton.from_update(client, raw)
        fields = {"kind": EventKind.CHOICE, "token": update.data}
    elif kind == "interactive" and (message.get("interactive") or {}).get("type") == "list_reply":
        update = CallbackSelection.from_update(client, raw)
        fields = {"kind": EventKind.CHOICE, "token": update.data}
    elif kind == "button":  # a template's quick-reply button
        update = CallbackButton.from_update(client, raw)
        fields = {"kind": EventKind.CHOICE, "token": update.data}
    else:
        log.info("ignoring a WhatsApp %s message", kind)
        return None
    user = update.from_user
    key = user.bsuid or user.wa_id
    if not key:
        return None
    reply_to = update.reply_to_message.id if update.reply_to_message else None
    inbound = Inbound(
        channel=CHANNEL,
        user_id=key,
        chat_id=key,
        update_key=update.id,
        message_ref=reply_to,
        phone=user.wa_id,
        **fields,
    )
    payload = {"inbound": dataclasses.asdict(inbound), "bsuid": user.bsuid or None, "wa_id": user.wa_id}
    return InboxItem(key=update.id, kind="event", payload=payload)


def status_item(status: dict[str, Any]) -> InboxItem | None:
    """A failed status (the others need nothing from us)."""
    if status.get("status") != "failed":
        return None
    errors = status.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return InboxItem(
        key=f"status:{status.get('id')}:failed",
        kind="status",
        payload={
            "wamid": str(status.get("id") or ""),
            "recipient": str(status.get("recipient_user_id") or status.get("recipient_id") or ""),
            "code": int(first.get("code") or 0),
            "title": str(first.get("title") or first.get("message") or "")[:300],
        },
    )


def sent_at(item: dict[str, Any]) -> datetime | None:
    """The Unix ``timestamp`` Meta puts on every message and status; None when it has none."""
    raw = item.get("timestamp")
    if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw).isdigit() or len(str(raw)) > 12:
        return None
    return datetime.fromtimestamp(int(raw), UTC)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in _list(value) if isinstance(v, dict)]


@dataclass
class Parsed:
    """What one webhook delivery carried: the items to store, and what was left out (and why)."""

    items: list[InboxItem] = dataclasses.field(default_factory=list)
    malformed: int = 0
    stale: int = 0


def parse_delivery(client: WhatsApp, body: dict[str, Any], phone_id: str, *, now: datetime | None = None) -> Parsed:
    """Every message and failed status for our number in one webhook delivery (Meta may batch).

    One odd item costs only itself: it is logged and skipped, the others are kept (refusing the
    delivery would make Meta send the good ones again, and the odd one with them, for a week).
    With ``now``, an item older than ``REPLAY_WINDOW`` by its timestamp is left out: its key may
    no longer be remembered, so it could be handled a second time (a replayed, signed delivery).
    """
    found = Parsed()
    oldest = now - REPLAY_WINDOW if now is not None else None
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                found.malformed += 1
                continue
            metadata = value.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            if phone_id and str(metadata.get("phone_number_id")) != phone_id:
                continue
            raw_items = [("message", m) for m in _list(value.get("messages"))]
            raw_items += [("status", s) for s in _list(value.get("statuses"))]
            for kind, raw in raw_items:
                try:
                    if not isinstance(raw, dict):
                        raise ValueError(f"a {kind} that is not an object")
                    at = sent_at(raw)
                    if oldest is not None and at is not None and at < oldest:
                        found.stale += 1
                        continue
                    item = message_item(client, entry, value, raw) if kind == "message" else status_item(raw)
                except Exception as exc:  # one odd item must not cost the others (nor make Meta retry forever)
                    found.malformed += 1
                    wamid = raw.get("id") if isinstance(raw, dict) else None
                    log.warning("skipped a malformed WhatsApp %s %s (%s: %s)", kind, wamid, type(exc).__name__, exc)
                    continue
                if item is not None:
                    found.items.append(item)
    return found


# -- errors ----------------------------------------------------------------------------------------


class _Unreachable(PermanentError):
    """A permanent failure that is about the person's account (the identity gets marked)."""


def classify(exc: WhatsAppError) -> DeliveryError:
    """The delivery path's error for a Cloud API error."""
    code = exc.code
    text = f"whatsapp {code}: {exc.message}"[:300]
    if code in RATE_LIMITS:
        return RetryAfter(RATE_LIMITS[code], chat_only=code == 131056)  # 131056: the pair rate, one person
    if code in TRANSIENT or (exc.status_code or 0) >= 500:
        return TransientError(text)
    if code in NOT_THE_PERSON or 132000 <= code < 133000:
        return PermanentError(text)
    return _Unreachable(text)


# -- sending -----------------------------------------------------------------------------------------


class _PartFailed(Exception):
    """Sending part ``parts_sent`` (counted from 0) of a message failed with ``cause``."""

    def __init__(self, cause: Exception, parts_sent: int) -> None:
        super().__init__(str(cause))
        self.cause, self.parts_sent = cause, parts_sent


def labels_for(t: Translator) -> Labels:
    return Labels(
        options=t._("Options"),
        vote=t._("Vote"),
        more=t._("More…"),
        more_body=t._("More options:"),
        choose=t._("Choose:"),
        reply_with_number=t._("Reply with the number of your choice."),
    )


class WhatsAppSender:
    """Renders the core's messages for WhatsApp and sends them with pywa (see the module docstring)."""

    channel = CHANNEL

    def __init__(self, app: App, client: WhatsApp) -> None:
        self.app = app
        self.client = client

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        if message.kind is OutKind.STOP_POLL:
            return SendResult()  # WhatsApp has no native poll to close; the core's own reply says it
        who = await self._who(chat_id)
        now = self.app.clock.now()
        always = bool((message.template or {}).get("always"))
        if who is not None and (always or not who.in_window(now)):
            kept = await self._hold(who, message, recheck=not always)
            if kept is not None:
                return kept
            # they wrote since `who` was read: the window is open, the message goes as usual
        try:
            return await self._send_free_form(chat_id, message, who)
        except _PartFailed as failed:
            exc, done = failed.cause, failed.parts_sent
            error: DeliveryError
            if isinstance(exc, WhatsAppError):
                if exc.code == WINDOW_CLOSED and who is not None:  # Meta's word: closed, whatever we read
                    held_now = await self._hold(who, dataclasses.replace(message, parts_sent=done), recheck=False)
                    assert held_now is not None
                    return held_now
                error = await self._failure(exc, who)
            elif isinstance(exc, httpx.HTTPError) or done:
                error = TransientError(f"{type(exc).__name__}: {exc}")
            else:
                raise exc from None
            error.parts_sent = done
            raise error from None

    async def _who(self, chat_id: str) -> Who | None:
        async with self.app.db.sessions() as session:
            return await window.who(session, chat_id, default_locale=self.app.settings.default_locale)

    def _translator(self, who: Who | None) -> Translator:
        if who is None:
            return Translator(self.app.settings.default_locale, "p", self.app.settings.tz)
        return Translator(who.locale, who.form, self.app.settings.tz)

    async def _failure(self, exc: WhatsAppError, who: Who | None) -> DeliveryError:
        error = classify(exc)
        if isinstance(error, _Unreachable):
            log.warning("WhatsApp cannot deliver to identity %s: %s", who.identity_id if who else "?", error)
            if who is not None:
                async with self.app.db.unit_of_work() as session:
                    await reachability.mark_unreachable(
                        session,
                        identity_id=who.identity_id,
                        reason=error.reason,
                        now=self.app.clock.now(),
                        tz=self.app.settings.tz,
                    )
                self.app.notify_outbox()
            return PermanentError(error.reason)
        if isinstance(error, PermanentError):
            log.error("WhatsApp refused a message (not the recipient's fault): %s", error.reason)
        return error

    # -- free-form messages (inside the window) ---------------------------------------------------------

    async def _send_free_form(self, chat_id: str, message: Outbound, who: Who | None) -> SendResult:
        labels = labels_for(self._translator(who))
        parts = plan(message, labels)
        if message.all_buttons and who is not None:
            async with self.app.db.unit_of_work() as session:
                await held.forget_numbered(session, who.identity_id, now=self.app.clock.now())
        last: str | None = None
        for index, part in enumerate(parts):
            if index < message.parts_sent:
                continue  # sent before a retry was needed
            try:
                if isinstance(part, ListPart) and part.rest:
                    part = await self._with_more_row(part, message, labels, who)
                try:
                    last = await self._send_part(chat_id, part)
                except WhatsAppError as exc:
                    if not isinstance(part, ButtonsPart | ListPart) or exc.code not in INTERACTIVE_REFUSED:
                        raise
                    log.warning("WhatsApp refused an interactive message (%s); sending numbered text", exc.code)
                    last = await self._send_numbered(chat_id, message, labels, who)
                    break
            except Exception as exc:
                raise _PartFailed(exc, index) from exc
        return SendResult(message_id=last)

    async def _with_more_row(self, part: ListPart, message: Outbound, labels: Labels, who: Who | None) -> ListPart:
        if who is None:  # no one to hold the rest for: drop the paging, show what fits
            return dataclasses.replace(part, rest=[])
        now = self.app.clock.now()
        async with self.app.db.unit_of_work() as session:
            token = await window.hold_page(session, who, next_page(message, part.rest, labels), now=now)
        return dataclasses.replace(part, rows=[*part.rows, Row(token, shorten(labels.more, 24))], rest=[])

    async def _send_numbered(self, chat_id: str, message: Outbound, labels: Labels, who: Who | None) -> str | None:
        last = None
        for part in numbered(message, labels):
            last = await self._send_part(chat_id, part)
        if who is not None and message.all_buttons:
            async with self.app.db.unit_of_work() as session:
                await held.replace_numbered(session, who.identity_id, message, now=self.app.clock.now())
        return last

    async def _send_part(self, to: str, part: Part) -> str | None:
        if isinstance(part, TextPart):
            return await self._sent_id(self.client.send_message(to=to, text=part.text))
        if isinstance(part, ButtonsPart):
            buttons = [WaButton(title=title, callback_data=id_) for id_, title in part.buttons]
            return await self._sent_id(self.client.send_message(to=to, text=part.body, buttons=buttons))
        if isinstance(part, ListPart):
            rows = [SectionRow(title=r.title, callback_data=r.id, description=r.description) for r in part.rows]
            section = Section(title=shorten(part.button, MAX_SECTION_TITLE), rows=rows)
            menu = SectionList(button_title=part.button, sections=[section])
            return await self._sent_id(self.client.send_message(to=to, text=part.body, buttons=menu))
        assert isinstance(part, DocumentPart)
        # The upload is multipart, where a non-ASCII name is at the mercy of the encoder: it takes the
        # ASCII name; the message (JSON) names the file in the reader's language. An upload whose reply
        # cannot be read raises here, before anything was sent: retried.
        media = await self.client.upload_media(
            media=part.file.data, mime_type=part.file.mime, filename=part.file.safe_name, media_type="document"
        )
        return await self._sent_id(
            self.client.send_document(
                to=to,
                document=media,
                filename=part.file.name,
                caption=part.caption or None,
                mime_type=part.file.mime,
            )
        )

    @staticmethod
    async def _sent_id(call: Awaitable[Any]) -> str | None:
        """The wamid of a send; a 2xx reply to /messages that cannot be read still means *sent*.

        Sending it again would reach the person twice (or four times, with the retries): the send
        counts as done, with the wamid when the reply shows one, and one log line says so.
        """
        LAST_REPLY.set(None)
        try:
            sent = await call
            return str(sent.id)
        except (WhatsAppError, httpx.HTTPError):
            raise
        except Exception as exc:
            reply = LAST_REPLY.get()
            if reply is None or not reply.is_success or not reply.request.url.path.endswith("/messages"):
                raise  # nothing was sent (e.g. a document's upload reply was unreadable): send it again
            found = _WAMID.search(reply.text[:20_000])
            log.warning(
                "WhatsApp accepted a message (HTTP %s) but its reply could not be read (%s); counted as sent%s",
                reply.status_code,
                type(exc).__name__,
                f" as {found.group(0)}" if found else ", its id unknown",
            )
            return found.group(0) if found else None

    # -- outside the window: hold the message, send a template -------------------------------------------

    async def _hold(self, who: Who, message: Outbound, *, recheck: bool) -> SendResult | None:
        """Hold ``message`` behind a template; None when ``recheck`` finds the window open after all."""
        async with self.app.db.unit_of_work() as session:
            kept = await window.hold(session, who, message, now=self.app.clock.now(), recheck=recheck)
        if kept is None:
            return None
        if kept.token is None:
            return SendResult()  # the template sent earlier releases this one too
        token, held_id = kept.token, kept.held_id
        spec = message.template or {}
        try:
            try:
                sent = await self._sent_id(self._send_template(who, message, spec, token))
            except WhatsAppError as exc:
                if not spec.get("name") or spec.get("name") == TEMPLATE_NAME or exc.code not in TEMPLATE_UNUSABLE:
                    raise
                # A feature's own template not (yet) approved, paused or changed: the generic one still works.
                log.warning(
                    "WhatsApp template %s refused (%s); sending %s instead", spec.get("name"), exc.code, TEMPLATE_NAME
                )
                sent = await self._sent_id(self._send_template(who, message, {}, token))
        except WhatsAppError as exc:
            raise await self._failure(exc, who) from None
        except httpx.HTTPError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        async with self.app.db.unit_of_work() as session:
            await window.template_sent(session, held_id, now=self.app.clock.now())
        return SendResult(message_id=sent)

    async def _send_template(self, who: Who, message: Outbound, spec: dict[str, Any], token: str) -> Any:
        """The template ``spec`` names (default: the generic update) with its quick reply releasing ``token``."""
        name = str(spec.get("name") or TEMPLATE_NAME)
        language = str(spec.get("language") or who.locale)
        body = [template_param(str(p)) for p in spec.get("body", [])] or [
            template_param(who.name or "🙂"),
            subject_of(message),
        ]
        params: list[dict[str, Any]] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body]},
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": token}],
            },
        ]
        return await self.client.send_template(
            to=who.chat_id, name=name, language=TemplateLanguage(language), params=params
        )


# -- the channel: routes, inbox, worker ------------------------------------------------------------------


class WhatsAppChannel:
    """The webhook, the inbox worker and the sender of one WhatsApp number."""

    def __init__(self, app: App) -> None:
        settings = app.settings
        require(settings)
        assert settings.whatsapp_app_secret is not None and settings.whatsapp_verify_token is not None
        self.app = app
        self.session = make_session(settings)
        self.client = make_client(settings, self.session)
        self.phone_id = settings.whatsapp_phone_id
        self.sender = WhatsAppSender(app, self.client)
        self._secret = settings.whatsapp_app_secret.get_secret_value()
        self._verify_token = settings.whatsapp_verify_token.get_secret_value()
        self.wake = asyncio.Event()
        self._last_purge = 0.0

    # -- HTTP ---------------------------------------------------------------------------------------------

    def mount(self, web: FastAPI, path: str = WEBHOOK_PATH) -> None:
        @web.get(path, include_in_schema=False)
        async def verify(request: Request) -> PlainTextResponse:
            params = request.query_params
            token = params.get("hub.verify_token") or ""
            if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode("utf-8"), self._verify_token.encode("utf-8")
            ):
                return PlainTextResponse(params.get("hub.challenge") or "")
            return PlainTextResponse("Forbidden", status_code=403)

        @web.post(path, include_in_schema=False)
        async def receive(request: Request) -> PlainTextResponse:
            body = await request.body()
            status = await self.receive(body, request.headers.get(SIGNATURE_HEADER))
            return PlainTextResponse("ok" if status == 200 else "refused", status_code=status)

    async def receive(self, body: bytes, signature: str | None) -> int:
        """Check, parse and store one webhook delivery; the HTTP status to answer."""
        refused = check_signature(self._secret, body, signature)
        if refused is not None:
            log.warning("refused a WhatsApp webhook with a %s signature", "missing" if refused == 401 else "wrong")
            return refused
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than any delivery is
            log.warning("refused a signed WhatsApp webhook that is not a JSON delivery")
            return 400
        if not isinstance(data, dict):
            return 400
        now = self.app.clock.now()
        try:
            delivery = parse_delivery(self.client, data, self.phone_id, now=now)
        except Exception:
            log.exception("a WhatsApp delivery of an unexpected shape was refused")
            return 400
        items = delivery.items
        if delivery.stale:
            log.warning("ignored %d WhatsApp items older than %s (a replay?)", delivery.stale, REPLAY_WINDOW)
            if not items and not delivery.malformed:
                return 400  # every item in it is too old to be a delivery Meta still retries
        if items:
            try:
                async with self.app.db.unit_of_work() as session:
                    await inbox.store(session, items, now=now)
            except Exception:
                log.exception("could not store a WhatsApp delivery; Meta will send it again")
                return 503
            self.wake.set()
        return 200

    # -- the inbox worker --------------------------------------------------------------------------------------

    async def claim(self) -> list[WhatsAppInbox]:
        async with self.app.db.unit_of_work() as session:
            return await inbox.claim(session, now=self.app.clock.now())

    async def process_pending(self) -> int:
        """Handle every stored item, in the order received; returns how many."""
        done = 0
        while rows := await self.claim():
            for row in rows:
                try:
                    if row.kind == "status":
                        await self._on_status(row)
                    else:
                        await self._on_event(row)
                except Exception as exc:
                    log.exception("WhatsApp inbox item %s failed (attempt %s)", row.id, row.attempts)
                    async with self.app.db.unit_of_work() as session:
                        await inbox.failed(session, row, f"{type(exc).__name__}: {exc}")
                done += 1
        return done

    async def _finish(self, row_id: int) -> None:
        async with self.app.db.unit_of_work() as session:
            await inbox.finish(session, row_id, now=self.app.clock.now())

    async def _on_event(self, row: WhatsAppInbox) -> None:
        data = row.payload
        fields = dict(data["inbound"])
        fields["kind"] = EventKind(fields["kind"])
        fields["option_ids"] = tuple(fields.get("option_ids") or ())
        event = Inbound(**fields)
        event = await self._prepare(event, data.get("bsuid"), data.get("wa_id"))
        await self.app.conversations.handle(event)  # de-duplicated on the wamid, one unit of work
        await self._finish(row.id)

    async def _prepare(self, event: Inbound, bsuid: str | None, wa_id: str | None) -> Inbound:
        """Move a phone-keyed identity to its business-scoped id; map a typed number to an option."""
        now = self.app.clock.now()
        async with self.app.db.sessions() as session:  # reads only; a write transaction when there is work
            identity_id = await window.identity_id(session, event.user_id)
            legacy_id = None
            if identity_id is None and bsuid and wa_id and bsuid != wa_id:
                legacy_id = await window.identity_id(session, wa_id)
            if identity_id is not None and event.kind is EventKind.TEXT and event.text.isdigit():
                token = await held.numbered_choice(session, identity_id, int(event.text), now=now)
                if token is not None:
                    event = dataclasses.replace(event, kind=EventKind.CHOICE, token=token)
        if legacy_id is not None and bsuid and wa_id:
            await self._rekey(legacy_id, wa_id, bsuid)
        return event

    async def _rekey(self, identity_id: int, wa_id: str, bsuid: str) -> None:
        async with self.app.db.unit_of_work() as session:
            await window.rekey(session, identity_id, wa_id=wa_id, bsuid=bsuid)
        log.info("WhatsApp identity %s is now keyed on its business-scoped user id", identity_id)

    async def _on_status(self, row: WhatsAppInbox) -> None:
        """A message Meta accepted but could not deliver: the same policy as a refused send."""
        data = row.payload
        code = int(data.get("code") or 0)
        error = classify(WhatsAppError.from_dict({"code": code, "message": data.get("title") or ""}))
        now = self.app.clock.now()
        async with self.app.db.unit_of_work() as session:
            note = await inbox.not_delivered(
                session,
                wamid=data.get("wamid"),
                code=code,
                recipient=data.get("recipient"),
                reason=str(error),
                unreachable=isinstance(error, _Unreachable),
                now=now,
                tz=self.app.settings.tz,
            )
            await inbox.finish(session, row.id, now=now)
        if note:
            log.warning("%s", note)
        self.app.notify_outbox()

    async def purge(self) -> None:
        async with self.app.db.unit_of_work() as session:
            await inbox.purge(session, now=self.app.clock.now())

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Handle stored webhook items until ``stop``; wakes when a delivery is stored."""
        try:
            while not stop.is_set():
                try:
                    handled = await self.process_pending()
                    if time.monotonic() - self._last_purge > 3600:
                        self._last_purge = time.monotonic()
                        await self.purge()
                except Exception:
                    log.exception("WhatsApp inbox round failed; retrying")
                    handled = 0
                    await asyncio.sleep(idle)
                if handled:
                    continue
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=idle)
        finally:
            await self.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.session.aclose()


def setup_whatsapp(app: App) -> WhatsAppChannel:
    """Mount the webhook on ``app.web`` and register the sender; the caller runs ``channel.run``."""
    if app.web is None:
        raise RuntimeError("the WhatsApp channel needs the HTTP server (app.web) to mount its webhook")
    channel = WhatsAppChannel(app)
    channel.mount(app.web)
    app.add_sender(channel.sender)
    if app.settings.whatsapp_display_number:
        app.links.whatsapp_number = app.settings.whatsapp_display_number
    log.info("WhatsApp webhook at %s", WEBHOOK_PATH)
    return channel


async def start_whatsapp(app: App, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """`forumbot run`'s starter: the webhook, the sender and the inbox worker."""
    channel = setup_whatsapp(app)
    return [asyncio.create_task(channel.run(stop), name="whatsapp-inbox")]


# -- templates ----------------------------------------------------------------------------------------------


def load_templates() -> list[dict[str, Any]]:
    """The template definitions, exactly as Meta's template API takes them."""
    data = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


async def submit_templates(settings: Settings) -> list[tuple[dict[str, Any], dict[str, Any] | str]]:
    """POST each definition to /{WABA_ID}/message_templates; (definition, response or error) pairs."""
    session = make_session(settings)
    client = make_client(settings, session)
    results: list[tuple[dict[str, Any], dict[str, Any] | str]] = []
    try:
        for template in load_templates():
            try:
                response = await client.api.create_template(waba_id=settings.whatsapp_waba_id, template=template)
                results.append((template, response))
            except WhatsAppError as exc:
                results.append((template, f"{exc.code}: {exc.message}"))
    finally:
        await session.aclose()
    return results

"""Helpers for WhatsApp tests: the fake Graph API, an app wired to it, and our HTTP server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import uvicorn
from sqlalchemy import func, select

from bot.app import App
from bot.channels.whatsapp import WEBHOOK_PATH, WhatsAppChannel, load_templates, setup_whatsapp
from bot.config import Settings
from bot.delivery import LIMITS, ChannelLimits
from bot.services.forums import people
from bot.storage.models import ChannelIdentity, OutboxMessage, Person
from bot.storage.models_whatsapp import WhatsAppInbox
from bot.web import build_web
from tests.fakes.whatsapp import FakeUser, FakeWhatsApp, Sent


@pytest.fixture
def quick_whatsapp_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """No 6-second spacing between two messages to one person (the fake enforces the pair rate itself)."""
    monkeypatch.setitem(LIMITS, "whatsapp", ChannelLimits(per_second=1000.0, chat_interval=0.0, group_interval=0.0))


def wire(app: App, fake: FakeWhatsApp) -> WhatsAppChannel:
    """Point ``app`` at the fake (settings, templates) and set the channel up on a fresh FastAPI app."""
    fields = app.settings.model_dump(by_alias=True)
    fields.update(fake.settings())
    app.settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    fake.approve_templates(load_templates())
    app.web = build_web(app)
    return setup_whatsapp(app)


@dataclass
class InProcess:
    """Deliveries handed straight to the channel (no HTTP): the parsing and handling path only."""

    app: App
    fake: FakeWhatsApp
    channel: WhatsAppChannel

    async def deliver(self, payload: dict[str, object]) -> int:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        status = await self.channel.receive(body, self.fake.sign(body))
        await self.settle()
        return status

    async def say(self, user: FakeUser, text: str) -> list[Sent]:
        before = len(self.fake.messages_to(user))
        assert await self.deliver(self.fake.text(user, text)) == 200
        return self.fake.messages_to(user)[before:]

    async def press(self, user: FakeUser, title: str) -> list[Sent]:
        before = len(self.fake.messages_to(user))
        for sent in reversed(self.fake.messages_to(user)):
            for id_, button in sent.buttons:
                if button == title:
                    await self.deliver(self.fake.button_reply(user, id_, title, sent.wamid))
                    return self.fake.messages_to(user)[before:]
            for id_, row, description in sent.rows:
                if row == title:
                    await self.deliver(self.fake.list_reply(user, id_, title, description, sent.wamid))
                    return self.fake.messages_to(user)[before:]
            for text, payload in sent.quick_replies:
                if text == title:
                    await self.deliver(self.fake.quick_reply(user, payload, text, sent.wamid))
                    return self.fake.messages_to(user)[before:]
        raise AssertionError(f"no {title!r} on the messages to {user.name}")

    async def settle(self) -> None:
        for _ in range(5):
            handled = await self.channel.process_pending()
            sent = await self.app.delivery.drain()
            if not handled and not sent:
                return


async def join(app: App, user: FakeUser, code: str, *, name: str = "דנה לוי", form: str = "f") -> Person:
    """Register ``user`` straight in the database (not through the conversation)."""
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        identity = await people.get_or_create_identity(
            session, channel="whatsapp", external_id=user.key, chat_id=user.key, now=now, phone=user.wa_id
        )
        result = await people.join_with_invite(
            session, identity=identity, code=code, now=now, name=name, address_form=form, locale="he"
        )
        return result.person


async def identity_of(app: App, user: FakeUser) -> ChannelIdentity | None:
    async with app.db.sessions() as session:
        return await session.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == user.key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: App, fake: FakeWhatsApp) -> AsyncIterator[WhatsAppChannel]:
    """Our one HTTP server (uvicorn, the FastAPI app) with the WhatsApp webhook, its worker and delivery."""
    channel = wire(app, fake)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.web, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(server.serve()),
        asyncio.create_task(channel.run(stop, idle=0.05)),
        asyncio.create_task(app.delivery.run(stop, idle=0.05)),
    ]
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    fake.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    try:
        yield channel
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)


async def settled(app: App, timeout: float = 10.0) -> None:
    """Wait until every stored webhook item was handled and every queued message was sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with app.db.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(WhatsAppInbox).where(WhatsAppInbox.status != "done")
            )
            due = OutboxMessage.next_attempt_at <= app.clock.now()
            queued = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(["queued", "sending"]), due)
            )
        if not pending and not queued:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the bot did not settle")

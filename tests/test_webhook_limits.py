"""Webhooks bound what they read, over real HTTP (uvicorn on loopback, the fake Graph API behind it).

A body over FORUMBOT_HTTP_MAX_BODY_BYTES (1 MB by default) is refused with 413 on every endpoint
before it is read (declared, or streamed chunked); a signed body nested 100,000 levels deep gets a
400; a delivery mixing a good message with a malformed status handles the good one; a signed
delivery older than the replay window (by its timestamps) is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.telegram import TelegramChannel, mount_webhook
from bot.channels.whatsapp import WEBHOOK_PATH
from bot.storage.models_whatsapp import WhatsAppInbox
from tests.fakes.telegram import SECRET_HEADER, FakeTelegram
from tests.fakes.whatsapp import FakeWhatsApp
from tests.helpers import import_demo
from tests.wa_helpers import quick_whatsapp_delivery, serving, settled  # noqa: F401

pytestmark = pytest.mark.usefixtures("quick_whatsapp_delivery")

LIMIT = 1_048_576
TELEGRAM_PATH = "/telegram/webhook"
SECRET = "s3cret-for-the-test"


class Server:
    def __init__(self, app: App, fake: FakeWhatsApp) -> None:
        self.app, self.fake = app, fake
        split = urlsplit(fake.webhook_url)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.post(self.url(path), data=body, headers={"Content-Type": "application/json", **(headers or {})}) as r,
        ):
            return r.status

    async def signed(self, body: bytes) -> int:
        return await self.post(WEBHOOK_PATH, body, {"X-Hub-Signature-256": self.fake.sign(body)})

    async def raw(self, head: str, chunks: AsyncIterator[bytes] | None = None) -> tuple[int, int]:
        """Send ``head`` and then ``chunks`` over a plain socket until the server answers.

        Returns (the status, the bytes of body sent before the answer came)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sent = 0
        answer = asyncio.ensure_future(reader.readline())
        try:
            writer.write(head.encode("ascii"))
            await writer.drain()
            if chunks is not None:
                async for chunk in chunks:
                    if answer.done():
                        break
                    try:
                        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                    except (ConnectionError, OSError):
                        break
                    sent += len(chunk)
            status_line = await asyncio.wait_for(answer, timeout=20)
        finally:
            writer.close()
        return int(status_line.split()[1]), sent


@pytest.fixture
async def server(app: App) -> AsyncIterator[Server]:
    await import_demo(app)
    async with FakeWhatsApp() as fake, FakeTelegram() as telegram, serving(app, fake):
        bot = telegram.make_bot()
        mount_webhook(app, TelegramChannel(app, bot), SECRET)
        try:
            yield Server(app, fake)
        finally:
            await bot.session.close()


async def inbox_rows(app: App) -> int:
    async with app.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WhatsAppInbox)) or 0)


# -- size ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [WEBHOOK_PATH, TELEGRAM_PATH, "/healthz", "/metrics", "/nowhere"])
async def test_a_declared_body_over_the_limit_is_refused_unread(server: Server, path: str) -> None:
    # 200 MB announced, not a byte of it sent: the answer comes at once, so nothing was waited for.
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n"
    status, _ = await server.raw(head)
    assert status == 413
    assert await inbox_rows(server.app) == 0


async def test_a_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    async def two_hundred_megabytes() -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        for _ in range(200 * 16):
            yield chunk
            await asyncio.sleep(0)

    head = f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, sent = await server.raw(head, two_hundred_megabytes())
    print(f"\nchunked 200 MB POST: 413 after {sent / 1e6:.1f} MB sent (limit {LIMIT / 1e6:.1f} MB)")
    assert status == 413
    assert sent < 50 * LIMIT  # refused long before the end (what was sent sits in socket buffers)


async def test_bodies_within_the_limit_still_get_through(server: Server) -> None:
    user = server.fake.user("Dana")
    payload = server.fake.text(user, "/help")
    payload["padding"] = "x" * (LIMIT - 2000)  # just under the limit, signed
    body = json.dumps(payload).encode()
    assert len(body) <= LIMIT
    assert await server.signed(body) == 200
    await settled(server.app)
    assert server.fake.messages_to(user)  # answered
    assert await server.post(WEBHOOK_PATH, b"x" * (LIMIT + 1)) == 413  # one byte more: refused


# -- shape -------------------------------------------------------------------------------------------


async def test_a_signed_body_nested_100000_deep_is_a_400(server: Server) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert await server.signed(deep) == 400
    nested = b'{"object": "whatsapp_business_account", "entry": ' + deep + b"}"
    assert await server.signed(nested) == 400
    assert (
        await server.post(TELEGRAM_PATH, b'{"update_id": 1, "message": ' + deep + b"}", {SECRET_HEADER: SECRET}) == 400
    )
    assert await inbox_rows(server.app) == 0


async def test_a_malformed_status_costs_only_itself(server: Server) -> None:
    user = server.fake.user("Dana")
    message = server.fake._message(user, "text", {"text": {"body": "/help"}})
    bad_statuses = [
        {"id": "wamid.X", "status": "failed", "timestamp": message["timestamp"], "errors": "boom"},
        {"id": "wamid.Y", "status": "failed", "errors": [{"code": "not a number"}]},
        "not an object",
    ]
    payload = server.fake.delivery(messages=[(user, message)], statuses=bad_statuses)  # type: ignore[list-item]
    assert await server.signed(json.dumps(payload).encode()) == 200
    await settled(server.app)
    answers = server.fake.messages_to(user)
    assert len(answers) == 1 and "/start" in answers[0].text  # the good message was handled, once


# -- replay ------------------------------------------------------------------------------------------


async def test_a_signed_delivery_older_than_the_replay_window_is_refused(server: Server) -> None:
    user = server.fake.user("Dana")
    old = server.fake._message(user, "text", {"text": {"body": "/help"}})
    old["timestamp"] = str(int((server.app.clock.now() - timedelta(days=15)).timestamp()))
    assert await server.signed(json.dumps(server.fake.delivery(messages=[(user, old)])).encode()) == 400
    assert await inbox_rows(server.app) == 0
    # In a delivery with a fresh message, the stale one is left out and the fresh one handled.
    fresh = server.fake._message(user, "text", {"text": {"body": "שלום"}})
    fresh["timestamp"] = str(int(server.app.clock.now().timestamp()))
    mixed = server.fake.delivery(messages=[(user, old), (user, fresh)])
    assert await server.signed(json.dumps(mixed).encode()) == 200
    await settled(server.app)
    assert await inbox_rows(server.app) == 1
    assert len(server.fake.messages_to(user)) == 1

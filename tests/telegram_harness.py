"""`forumbot run` in-process against the fake Bot API, for end-to-end tests.

With ``whatsapp=FakeWhatsApp()`` the same process also serves WhatsApp (both channels at once, as
`forumbot run` does when both are configured): the fake Graph API's settings are added, its
templates approved, and its deliveries POSTed to the one HTTP server's webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.app import App
from bot.channels.whatsapp import WEBHOOK_PATH, load_templates
from bot.clock import SystemClock
from bot.runner import run
from bot.storage.db import Database
from bot.storage.migrate import upgrade_async
from tests.conftest import make_settings
from tests.fakes.telegram import FakeTelegram, FakeUser, SentMessage
from tests.fakes.whatsapp import FakeWhatsApp
from tests.helpers import import_demo, make_invite
from tests.wa_helpers import free_port


@dataclass
class RunningBot:
    fake: FakeTelegram
    app: App  # a second App on the same database, for set-up and for reading results
    stop: asyncio.Event
    task: asyncio.Task[int]
    whatsapp: FakeWhatsApp | None = None

    async def invite(self, forum: str, role: str, uses: int = 1) -> str:
        return await make_invite(self.app, forum, role, uses=uses)

    async def says(self, user: FakeUser, text: str, *, expect: str | None = None, timeout: float = 20) -> SentMessage:
        """The user sends ``text``; wait for the bot's next message to them (containing ``expect``)."""
        before = len(self.fake.sent_messages(user.id))
        self.fake.send_text(user, text)
        return await self.next_message(user, before, expect, timeout)

    async def presses(
        self, user: FakeUser, label: str, *, expect: str | None = None, timeout: float = 20
    ) -> SentMessage:
        """The user presses the button labelled ``label`` on the latest bot message that has it."""
        for message in reversed(self.fake.sent_messages(user.id)):
            for button in message.buttons:
                if button["text"] == label:
                    before = len(self.fake.sent_messages(user.id))
                    edits = len(message.edits)
                    self.fake.press(user, message, button["callback_data"])
                    return await self.next_message(user, before, expect, timeout, edited=(message, edits))
        raise AssertionError(f"no button {label!r} in the chat with {user.first_name}")

    async def next_message(
        self,
        user: FakeUser,
        before: int,
        expect: str | None,
        timeout: float,
        edited: tuple[SentMessage, int] | None = None,
    ) -> SentMessage:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            new = self.fake.sent_messages(user.id)[before:]
            if edited is not None and len(edited[0].edits) > edited[1]:
                new = [*new, edited[0]]
            for message in new:
                text = message.text or message.caption or (message.poll or {}).get("question") or ""
                if expect is None or expect in text.replace("\u2068", "").replace("\u2069", ""):
                    return message
            await asyncio.sleep(0.02)
        log = self.fake.format_chat_log(user.id)
        raise AssertionError(f"no message containing {expect!r} for {user.first_name}; chat:\n{log}")


async def _http_up(url: str, timeout: float = 15) -> None:
    """The HTTP server starts after the channels: wait until it answers (WhatsApp posts to it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url):
                    return
            except aiohttp.ClientConnectionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)


@asynccontextmanager
async def running_bot(
    tmp_path: Path, fake: FakeTelegram, *, whatsapp: FakeWhatsApp | None = None, **env: object
) -> AsyncIterator[RunningBot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await upgrade_async(url)
    port = env.pop("FORUMBOT_HTTP_PORT", 0)
    if whatsapp is not None:
        port = port or free_port()  # the fake must know where to POST
        env = {**whatsapp.settings(), **env}
        whatsapp.approve_templates(load_templates())
        whatsapp.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = make_settings(
        url,
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_SERVER=fake.base_url,
        FORUMBOT_HTTP_PORT=port,
        TELEGRAM_POLLING_TIMEOUT=1,
        TELEGRAM_REQUEST_TIMEOUT=5,
        **env,
    )
    setup = App(settings=settings, db=Database(url), clock=SystemClock())
    await import_demo(setup)
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop=stop, install_signals=False))
    method = "setWebhook" if settings.telegram_webhook_url else "getUpdates"
    try:
        await fake.wait_for(lambda r: True, method=method, timeout=30)
        if whatsapp is not None:
            await _http_up(f"http://127.0.0.1:{port}/healthz")
        yield RunningBot(fake, setup, stop, task, whatsapp)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        finally:
            await setup.close()

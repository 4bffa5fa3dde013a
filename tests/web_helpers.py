"""Shared set-up of the web page tests: a school gap escalated to its authority, people to sign in."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import App
from bot.storage.models import ChannelIdentity, Person
from bot.web import build_web
from bot.webapp.initdata import sign
from tests.helpers import ConsoleUser, plain
from tests.test_escalation import AUTHORITY, transport_blocker_escalated, tree

BOT_TOKEN = "123456:TEST-web-token"
TG_RINA = "7001"


@dataclass
class World:
    ids: dict[str, int]
    issue_id: int
    gap_id: int


async def world(app: App) -> World:
    """A parent's gap raised in a school and forwarded by its principal to the authority."""
    app.settings.telegram_bot_token = SecretStr(BOT_TOKEN)
    ids = await tree(app)
    now = app.clock.now()
    issue_id, done = await transport_blocker_escalated(app, ids, now=now)
    assert done.target.code == AUTHORITY
    async with app.db.unit_of_work() as session:
        # Rina also uses Telegram (the Mini App signs her in through this identity).
        session.add(ChannelIdentity(channel="telegram", external_id=TG_RINA, chat_id=TG_RINA, person_id=ids["rina"],
                                    status="active", created_at=now))
    return World(ids, issue_id, done.gap.id)


def client(app: App, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_web(app)), base_url=base_url)


async def link_from_chat(app: App, name: str) -> str:
    """The path of the sign-in link the bot sends on /web."""
    text = await ConsoleUser(app, name).text_of("/web")
    found = re.search(r"https?://\S+(/web/link/[\w-]+)", plain(text))
    assert found, text
    return found.group(1)


def init_data(user_id: str, *, auth_date: float | None = None, token: str = BOT_TOKEN, language: str = "he") -> str:
    user = json.dumps({"id": int(user_id), "first_name": "Rina", "language_code": language}, separators=(",", ":"))
    return sign({"auth_date": str(int(auth_date if auth_date is not None else time.time())), "query_id": "AAH",
                 "user": user}, token)


async def person_id(app: App, display: str) -> int:
    async with app.db.sessions() as session:
        found = await session.scalar(select(Person.id).where(Person.display_name == display))
        assert found is not None
        return found

"""The web page from Telegram, end to end through the fake Bot API and `forumbot run`'s own HTTP
server: a lead's menu button opens the Mini App, the digest carries a button to the board, /web
sends a one-time link, and the Mini App's initData (signed with the bot's token) signs in."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from bot.services.escalation import forwarding as escalation
from bot.services.forums import invites
from bot.storage.models import Person
from bot.storage.models_escalation import EscalatedGap
from bot.webapp.initdata import sign
from scheduler.jobs import run_due
from tests.fakes.telegram import FakeTelegram
from tests.helpers import make_invite, register
from tests.telegram_harness import running_bot
from tests.test_escalation import raise_
from tests.test_telegram_e2e import walk_registration
from tests.wa_helpers import free_port

pytestmark = pytest.mark.slow

PUBLIC = "https://forums.example.org"
SCHOOL, DISTRICT = "S-DEMO-210101", "D-HAIFA"


async def test_a_lead_opens_the_board_from_telegram(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegram() as fake, running_bot(tmp_path, fake, FORUMBOT_PUBLIC_URL=PUBLIC,
                                                   FORUMBOT_HTTP_PORT=port) as bot:
        await walk_registration(bot, 7003, "משה פרץ", await bot.invite(DISTRICT, "district_manager"), form="לשון זכר")
        moshe = fake.user(7003, "משה פרץ")
        reply = await bot.says(moshe, "/web", expect="קישור הכניסה")
        link = next(w for w in (reply.text or "").split() if w.startswith(PUBLIC))
        for _ in range(100):  # a lead's chat gets the Mini App as its menu button
            if fake.menu_buttons.get(7003):
                break
            await asyncio.sleep(0.05)
        assert fake.menu_buttons[7003]["type"] == "web_app"
        assert fake.menu_buttons[7003]["web_app"]["url"] == f"{PUBLIC}/web/tma"

        local = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=local) as http:
            opened = await http.get(urlsplit(link).path)
            assert opened.status_code == 303 and "secure" in opened.headers["set-cookie"].lower()
            assert (await http.get(urlsplit(link).path)).status_code == 401  # once only

        # A gap reaches the district; its digest has a button that opens the board as a Mini App.
        dana = await register(bot.app, "dana", await make_invite(bot.app, SCHOOL, "principal"))
        assert dana.received
        now = datetime.now(UTC)
        async with bot.app.db.sessions() as session:
            dana_id = await session.scalar(select(Person.id).where(Person.display_name == "דנה לוי"))
        assert dana_id is not None
        issue_id = await raise_(bot.app, dana_id, SCHOOL, "אין הסעה לשכונה החדשה", now=now, category="transport")
        async with bot.app.db.unit_of_work() as session:
            person = await session.get(Person, dana_id)
            done = await escalation.escalate_issue(session, issue_id=issue_id, person=person, now=now)
            await escalation.auto_forward_gap(session, done.gap.id, now)
            district = await invites.forum_by_code(session, DISTRICT)
            local_now = now.astimezone(bot.app.settings.tz)
            district.settings = {**district.settings, "digest": {"weekday": local_now.weekday(), "hour": 0}}
            await session.execute(update(EscalatedGap).where(EscalatedGap.forum_id == district.id)
                                  .values(arrived_at=now - timedelta(days=1)))
            district_id = district.id
        before = len(fake.sent_messages(moshe.id))
        await run_due(bot.app, now)
        bot.app.notify_outbox()
        digest = await bot.next_message(moshe, before, "ריכוז הפערים", timeout=15)
        web_buttons = [b for b in digest.buttons if "web_app" in b]
        assert web_buttons and web_buttons[0]["text"] == "פתיחת הלוח"
        url = web_buttons[0]["web_app"]["url"]
        assert url == f"{PUBLIC}/web/tma?next=/web/board/{district_id}"

        # Telegram opens it with initData signed by the bot's token: the server signs him in.
        user = json.dumps({"id": 7003, "first_name": "משה", "language_code": "he"}, separators=(",", ":"))
        data = sign({"auth_date": str(int(time.time())), "query_id": "AAE", "user": user}, fake.token)
        nxt = parse_qs(urlsplit(url).query)["next"][0]
        async with httpx.AsyncClient(base_url=local) as http:
            login = await http.post("/web/login/tma", data={"initData": data, "next": nxt})
            assert login.status_code == 200 and login.json()["next"] == f"/web/board/{district_id}"
            board = await http.get(nxt, headers={"Authorization": f"tma {data}"})
            assert board.status_code == 200 and "אין הסעה לשכונה החדשה" in board.text
            evil = await http.post("/web/login/tma", data={"initData": data, "next": "//evil.example/"})
            assert evil.json()["next"] == "/web"
            forged = sign({"auth_date": str(int(time.time())), "user": user}, "1:not-the-bot")
            assert (await http.post("/web/login/tma", data={"initData": forged})).status_code == 401

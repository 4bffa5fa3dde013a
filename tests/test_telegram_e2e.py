"""End to end: `forumbot run` (in-process) against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.storage.models import GroupChat, OutboxMessage
from tests.conftest import DEMO_ORG
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.telegram_harness import RunningBot, running_bot

pytestmark = pytest.mark.slow

SCHOOL = "S-DEMO-210101"


async def walk_registration(bot: RunningBot, user_id: int, name: str, code: str, *, language: str = "he",
                            form: str = "לשון נקבה") -> str:
    user = bot.fake.user(user_id, name, language_code=language)
    await bot.says(user, f"/start {code}", expect="Choose a language")
    label = {"he": "עברית", "ar": "العربية", "en": "English"}[language]
    agree = {"he": "אני מסכים/ה", "ar": "أوافق", "en": "I agree"}[language]
    await bot.presses(user, label, expect={"he": "מסכימים?", "ar": "هل توافقون؟", "en": "Do you agree?"}[language])
    await bot.presses(user, agree)
    await bot.says(user, name)
    welcome = await bot.presses(user, form, expect="!")
    assert welcome.text is not None
    return welcome.text


async def draft_transport_blocker(bot: RunningBot, parent: FakeUser) -> None:
    """A father's /issue walked up to "send it to the forum?": a transport blocker, showing only his role."""
    await bot.says(parent, "/issue", expect="מה תרצה להעלות?")
    await bot.presses(parent, "חסם", expect="כותרת קצרה")
    await bot.says(parent, "אין הסעה לשכונה החדשה", expect="תאר אותו")
    await bot.says(parent, "התלמידים מגיעים באיחור כל בוקר מאז ספטמבר.", expect="באיזה תחום")
    await bot.presses(parent, "הסעות", expect="וגם קבוצת הצ׳אט של הפורום")
    await bot.presses(parent, "רק התפקיד שלי (הורה)", expect="לשלוח לפורום?")


async def test_registration_walk_in_hebrew_and_arabic(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        # The command menu is in Hebrew by default, and translated per language.
        menu = fake.commands({"type": "all_private_chats"})
        assert {"command": "forums", "description": "הפורומים והתפקידים שלי"} in menu
        assert {"command": "forums", "description": "My forums and roles"} in fake.commands(
            {"type": "all_private_chats"}, "en")

        code = await bot.invite(SCHOOL, "principal")
        welcome = await walk_registration(bot, 1001, "דנה לוי", code)
        assert welcome.replace("\u2068", "").replace("\u2069", "") == (
            "ברוכה הבאה, דנה לוי! נרשמת בתפקיד מנהלת בית הספר בפורום השותפים של בית ספר יסודי אלונים (הדגמה).\n"
            "שלחי \u200e/help\u200f כדי לראות מה אני יודע לעשות."
        )
        dana = bot.fake.user(1001, "דנה לוי")
        forums = await bot.says(dana, "/forums", expect="הפורומים שלך")
        assert "את מובילה את הפורום" in (forums.text or "")
        help_ = await bot.says(dana, "/help", expect="מה אני יודע לעשות")
        assert "/invite" in (help_.text or "")
        # A lead gets a chat-scoped menu that includes the lead-only commands.
        assert any(c["command"] == "invite" for c in fake.commands({"type": "chat", "chat_id": 1001}))

        # The same walk in Arabic, for a second person in a second forum.
        code_ar = await bot.invite("S-DEMO-400102", "counsellor")
        welcome_ar = await walk_registration(bot, 1002, "رنا", code_ar, language="ar", form="صيغة المؤنث")
        assert welcome_ar.startswith("\u200fأهلًا وسهلًا") or welcome_ar.startswith("أهلًا وسهلًا")
        assert "مستشارة المدرسة" in welcome_ar
        rana = bot.fake.user(1002, "رنا", language_code="ar")
        assert "منتدى الشركاء في" in ((await bot.says(rana, "/forums", expect="منتدياتكِ")).text or "")

        # A stale button: the language keyboard of the finished registration.
        stale = await bot.presses(dana, "עברית", expect="כבר לא פעיל")
        assert stale.text == "הכפתור הזה כבר לא פעיל."

        # Someone not registered.
        stranger = fake.user(1003, "Stranger", language_code="en")
        reply = await bot.says(stranger, "hello", expect="invite")
        assert (reply.text or "").startswith("Hello! forumbot serves the partnership forums")

        # Nothing was sent twice: every outbox row was sent exactly once.
        for _ in range(100):  # the last send is recorded by the fake a moment before the row is marked
            async with bot.app.db.sessions() as session:
                statuses = (await session.scalars(select(OutboxMessage.status))).all()
            if set(statuses) == {"sent"}:
                break
            await asyncio.sleep(0.05)
        assert set(statuses) == {"sent"}
        sent = [r for r in fake.requests if r.ok and r.method in ("sendMessage", "editMessageText")]
        assert len(sent) == len(statuses)


async def test_429_is_honoured_and_5xx_retried_without_loss_or_doubles(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        user = fake.user(2001, "Avi")
        fake.fail_next("sendMessage", "429", retry_after=2)
        await bot.says(user, "שלום", expect="צריך הזמנה", timeout=15)
        failed = [r for r in fake.requests if r.method == "sendMessage" and r.status == 429]
        ok = [r for r in fake.requests if r.method == "sendMessage" and r.ok]
        assert len(failed) == 1 and len(ok) == 1
        assert ok[0].at - failed[0].at >= 2.0

        fake.fail_next("sendMessage", "500", count=2)
        await bot.says(user, "/help", expect="מה אני יודע לעשות", timeout=15)
        assert len([r for r in fake.requests if r.method == "sendMessage" and r.status == 500]) == 2
        texts = [m.text for m in fake.sent_messages(user.id)]
        assert len(texts) == 2 and len(set(texts)) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_checks_the_secret(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with FakeTelegram() as fake, running_bot(
        tmp_path, fake, TELEGRAM_WEBHOOK_URL=url, TELEGRAM_WEBHOOK_SECRET="s3cret-token", FORUMBOT_HTTP_PORT=port
    ) as bot:
        [hook] = fake.requests_for("setWebhook", ok_only=True)
        assert hook.params["url"] == url and hook.params["secret_token"] == "s3cret-token"
        user = fake.user(3001, "Noa")
        await bot.says(user, "/help", expect="מה אני יודע לעשות")  # delivered by the fake's webhook POST
        async with aiohttp.ClientSession() as http:
            forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": {"id": 3001, "type": "private"},
                                                    "from": {"id": 3001, "is_bot": False, "first_name": "x"},
                                                    "text": "/forums"}}
            async with http.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 401
            async with http.post(url, json=forged) as r:
                assert r.status == 401
        await asyncio.sleep(0.5)
        assert len(fake.sent_messages(user.id)) == 1


async def test_group_is_linked_by_its_lead(tmp_path: Path) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, fake) as bot:
        code = await bot.invite(SCHOOL, "principal")
        await walk_registration(bot, 4001, "מירב", code)
        lead = fake.user(4001, "מירב")
        group = fake.group(-100500, "פורום אלונים")
        fake.add_bot_to_group(group, lead)
        await fake.wait_for(lambda r: r.params.get("chat_id") in (-100500, "-100500"), method="sendMessage")
        reply = await bot.says(lead, "/group", expect="/link")
        link_code = (reply.text or "").split("/link ")[1].split()[0].strip("\u2069")
        before = len(fake.sent_messages(-100500))
        fake.send_text(lead, f"/link {link_code}", chat=group)
        await fake.wait_for(lambda r: "מקושרת" in str(r.params.get("text", "")), method="sendMessage")
        assert len(fake.sent_messages(-100500)) == before + 1
        async with bot.app.db.sessions() as session:
            linked = await session.scalar(select(GroupChat).where(GroupChat.chat_id == "-100500"))
        assert linked is not None and linked.forum_id is not None
        # A stranger's /link in the group does nothing but explain.
        other = fake.user(4002, "Eli")
        fake.send_text(other, "/link nonsense", chat=group)
        await fake.wait_for(lambda r: "לא תקף" in str(r.params.get("text", "")), method="sendMessage")


def test_invite_prints_the_real_deep_link(tmp_path: Path) -> None:
    async def scenario() -> subprocess.CompletedProcess[str]:
        async with FakeTelegram(bot_username="partners_forum_bot") as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
            env.update({"FORUMBOT_DATA_DIR": str(tmp_path), "TELEGRAM_BOT_TOKEN": fake.token,
                        "TELEGRAM_API_SERVER": fake.base_url})
            run = lambda *a: asyncio.to_thread(  # noqa: E731
                subprocess.run, [sys.executable, "-m", "bot", *a], capture_output=True, text=True, env=env,
                cwd=tmp_path, timeout=60)
            await run("org", "import", str(DEMO_ORG))
            return await run("invite", "--forum", SCHOOL, "--role", "parent")

    result = asyncio.run(scenario())
    assert result.returncode == 0, result.stderr
    code = result.stdout.split("code: ")[1].split()[0]
    assert f"telegram: https://t.me/partners_forum_bot?start={code}" in result.stdout

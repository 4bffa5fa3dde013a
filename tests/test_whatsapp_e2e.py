"""End to end over real HTTP: the fake Graph API POSTs signed deliveries to our uvicorn server.

The bot runs as in `forumbot run`: the FastAPI app with the WhatsApp webhook, the inbox worker and
the delivery loop, on loopback. What the fake received is what a WhatsApp user would have seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.config import Settings
from bot.services.delivery import notify
from bot.storage.models import ChannelIdentity, Membership, ProcessedUpdate
from bot.storage.models_whatsapp import HeldMessage, WhatsAppInbox
from tests.conftest import make_settings
from tests.fakes.whatsapp import FakeUser, FakeWhatsApp, Sent
from tests.helpers import import_demo, make_invite, plain
from tests.wa_helpers import free_port, identity_of, quick_whatsapp_delivery, serving, settled  # noqa: F401

SCHOOL = "S-DEMO-210101"
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_whatsapp_delivery")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as server:
        yield server


async def reply_to(fake: FakeWhatsApp, user: FakeUser, after: int, contains: str) -> Sent:
    return await fake.wait_for(
        lambda m: m.to is user and fake.messages_to(user).index(m) >= after and contains in plain(m.text)
    )


async def register_on_whatsapp(app: App, fake: FakeWhatsApp, user: FakeUser, code: str) -> None:
    """Open the wa.me link (its text is the code), then answer each question by tapping."""
    seen = len(fake.messages_to(user))
    assert await fake.send_text(user, code) == 200
    language = await reply_to(fake, user, seen, "בחרו שפה")
    assert [t for _, t in language.buttons] == ["עברית", "العربية", "English"]
    assert await fake.press(user, "עברית") == 200
    consent = await reply_to(fake, user, seen + 1, "מסכימים?")
    assert "/mydata" in plain(consent.text) and "/forget" in plain(consent.text)
    await fake.press(user, "אני מסכים/ה")
    await reply_to(fake, user, seen + 2, "באיזה שם")
    await fake.send_text(user, "דנה לוי")
    form = await reply_to(fake, user, seen + 3, "איך לפנות")
    assert [t for _, t in form.buttons] == ["לשון זכר", "לשון נקבה", "לשון רבים"]
    await fake.press(user, "לשון נקבה")
    await reply_to(fake, user, seen + 4, "ברוכה הבאה, דנה לוי!")


async def invited_principal(app: App, fake: FakeWhatsApp) -> tuple[FakeUser, str]:
    """Dana on WhatsApp, and an invitation (its code) to be the demo school's principal that she has not used yet."""
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "principal")
    return fake.user("Dana"), code


async def test_registration_by_invite_on_whatsapp_in_hebrew(app: App, fake: FakeWhatsApp) -> None:
    dana, code = await invited_principal(app, fake)
    async with serving(app, fake):
        await register_on_whatsapp(app, fake, dana, code)
        assert await fake.send_text(dana, "/forums") == 200
        forums = await reply_to(fake, dana, 5, "הפורומים שלך")
        assert "מנהלת בית הספר בפורום השותפים של בית ספר יסודי אלונים" in plain(forums.text)
        await settled(app)
    identity = await identity_of(app, dana)
    assert identity is not None and identity.external_id == dana.bsuid and identity.phone == dana.wa_id
    async with app.db.sessions() as session:
        roles = (await session.scalars(select(Membership.role))).all()
    assert roles == ["principal"]
    assert all(status == 200 for _, status in fake.webhook_posts)


async def test_a_notice_outside_the_window_goes_as_a_template_and_opens_by_its_quick_reply(
    app: App, fake: FakeWhatsApp, clock: FixedClock
) -> None:
    dana, code = await invited_principal(app, fake)
    async with serving(app, fake):
        await register_on_whatsapp(app, fake, dana, code)
        await settled(app)
        clock.advance(timedelta(hours=30))  # she has not written for more than a day
        fake.clock.advance(30 * 3600)
        digest = "סיכום שבועי של פורום בית הספר\n• הוחלט על יום הורים ב־3.12\n• נפתח צורך חדש: הסעות"
        identity = await identity_of(app, dana)
        assert identity is not None and identity.person_id is not None
        async with app.db.unit_of_work() as session:
            for r in await notify.recipients(session, [identity.person_id], now=clock.now()):
                await r.send(r.message(digest), dedup_key="digest:2026-W49")
        app.notify_outbox()
        template = await fake.wait_for(lambda m: m.to is dana and m.type == "template")
        assert template.template["name"] == "forumbot_update" and template.template["language"]["code"] == "he"
        assert template.text.startswith("שלום דנה לוי, יש עדכון חדש מפורום השותפים: סיכום שבועי של פורום בית הספר")
        seen = len(fake.messages_to(dana))
        assert await fake.press(dana, "להצגת ההודעה") == 200
        full = await reply_to(fake, dana, seen, "הוחלט על יום הורים")
        assert full.type == "text" and full.text == digest
        await settled(app)
    async with app.db.sessions() as session:
        released = (await session.scalars(select(HeldMessage.released_at))).all()
    assert len(released) == 1 and released[0] is not None
    assert [m.type for m in fake.messages_to(dana)].count("template") == 1


async def test_a_forged_signature_is_rejected_and_nothing_is_processed(app: App, fake: FakeWhatsApp) -> None:
    dana, code = await invited_principal(app, fake)
    async with serving(app, fake):
        payload = fake.text(dana, code)
        forged = fake.sign(b'{"object":"whatsapp_business_account"}')  # a real signature of another body
        assert await fake.post(payload, signature=forged) == 403
        assert await fake.post(payload, signature=fake.sign(b"x", secret="guessed")) == 403
        assert await fake.post(payload, signature=None) == 401
        await asyncio.sleep(0.2)
        await settled(app)
    assert fake.sent == []
    async with app.db.sessions() as session:
        for table in (WhatsAppInbox, ProcessedUpdate, ChannelIdentity):
            assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_a_redelivered_message_is_processed_once(app: App, fake: FakeWhatsApp) -> None:
    dana, code = await invited_principal(app, fake)
    async with serving(app, fake):
        payload = fake.text(dana, code)
        statuses = await asyncio.gather(*(fake.post(payload) for _ in range(3)))  # Meta retries, even in parallel
        assert list(statuses) == [200, 200, 200]
        await reply_to(fake, dana, 0, "בחרו שפה")
        await settled(app)
        assert await fake.post(payload) == 200  # and once more, later
        await asyncio.sleep(0.2)
        await settled(app)
    assert len(fake.messages_to(dana)) == 1
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WhatsAppInbox)) == 1
        keys = (await session.scalars(select(ProcessedUpdate.update_key))).all()
    assert keys == [wamid]


async def test_the_webhook_handshake(app: App, fake: FakeWhatsApp) -> None:
    async with serving(app, fake):
        assert fake.webhook_url is not None
        async with aiohttp.ClientSession() as http:
            ok = {"hub.mode": "subscribe", "hub.verify_token": "fake-verify-token", "hub.challenge": "1158201444"}
            async with http.get(fake.webhook_url, params=ok) as response:
                assert response.status == 200 and await response.text() == "1158201444"
            async with http.get(fake.webhook_url, params={**ok, "hub.verify_token": "nope"}) as response:
                assert response.status == 403


async def test_forumbot_run_serves_whatsapp_from_its_one_http_server(
    sqlite_url: str, tmp_path: object, fake: FakeWhatsApp
) -> None:
    """`bot.runner.run` itself: starters, the webhook on the one HTTP server, delivery."""
    from bot.runner import run

    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        **{
            **make_settings(sqlite_url, tmp_path).model_dump(by_alias=True),  # type: ignore[arg-type]
            **fake.settings(),
            "FORUMBOT_HTTP_PORT": port,
        },
        _env_file=None,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop=stop))
    fake.webhook_url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    dana = fake.user("Dana")
    try:
        for _ in range(300):
            try:
                status = await fake.send_text(dana, "/start")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        assert status == 200
        hello = await fake.wait_for(lambda m: m.to is dana)
        assert "כדי להצטרף צריך הזמנה" in plain(hello.text)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=15) == 0

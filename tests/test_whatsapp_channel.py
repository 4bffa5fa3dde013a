"""The WhatsApp adapter against the fake Graph API: parsing, rendering, the window, errors.

Deliveries are handed to the channel in-process here; tests/test_whatsapp_e2e.py goes over HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.whatsapp import WhatsAppSender
from bot.clock import FixedClock
from bot.core.messages import FileSpec, Outbound, OutKind, PermanentError, PollSpec, RetryAfter
from bot.services.delivery import notify
from bot.services.whatsapp import window
from bot.storage.models import ChannelIdentity, OutboxMessage, ProcessedUpdate
from bot.storage.models_whatsapp import HeldMessage, WhatsAppInbox
from handlers.core import SetLanguage
from tests.fakes.whatsapp import FakeUser, FakeWhatsApp
from tests.helpers import console_sender, import_demo, make_invite, plain, register
from tests.wa_helpers import InProcess, identity_of, join, quick_whatsapp_delivery, wire  # noqa: F401

SCHOOL = "S-DEMO-210101"
pytestmark = pytest.mark.usefixtures("quick_whatsapp_delivery")


@pytest.fixture
async def wa(app: App) -> AsyncIterator[InProcess]:
    async with FakeWhatsApp() as fake:
        channel = wire(app, fake)
        yield InProcess(app, fake, channel)
        await channel.close()


async def member(wa: InProcess, name: str = "Dana", role: str = "principal", **kw: object) -> FakeUser:
    """A registered person on WhatsApp who wrote to the bot a moment ago (window open)."""
    user = wa.fake.user(name, **kw)  # type: ignore[arg-type]
    wa.fake.text(user, "hi")  # the fake's window opens
    await join(wa.app, user, await make_invite(wa.app, SCHOOL, role))
    return user


async def queue(wa: InProcess, user: FakeUser, build: object) -> None:
    """Queue a notice for ``user`` built by ``build(recipient)`` and deliver everything."""
    identity = await identity_of(wa.app, user)
    assert identity is not None and identity.person_id is not None
    async with wa.app.db.unit_of_work() as session:
        for r in await notify.recipients(session, [identity.person_id], now=wa.app.clock.now()):
            await r.send(build(r))  # type: ignore[operator]
    await wa.settle()


# -- inbound --------------------------------------------------------------------------------------------


async def test_a_batched_delivery_with_messages_and_statuses(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana, noa = wa.fake.user("Dana"), wa.fake.user("Noa", phone=False)
    first = wa.fake._message(dana, "text", {"text": {"body": "/help"}})
    second = wa.fake._message(noa, "text", {"text": {"body": "שלום"}})
    image = wa.fake._message(dana, "image", {"image": {"id": "1", "mime_type": "image/jpeg"}})
    payload = wa.fake.delivery(messages=[(dana, first), (noa, second), (dana, image)])
    assert await wa.deliver(payload) == 200
    assert "/start" in wa.fake.messages_to(dana)[0].text  # the help text
    assert "הזמנה" in wa.fake.messages_to(noa)[0].text  # not registered yet
    assert len(wa.fake.messages_to(dana)) == 1  # the image was ignored
    noa_identity = await identity_of(app, noa)
    assert noa_identity is not None and noa_identity.phone is None and noa_identity.external_id == noa.bsuid
    dana_identity = await identity_of(app, dana)
    assert dana_identity is not None and dana_identity.external_id == dana.bsuid


async def test_deliveries_for_another_number_are_ignored(app: App, wa: InProcess) -> None:
    dana = wa.fake.user("Dana")
    payload = wa.fake.text(dana, "/help")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert await wa.deliver(payload) == 200
    assert wa.fake.sent == [] and await identity_of(app, dana) is None


async def test_a_phone_keyed_identity_moves_to_its_business_scoped_id(app: App, wa: InProcess) -> None:
    await import_demo(app)
    legacy = wa.fake.user("Eli", bsuid="")  # deliveries from before business-scoped ids: wa_id only
    await register_through_whatsapp(wa, legacy)
    identity = await identity_of(app, legacy)
    assert identity is not None and identity.external_id == legacy.wa_id and identity.person_id
    legacy.bsuid = "IL.5550001112223"
    wa.fake.users[legacy.bsuid] = legacy
    replies = await wa.say(legacy, "/forums")
    assert "הפורומים שלך" in replies[0].text
    moved = await identity_of(app, legacy)
    assert moved is not None and moved.id == identity.id and moved.chat_id == legacy.bsuid


async def test_a_menu_queued_for_the_phone_number_before_the_move_still_pages(app: App, wa: InProcess) -> None:
    await import_demo(app)
    legacy = wa.fake.user("Eli", bsuid="")
    await register_through_whatsapp(wa, legacy)
    identity = await identity_of(app, legacy)
    assert identity is not None and identity.chat_id == legacy.wa_id and identity.person_id is not None
    labels = [f"אפשרות מספר {i}" for i in range(1, 14)]
    async with app.db.unit_of_work() as session:  # queued, not yet sent, for the phone-keyed chat
        for r in await notify.recipients(session, [identity.person_id], now=app.clock.now()):
            await r.send(r.message("בחרו:", [[r.button(lab, SetLanguage("en"))] for lab in labels]))
    legacy.bsuid = "IL.5550001112224"
    wa.fake.users[legacy.bsuid] = legacy
    await wa.say(legacy, "/forums")
    page = next(m for m in reversed(wa.fake.messages_to(legacy)) if m.rows)
    assert len(page.rows) == 10 and page.rows[-1][1] == "עוד…"  # the sender still knew who it was for
    rest = await wa.press(legacy, "עוד…")
    assert [t for _, t, _ in rest[0].rows] == labels[9:]


async def register_through_whatsapp(wa: InProcess, user: FakeUser) -> None:
    code = await make_invite(wa.app, SCHOOL, "principal")
    assert "בחרו שפה" in (await wa.say(user, code))[0].text
    await wa.press(user, "עברית")
    await wa.press(user, "אני מסכים/ה")
    await wa.say(user, "אלי כהן")
    welcome = await wa.press(user, "לשון זכר")
    assert plain(welcome[0].text).startswith("ברוך הבא, אלי כהן!")


# -- rendering -------------------------------------------------------------------------------------------


async def test_choices_become_buttons_lists_and_pages(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    await queue(wa, dana, lambda r: r.message(
        "שפה?", [[r.button("עברית", SetLanguage("he")), r.button("English", SetLanguage("en"))]]
    ))
    assert wa.fake.sent[-1].buttons and [t for _, t in wa.fake.sent[-1].buttons] == ["עברית", "English"]
    labels = [f"אפשרות מספר {i}" for i in range(1, 14)]
    await queue(wa, dana, lambda r: r.message("בחרו:", [[r.button(lab, SetLanguage("en"))] for lab in labels]))
    page = wa.fake.sent[-1]
    assert page.list_button == "אפשרויות" and len(page.rows) == 10 and page.rows[-1][1] == "עוד…"
    assert [t for _, t, _ in page.rows[:9]] == labels[:9]
    rest = await wa.press(dana, "עוד…")
    assert rest[0].text == "אפשרויות נוספות:" and [t for _, t, _ in rest[0].rows] == labels[9:]
    chosen = await wa.press(dana, labels[11])
    assert chosen[0].text == "From now on I will write to you in English."


async def test_long_text_files_polls_and_stop_poll(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    long = "\n".join(f"החלטה {i}: " + "מילה " * 40 for i in range(40))
    await queue(wa, dana, lambda r: r.message(long))
    texts = [m.text for m in wa.fake.messages_to(dana)]
    assert len(texts) >= 2 and all(len(t) <= 4096 for t in texts)
    assert "\n".join(t.removeprefix("\u200f") for t in texts) == long

    await queue(
        wa,
        dana,
        lambda r: Outbound(kind=OutKind.FILE, text="הסיכום", file=FileSpec.of("sum.pdf", "application/pdf", b"%PDF")),
    )
    doc = wa.fake.sent[-1]
    assert doc.type == "document" and doc.media is not None and doc.media.content == b"%PDF" and doc.text == "הסיכום"

    poll = PollSpec(question="מתי נפגשים?", options=["א׳ 1.12", "ב׳ 2.12"], correlation="datepoll:1")
    await queue(
        wa,
        dana,
        lambda r: Outbound(
            kind=OutKind.POLL,
            text="הצבעה על מועד",
            poll=poll,
            buttons=[[r.button("⬜ א׳ 1.12", SetLanguage("en"))], [r.button("⬜ ב׳ 2.12", SetLanguage("en"))]],
        ),
    )
    assert wa.fake.sent[-1].list_button == "הצבעה" and "מתי נפגשים?" in wa.fake.sent[-1].text
    before = len(wa.fake.sent)
    await queue(wa, dana, lambda r: Outbound(kind=OutKind.STOP_POLL, text="", edit_ref="1"))
    assert len(wa.fake.sent) == before
    async with app.db.sessions() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
    assert set(statuses) == {"sent"}


async def test_numbered_text_when_whatsapp_refuses_the_menu(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    wa.fake.fail_next(131009, to=dana)
    await queue(wa, dana, lambda r: r.message(
        "שפה?", [[r.button("עברית", SetLanguage("he")), r.button("English", SetLanguage("en"))]]
    ))
    numbered = wa.fake.sent[-1]
    assert numbered.type == "text" and "1. עברית\n2. English" in numbered.text and "כתבי את מספר" in numbered.text
    assert (await wa.say(dana, "2"))[0].text == "From now on I will write to you in English."


# -- the 24-hour window ------------------------------------------------------------------------------------


async def test_outside_the_window_a_template_holds_the_message(app: App, wa: InProcess, clock: FixedClock) -> None:
    await import_demo(app)
    dana = await member(wa)
    clock.advance(timedelta(hours=25))
    wa.fake.clock.advance(25 * 3600)
    await queue(wa, dana, lambda r: r.message("סיכום שבועי של הפורום\nשלוש החלטות חדשות"))
    await queue(wa, dana, lambda r: r.message("תזכורת: פגישה ביום שלישי"))
    templates = [m for m in wa.fake.messages_to(dana) if m.type == "template"]
    assert len(templates) == 1  # one "you have a message" per absence
    assert templates[0].text.startswith("שלום דנה לוי, יש עדכון חדש מפורום השותפים: סיכום שבועי של הפורום")
    assert templates[0].template["language"]["code"] == "he"
    shown = await wa.press(dana, "להצגת ההודעה")
    assert [m.text for m in shown] == ["סיכום שבועי של הפורום\nשלוש החלטות חדשות", "תזכורת: פגישה ביום שלישי"]
    again = await wa.press(dana, "להצגת ההודעה")
    assert again[0].text == "אין כרגע שום דבר חדש שמחכה לך."


async def test_a_message_held_just_after_the_tap_is_sent_not_left_waiting(
    app: App, wa: InProcess, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender read the window as closed, then the person tapped (the release ran) before the
    message was held: the hold reads the window again under the person's lock and sends it as usual,
    instead of keeping it behind a second template she would have to tap."""
    await import_demo(app)
    dana = await member(wa)
    clock.advance(timedelta(hours=25))
    wa.fake.clock.advance(25 * 3600)
    await queue(wa, dana, lambda r: r.message("סיכום שבועי של הפורום"))
    identity = await identity_of(app, dana)
    assert identity is not None
    async with app.db.sessions() as session:
        before_the_tap = await window.who(session, identity.external_id, default_locale="he")
    assert before_the_tap is not None and not before_the_tap.in_window(clock.now())
    assert [m.text for m in await wa.press(dana, "להצגת ההודעה")] == ["סיכום שבועי של הפורום"]

    async def stale(self: WhatsAppSender, chat_id: str) -> window.Who | None:
        return before_the_tap

    monkeypatch.setattr(WhatsAppSender, "_who", stale)
    await queue(wa, dana, lambda r: r.message("תזכורת: פגישה ביום שלישי"))
    after = wa.fake.messages_to(dana)[-1]
    assert (after.type, after.text) == ("text", "תזכורת: פגישה ביום שלישי")
    assert [m.type for m in wa.fake.messages_to(dana)].count("template") == 1
    async with app.db.sessions() as session:
        unreleased = select(func.count()).select_from(HeldMessage).where(HeldMessage.released_at.is_(None))
        assert await session.scalar(unreleased) == 0


async def test_window_closed_says_meta_so_the_message_goes_as_a_template(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    wa.fake.clock.advance(25 * 3600)  # our clock thinks the window is open; Meta knows better
    await queue(wa, dana, lambda r: r.message("עדכון"))
    assert wa.fake.sent[-1].type == "template"
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HeldMessage)) == 1


async def test_a_failed_status_131047_is_sent_again_as_a_template(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    await queue(wa, dana, lambda r: r.message("עדכון חשוב"))
    sent = wa.fake.sent[-1]
    assert sent.type == "text"
    assert await wa.deliver(wa.fake.status(sent, code=131047)) == 200
    assert wa.fake.sent[-1].type == "template" and "עדכון חשוב" in wa.fake.sent[-1].text
    assert await wa.deliver(wa.fake.status(sent, code=131047)) == 200  # re-delivered status: once
    assert len([m for m in wa.fake.sent if m.type == "template"]) == 1


# -- errors ------------------------------------------------------------------------------------------------


async def test_rate_limits_slow_delivery_down(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    message = Outbound(kind=OutKind.TEXT, text="שלום")
    wa.fake.fail_next(130429)
    with pytest.raises(RetryAfter) as throughput:
        await wa.channel.sender.send(dana.bsuid, message)
    wa.fake.fail_next(131056)
    with pytest.raises(RetryAfter) as pair:
        await wa.channel.sender.send(dana.bsuid, message)
    assert 0 < throughput.value.seconds < pair.value.seconds == 6.0
    assert (await wa.channel.sender.send(dana.bsuid, message)).message_id


async def test_a_permanent_failure_marks_the_identity_and_tells_the_lead_once(app: App, wa: InProcess) -> None:
    await import_demo(app)
    lead = await register(app, "lead", await make_invite(app, SCHOOL, "principal"), display="מנהלת")
    noa = await member(wa, "Noa", role="counsellor")
    wa.fake.fail_next(131009, to=noa, count=2)
    message = Outbound(kind=OutKind.TEXT, text="שלום")
    for _ in range(2):
        with pytest.raises(PermanentError):
            await wa.channel.sender.send(noa.bsuid, message)
    identity = await identity_of(app, noa)
    assert identity is not None and identity.status == "failed"
    await app.delivery.drain()
    notices = [plain(m.text) for chat, m in console_sender(app).sent if chat == lead.name and "לא הצליח" in m.text]
    assert len(notices) == 1 and "דנה לוי" in notices[0] and "WhatsApp" in notices[0]
    assert "יועץ/ת בית הספר" in notices[0]
    await wa.say(noa, "/help")  # she writes again: reachable again
    again = await identity_of(app, noa)
    assert again is not None and again.status == "active"


async def test_an_undeliverable_status_marks_the_identity(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await member(wa)
    await queue(wa, dana, lambda r: r.message("שלום"))
    assert await wa.deliver(wa.fake.status(wa.fake.sent[-1], code=131026)) == 200
    identity = await identity_of(app, dana)
    assert identity is not None and identity.status == "failed"


async def test_stored_before_handled_and_handled_once(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = wa.fake.user("Dana")
    payload = wa.fake.text(dana, "/help")
    body = json.dumps(payload).encode()
    for _ in range(3):
        assert await wa.channel.receive(body, wa.fake.sign(body)) == 200
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WhatsAppInbox)) == 1
    await wa.settle()
    assert len(wa.fake.messages_to(dana)) == 1
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
        assert await session.scalar(select(ChannelIdentity.external_id)) == dana.bsuid


async def test_link_a_console_registration_to_whatsapp(app: App, wa: InProcess) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    code = re.search(r"\b([A-Z2-9]{6})\b", plain(await dana.text_of("/link")))
    assert code is not None
    phone = wa.fake.user("Dana")
    linked = await wa.say(phone, f"/link {code.group(1)}")
    assert plain(linked[0].text).startswith("זהו, החשבון הזה מקושר עכשיו אל דנה לוי")
    forums = await wa.say(phone, "/forums")
    assert "מנהלת בית הספר" in plain(forums[0].text)
    identity = await identity_of(app, phone)
    assert identity is not None and identity.person_id is not None
    await queue(wa, phone, lambda r: r.message("הודעה לכל הערוצים"))  # a notice reaches both of her accounts
    assert wa.fake.sent[-1].text == "הודעה לכל הערוצים"
    assert any(m.text == "הודעה לכל הערוצים" for chat, m in console_sender(app).sent if chat == "dana")

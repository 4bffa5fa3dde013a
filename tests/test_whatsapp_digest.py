"""The escalation digest on WhatsApp, end to end over real HTTP (our uvicorn server, the fake Graph API).

- More gaps than a WhatsApp list holds: the list pages with a "More…" row, and every gap's card
  can be opened from it.
- A coordinator whose 24-hour window is closed gets the digest's own utility template; its quick
  reply releases the whole digest (text, the list of gaps, the chart), in order, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.services.escalation.digest import DIGEST_TEMPLATE
from bot.services.forums import invites
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink
from bot.storage.models_whatsapp import HeldMessage
from scheduler.jobs import escalation_digests
from tests.fakes.whatsapp import FakeUser, FakeWhatsApp, Sent
from tests.helpers import import_demo, make_invite, plain
from tests.test_whatsapp_e2e import register_on_whatsapp
from tests.wa_helpers import quick_whatsapp_delivery, serving, settled  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_whatsapp_delivery")]

SCHOOL, SCHOOL2, AUTHORITY = "S-DEMO-210101", "S-DEMO-210102", "A2100"
GAPS = 14  # more than the ten rows of a WhatsApp list


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as server:
        yield server


async def forward_gaps(app: App, n: int) -> list[int]:
    """The demo organisation, with ``n`` gaps forwarded from two schools to the authority the day before
    its digest slot (two units below: the digest has a chart to compare them)."""
    await import_demo(app)
    now = app.clock.now() - timedelta(days=1)
    ids = []
    async with app.db.unit_of_work() as session:
        authority = await invites.forum_by_code(session, AUTHORITY)
        schools = [await invites.forum_by_code(session, code) for code in (SCHOOL, SCHOOL2)]
        for i in range(1, n + 1):
            school = schools[i % 2]
            gap = EscalatedGap(forum_id=authority.id, kind="need", category="transport", title=f"חסרה הסעה לשכונה {i}",
                               details="פרטים", norm_title=f"gap {i}", status="open", arrived_at=now, created_at=now,
                               updated_at=now)  # fmt: skip
            session.add(gap)
            await session.flush()
            issue = RaisedIssue(forum_id=school.id, kind="need", category="transport", title=gap.title, details="x",
                                show_name=False, raiser_role="parent", status="escalated", carried_count=0,
                                created_at=now, updated_at=now)  # fmt: skip
            session.add(issue)
            await session.flush()
            session.add(EscalationLink(gap_id=gap.id, issue_id=issue.id, via_forum_id=school.id, via="lead",
                                       created_at=now))  # fmt: skip
            ids.append(gap.id)
    return ids


async def coordinator(app: App, fake: FakeWhatsApp) -> FakeUser:
    """The authority's education department head, registered on WhatsApp (she is "דנה לוי")."""
    user = fake.user("Dana")
    await register_on_whatsapp(app, fake, user, await make_invite(app, AUTHORITY, "education_department_head"))
    await settled(app)
    return user


async def digest_after_a_day_of_silence(app: App, fake: FakeWhatsApp, clock: FixedClock, user: FakeUser) -> Sent:
    """Thirty hours on, the user's 24-hour window is closed; the digest job runs once and the template
    the digest is held behind (returned) is what reaches them."""
    clock.advance(timedelta(hours=30))
    fake.clock.advance(30 * 3600)
    assert await escalation_digests(app, clock.now()) == 1
    app.notify_outbox()
    return await fake.wait_for(lambda m: m.to is user and m.type == "template")


async def open_gap(fake: FakeWhatsApp, user: FakeUser, title: str, gap_id: int) -> Sent:
    seen = len(fake.messages_to(user))
    assert await fake.press(user, title) == 200
    return await fake.wait_for(
        lambda m: m.to is user and fake.messages_to(user).index(m) >= seen and plain(m.text).startswith(f"#{gap_id} ")
    )


async def more(fake: FakeWhatsApp, user: FakeUser) -> Sent:
    seen = len(fake.messages_to(user))
    assert await fake.press(user, "עוד…") == 200
    return await fake.wait_for(lambda m: m.to is user and fake.messages_to(user).index(m) >= seen and bool(m.rows))


async def test_a_digest_with_more_gaps_than_a_list_holds_pages_and_every_gap_opens(
    app: App, fake: FakeWhatsApp
) -> None:
    ids = await forward_gaps(app, GAPS)
    async with serving(app, fake):
        dana = await coordinator(app, fake)
        seen = len(fake.messages_to(dana))
        assert await escalation_digests(app, app.clock.now()) == 1
        app.notify_outbox()
        await fake.wait_for(lambda m: m.to is dana and m.type == "document")  # the chart comes last
        await settled(app)
        digest = fake.messages_to(dana)[seen:]
        texts = "\n".join(plain(m.text) for m in digest)
        assert texts.startswith("ריכוז הפערים שהועברו לפורום השותפים של עיריית טירת כרמל")
        assert all(f"#{i} · צורך · הסעות · חסרה הסעה לשכונה" in texts for i in ids)
        [menu] = [m for m in digest if m.rows]
        assert menu.list_button == "אפשרויות" and len(menu.rows) == 10
        assert [t for _, t, _ in menu.rows] == [f"#{i}" for i in ids[:9]] + ["עוד…"]

        # "More…" shows the rest; every gap on either page opens its card.
        page = await more(fake, dana)
        assert [t for _, t, _ in page.rows] == [f"#{i}" for i in ids[9:]]
        for gap_id in (ids[-1], ids[9]):
            card = await open_gap(fake, dana, f"#{gap_id}", gap_id)
            assert f"חסרה הסעה לשכונה {ids.index(gap_id) + 1}" in plain(card.text)
        for gap_id in (ids[0], ids[8]):
            await open_gap(fake, dana, f"#{gap_id}", gap_id)
        await settled(app)
    assert [m.type for m in fake.messages_to(dana)].count("template") == 0


async def test_a_digest_outside_the_window_goes_as_its_template_and_the_quick_reply_releases_all_of_it(
    app: App, fake: FakeWhatsApp, clock: FixedClock
) -> None:
    ids = await forward_gaps(app, GAPS)
    async with serving(app, fake):
        dana = await coordinator(app, fake)
        seen = len(fake.messages_to(dana))
        template = await digest_after_a_day_of_silence(app, fake, clock, dana)
        await settled(app)
        assert fake.messages_to(dana)[seen:] == [template]  # nothing else got through: the rest is held
        assert template.template["name"] == DIGEST_TEMPLATE and template.template["language"]["code"] == "he"
        assert template.text == (
            "שלום דנה לוי, הגיע ריכוז חדש של הפערים שהועברו לפורום השותפים של עיריית טירת כרמל.\n"
            "כדי לראות אותו ולטפל בפערים, לחצו על הכפתור."
        )
        async with app.db.sessions() as session:
            held = (await session.scalars(select(HeldMessage).where(HeldMessage.kind == "window"))).all()
        assert len(held) >= 2 and all(h.released_at is None for h in held)  # the digest's text(s) and its chart

        # The quick reply releases the whole digest, in order: its text, the list of gaps, the chart.
        seen = len(fake.messages_to(dana))
        assert await fake.press(dana, "להצגת הריכוז") == 200
        await fake.wait_for(lambda m: m.to is dana and m.type == "document")
        await settled(app)
        released = fake.messages_to(dana)[seen:]
        assert plain(released[0].text).startswith("ריכוז הפערים שהועברו לפורום השותפים של עיריית טירת כרמל")
        assert [m.type for m in released][-1] == "document" and released[-1].media is not None
        assert released[-1].media.mime == "image/png"
        # the file is named in Dana's language; the multipart upload carries the ASCII fallback
        shown = released[-1].payload["document"]["filename"]
        assert shown.startswith("ריכוז-פערים-") and shown.endswith(".png")
        uploaded = released[-1].media.filename
        assert uploaded.isascii() and uploaded.startswith("escalation-digest-") and uploaded.endswith(".png")
        text = "\n".join(plain(m.text) for m in released)
        assert all(f"חסרה הסעה לשכונה {n}" in text for n in range(1, GAPS + 1))
        [menu] = [m for m in released if m.rows]
        assert [t for _, t, _ in menu.rows][-1] == "עוד…"
        page = await more(fake, dana)  # the window is open again: paging and cards work as usual
        await open_gap(fake, dana, f"#{ids[-1]}", ids[-1])
        assert [t for _, t, _ in page.rows][-1] == f"#{ids[-1]}"
        await settled(app)
    async with app.db.sessions() as session:
        held = (await session.scalars(select(HeldMessage).where(HeldMessage.kind == "window"))).all()
    assert held and all(h.released_at is not None for h in held)
    assert [m.type for m in fake.messages_to(dana)].count("template") == 1


async def test_an_unapproved_digest_template_falls_back_to_the_generic_one(
    app: App, fake: FakeWhatsApp, clock: FixedClock
) -> None:
    await forward_gaps(app, 2)
    async with serving(app, fake):
        for language in ("he", "ar", "en"):
            del fake.templates[(DIGEST_TEMPLATE, language)]  # submitted later than the generic one, not approved yet
        dana = await coordinator(app, fake)
        template = await digest_after_a_day_of_silence(app, fake, clock, dana)
        assert template.template["name"] == "forumbot_update"
        assert template.text.startswith("שלום דנה לוי, יש עדכון חדש מפורום השותפים: ריכוז הפערים שהועברו")
        seen = len(fake.messages_to(dana))
        assert await fake.press(dana, "להצגת ההודעה") == 200
        await fake.wait_for(lambda m: m.to is dana and m.type == "document")
        await settled(app)
        released = fake.messages_to(dana)[seen:]
        assert "חסרה הסעה לשכונה 2" in "\n".join(plain(m.text) for m in released)


async def test_a_coordinator_who_does_not_tap_for_weeks_gets_one_digest_with_everything(
    app: App, fake: FakeWhatsApp, clock: FixedClock
) -> None:
    await forward_gaps(app, 2)
    async with serving(app, fake):
        dana = await coordinator(app, fake)
        await digest_after_a_day_of_silence(app, fake, clock, dana)
        await settled(app)
        clock.advance(timedelta(days=7))  # a week on she still has not tapped: the next digest replaces it
        fake.clock.advance(7 * 86400)
        assert await escalation_digests(app, clock.now()) == 1
        app.notify_outbox()
        await settled(app)
        seen = len(fake.messages_to(dana))
        assert await fake.press(dana, "להצגת הריכוז") == 200
        await fake.wait_for(lambda m: m.to is dana and m.type == "document")
        await settled(app)
        released = fake.messages_to(dana)[seen:]
        digests = [plain(m.text) for m in released if plain(m.text).startswith("ריכוז הפערים")]
        assert len(digests) == 1, digests  # one digest, not one per week
        assert "29 בנובמבר 2026" in digests[0]
        assert "שני פערים חדשים" in digests[0]  # what the held one listed never reached her: new to her
        assert [m.type for m in released].count("document") == 1

"""The invitation through the real flow: the lead sets the meeting's place or online link, every
member gets an updated invitation (same UID, SEQUENCE one higher, LOCATION), the agenda rides in
DESCRIPTION, and the file reads back with an independent parser (vobject)."""

from __future__ import annotations

from datetime import date, datetime, time

import vobject
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import OutKind
from bot.services.agenda import items as agenda
from bot.storage.models import Forum, Person
from bot.storage.models_polls import Meeting
from scheduler.jobs import run_due
from tests.helpers import plain
from tests.test_date_polls import FORUM, SCHOOL, TZ, answer, inbox, press, publish, school, until_closed


def invitations(app: App, chat: str) -> list[vobject.base.Component]:
    return [vobject.readOne(m.file.data.decode()) for m in inbox(app, chat) if m.kind is OutKind.FILE and m.file]


async def test_the_lead_sets_a_place_and_everyone_gets_an_updated_invitation_with_the_agenda(
    app: App, clock: FixedClock
) -> None:
    s = await school(app, english_parent=True)
    async with app.db.unit_of_work() as session:
        forum = await session.scalar(select(Forum).where(Forum.code == SCHOOL))
        dana = await session.scalar(select(Person).where(Person.display_name == "דנה לוי"))
        assert forum is not None and dana is not None
        await session.refresh(forum, ["org_unit"])
        await agenda.propose_item(session, forum=forum, person=dana, title="בטיחות בחצר בהפסקות",
                                  details=None, now=clock.now())
    poll = await publish(s)
    await answer(app, "dana", [0, 1])
    await until_closed(app, clock, poll)
    await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00")
    [first] = invitations(app, "yossi")
    assert first.method.value == "REQUEST"
    event = first.vevent
    assert event.organizer.params["CN"] == [FORUM]
    assert "בטיחות בחצר בהפסקות" in event.description.value  # the agenda
    assert "\u2068" not in event.description.value
    start = event.dtstart.value
    assert (start.date(), start.time()) == (date(2026, 12, 3), time(17, 0))
    assert event.dtstart.value.utcoffset() == datetime(2026, 12, 3, 17, tzinfo=TZ).utcoffset()
    assert "location" not in event.contents

    asked = plain((await press(app, "dana", "📍 מקום או קישור"))[0].text)
    assert asked.startswith(f"איפה תתקיים פגישת {FORUM} ביום ה׳, 3 בדצמבר 2026")
    assert "כתבי את הכתובת" in asked  # Dana is addressed in the feminine
    assert "יש לשלוח" in await s.lead.text_of("x")  # too short: a clear refusal, still asking
    done = await s.lead.text_of("https://meet.example.org/alonim")
    assert done.startswith("📍 איפה: https://meet.example.org/alonim\n")
    assert "שלחתי הזמנה מעודכנת לכל 5 חברי הפורום." in done

    moved = [m for m in inbox(app, "yossi") if m.kind is OutKind.FILE][-1]
    assert plain(moved.text).startswith(f"📍 לפגישת {FORUM} ביום ה׳, 3 בדצמבר 2026")
    assert "📍 איפה: https://meet.example.org/alonim" in plain(moved.text)
    updated = invitations(app, "yossi")[-1]
    assert updated.method.value == "REQUEST"
    assert updated.vevent.uid.value == event.uid.value and updated.vevent.sequence.value == "1"
    assert updated.vevent.location.value == "https://meet.example.org/alonim"
    english = invitations(app, "parent0")[-1]
    assert english.vevent.location.value == "https://meet.example.org/alonim"
    assert english.vevent.organizer.params["CN"] == ["the partners forum of Alonim Elementary School (demo)"]

    # The forum remembers the place for its next meeting; cancelling keeps the organizer.
    async with app.db.sessions() as session:
        forum = await session.scalar(select(Forum).where(Forum.code == SCHOOL))
        assert forum is not None and forum.settings["meeting_location"] == "https://meet.example.org/alonim"
        meeting = await session.scalar(select(Meeting))
        assert meeting is not None and meeting.location == "https://meet.example.org/alonim"
    await press(app, "dana", "❌ ביטול הפגישה")
    await press(app, "dana", "כן, לבטל")
    cancelled = invitations(app, "yossi")[-1]
    assert cancelled.method.value == "CANCEL" and cancelled.vevent.sequence.value == "2"
    assert cancelled.vevent.organizer.params["CN"] == [FORUM]


async def test_the_reminder_the_day_before_says_where(app: App, clock: FixedClock) -> None:
    s = await school(app)
    poll = await publish(s)
    await answer(app, "dana", [0])
    await until_closed(app, clock, poll)
    await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00")
    await press(app, "dana", "📍 מקום או קישור")
    await s.lead.say("חדר המורים, קומה 2")
    clock.set(datetime(2026, 12, 2, 10, 5, tzinfo=TZ))
    await run_due(app, clock.now())
    await app.delivery.drain()
    [reminder] = [plain(m.text) for m in inbox(app, "yossi") if plain(m.text).startswith("⏰")]
    assert "📍 איפה: חדר המורים, קומה 2" in reminder

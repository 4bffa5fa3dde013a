"""Linked groups: only the current forum's lead (or an admin) moves a group to another forum, and both
forums' leads are told; what the bot posts in a group names a raiser only if they chose to show their
name to the group."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import EventKind, Inbound
from bot.services.forums import groups
from bot.storage.models import ChannelIdentity, Forum, GroupChat, Person
from bot.storage.models_agenda import RaisedIssue
from scheduler.jobs import run_due
from tests.helpers import ConsoleUser, console_sender, import_demo, link_console_group, make_invite, plain, register
from tests.test_agenda import OTHER_SCHOOL, SCHOOL, inbox, last_text, press, school, set_meeting

GROUP = "-1001"
_updates = itertools.count(1)


async def in_group(app: App, who: str, command: str, args: str = "") -> list[str]:
    sender = console_sender(app)
    before = len(sender.sent)
    await app.conversations.handle(Inbound(
        channel="console", user_id=who, chat_id=GROUP, kind=EventKind.COMMAND, command=command, args=args,
        is_group=True, chat_title="הורים ומורים", update_key=f"group-test-{next(_updates)}",
    ))
    await app.delivery.drain()
    return [plain(m.text) for chat, m in sender.sent[before:] if chat == GROUP]


async def link_code(user: ConsoleUser) -> str:
    found = re.search(r"/link (\S+)", await user.text_of("/group"))
    assert found is not None
    return found.group(1)


async def group_forum(app: App) -> str | None:
    async with app.db.sessions() as session:
        group = await session.scalar(select(GroupChat).where(GroupChat.chat_id == GROUP))
        if group is None or group.forum_id is None:
            return None
        forum = await session.get(Forum, group.forum_id)
        return forum.code if forum else None


async def test_another_forums_lead_cannot_take_a_linked_group(app: App, clock: FixedClock) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"), display="דנה לוי")
    omer = await register(app, "omer", await make_invite(app, OTHER_SCHOOL, "principal"), form="m", display="עומר")
    linked = await in_group(app, "dana", "link", await link_code(dana))
    assert linked[0].startswith("הקבוצה מקושרת עכשיו לפורום השותפים של בית ספר יסודי אלונים (הדגמה)."), linked
    assert await group_forum(app) == SCHOOL

    # Omer leads another forum and is in the group: his code does not move it.
    refused = await in_group(app, "omer", "link", await link_code(omer))
    assert refused == ["הקבוצה הזאת מקושרת לפורום אחר. רק מובילי אותו פורום יכולים להעביר אותה לפורום אחר."]
    assert await group_forum(app) == SCHOOL
    assert not any("הועברה" in plain(m.text) for m in inbox(app, "dana"))

    # An admin may move it; both forums' leads are told.
    await register(app, "admin", await make_invite(app, OTHER_SCHOOL, "parent"), display="אדמין")
    async with app.db.unit_of_work() as session:
        identity = await session.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == "admin"))
        assert identity is not None and identity.person_id is not None
        person = await session.get(Person, identity.person_id)
        assert person is not None
        person.is_admin = True
        await session.refresh(identity, ["person"])
        target = await session.scalar(select(Forum).where(Forum.code == OTHER_SCHOOL))
        assert target is not None
        code = await groups.create_link_code(session, identity=identity, forum=target, now=clock.now())
    moved = await in_group(app, "admin", "link", code)
    assert moved[0].startswith("הקבוצה מקושרת עכשיו לפורום השותפים של"), moved
    assert await group_forum(app) == OTHER_SCHOOL
    for lead in ("dana", "omer"):
        text = last_text(app, lead)
        assert text.startswith("הקבוצה הורים ומורים הועברה מפורום השותפים של בית ספר יסודי אלונים (הדגמה) אל "), text
        assert "(על ידי אדמין)" in text

    # Dana no longer leads the group's forum: she cannot pull it back either.
    assert (await in_group(app, "dana", "link", await link_code(dana)))[0].startswith("הקבוצה הזאת מקושרת לפורום אחר")
    assert await group_forum(app) == OTHER_SCHOOL


async def raise_with(user: ConsoleUser, title: str, choice: str) -> str:
    await user.say("/issue")
    await press(user, "חסם")
    await user.say(title)
    await user.say("פירוט מספיק ארוך כדי לעבור את הבדיקה של התיאור.")
    question = await press(user, "הסעות")
    assert "וגם קבוצת הצ׳אט של הפורום" in question  # the question says the forum's group sees it
    preview = await press(user, choice)
    await press(user, "שליחה")
    return preview


async def test_the_group_sees_raisers_by_role_unless_they_chose_the_group(app: App, clock: FixedClock) -> None:
    dana, avi, rana = await school(app)
    await link_console_group(app, SCHOOL, GROUP)
    await set_meeting(dana)
    preview = await raise_with(avi, "אין הסעה לשכונה", "השם והתפקיד שלי")
    assert "יוצג עם השם שלך לחברי הפורום; בקבוצה יופיע רק התפקיד שלך." in preview
    preview = await raise_with(rana, "חסרה יועצת נוספת", "השם שלי, גם בקבוצה של הפורום")
    assert "יוצג עם השם שלך, גם בקבוצה של הפורום." in preview
    async with app.db.sessions() as session:
        shown = {i.title: (i.show_name, i.show_name_to_group) for i in (await session.scalars(select(RaisedIssue)))}
    assert shown == {"אין הסעה לשכונה": (True, False), "חסרה יועצת נוספת": (True, True)}

    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # 10:00 the day before the meeting
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 3
    await app.delivery.drain()
    posted = plain(inbox(app, GROUP)[-1].text)
    assert posted.startswith("⏰ תזכורת")
    assert "אין הסעה לשכונה — הורה ·" in posted and "אבי כהן" not in posted
    assert "חסרה יועצת נוספת — רנא חורי (יועצת בית הספר)" in posted
    to_member = last_text(app, "rana")
    assert "אין הסעה לשכונה — אבי כהן (הורה)" in to_member  # members see the name he chose to show them

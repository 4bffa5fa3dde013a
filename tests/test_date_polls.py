"""Meeting-date polls end to end through the console channel, on SQLite and PostgreSQL.

The console gets native polls here (``NativePolls`` hands out poll ids the way Telegram does), so
the same test drives both ways of voting: native poll answers and the fallback buttons.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.console import ConsoleSender
from bot.cli import main
from bot.clock import FixedClock
from bot.core.messages import EventKind, Inbound, Outbound, OutKind, SendResult
from bot.storage.db import Database
from bot.storage.models import ExternalRef, Forum, Membership, OutboxMessage, Person
from bot.storage.models_polls import DatePoll, DatePollBallot, DatePollOption, Meeting
from scheduler.jobs import run_due
from tests.conftest import make_settings
from tests.helpers import ConsoleUser, console_sender, import_demo, link_console_group, make_invite, plain, register

TZ = ZoneInfo("Asia/Jerusalem")
SCHOOL = "S-DEMO-210101"
OTHER_SCHOOL = "S-DEMO-210102"
GROUP = "-100777"
FORUM = "פורום השותפים של בית ספר יסודי אלונים (הדגמה)"
_keys = itertools.count(1)


class NativePolls(ConsoleSender):
    """The console channel with native polls: every poll sent gets a poll id, as on Telegram."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self._poll_ids = itertools.count(1)

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        result = await super().send(chat_id, message)
        if message.kind is OutKind.POLL:
            return SendResult(message_id=result.message_id, poll_id=f"native-{next(self._poll_ids)}")
        return result


@dataclass
class School:
    app: App
    lead: ConsoleUser
    counsellor: ConsoleUser
    teacher: ConsoleUser
    committee: ConsoleUser
    parents: list[ConsoleUser]

    @property
    def members(self) -> list[ConsoleUser]:
        return [self.lead, self.counsellor, self.teacher, self.committee, *self.parents]


async def school(app: App, *, parents: int = 1, group: bool = False, english_parent: bool = False) -> School:
    app.add_sender(NativePolls())
    await import_demo(app)
    lead = await register(app, "dana", await make_invite(app, SCHOOL, "principal"), display="דנה לוי")
    counsellor = await register(app, "yossi", await make_invite(app, SCHOOL, "counsellor"), form="m", display="יוסי")
    teacher = await register(app, "rina", await make_invite(app, SCHOOL, "teachers_rep"), display="רינה")
    committee = await register(app, "avi", await make_invite(app, SCHOOL, "parents_committee"), form="m",
                               display="אבי")
    members = []
    for i in range(parents):
        code = await make_invite(app, SCHOOL, "parent")
        if english_parent and i == 0:
            members.append(await register(app, f"parent{i}", code, language="en", display="Sam Cohen"))
        else:
            members.append(await register(app, f"parent{i}", code, form="f", display=f"הורה {i}"))
    if group:
        await link_console_group(app, SCHOOL, GROUP)
    return School(app, lead, counsellor, teacher, committee, members)


def inbox(app: App, chat: str) -> list[Outbound]:
    return [m for c, m in console_sender(app).sent if c == chat]


def texts(app: App, chat: str) -> list[str]:
    return [plain(m.text) for m in inbox(app, chat)]


async def handle(app: App, event: Inbound) -> list[Outbound]:
    sender = console_sender(app)
    before = len(sender.sent)
    await app.conversations.handle(event)
    await app.delivery.drain()
    return [m for c, m in sender.sent[before:] if c == event.chat_id]


async def press(app: App, user: str, label: str) -> list[Outbound]:
    """Press the newest button with this label that the person was sent."""
    for message in reversed(inbox(app, user)):
        for button in message.all_buttons:
            if plain(button.label) == label:
                event = Inbound(channel="console", user_id=user, chat_id=user, kind=EventKind.CHOICE,
                                token=button.token, update_key=f"t{next(_keys)}")
                return await handle(app, event)
    labels = [plain(b.label) for m in inbox(app, user) for b in m.all_buttons]
    raise AssertionError(f"{user} has no button {label!r}: {labels}")


async def answer(app: App, user: str, option_ids: list[int], *, chat: str | None = None) -> list[Outbound]:
    """A native poll answer from ``user`` to the poll in ``chat`` (default: their private chat)."""
    async with app.db.sessions() as session:
        ref = await session.scalar(
            select(ExternalRef).where(ExternalRef.chat_id == (chat or user), ExternalRef.kind == "poll")
            .order_by(ExternalRef.id.desc()).limit(1)
        )
    assert ref is not None, f"no native poll was sent to {chat or user}"
    event = Inbound(channel="console", user_id=user, chat_id=user, kind=EventKind.POLL_ANSWER,
                    poll_ref=ref.external_id, option_ids=tuple(option_ids), update_key=f"t{next(_keys)}")
    return await handle(app, event)


async def publish(s: School) -> DatePoll:
    await s.lead.say("/poll")
    await press(s.app, "dana", "📣 פרסום")
    async with s.app.db.sessions() as session:
        poll = await session.scalar(select(DatePoll).order_by(DatePoll.id.desc()).limit(1))
    assert poll is not None and poll.status == "open"
    return poll


async def options(app: App, poll_id: int) -> list[DatePollOption]:
    async with app.db.sessions() as session:
        return list((await session.scalars(
            select(DatePollOption).where(DatePollOption.poll_id == poll_id).order_by(DatePollOption.position)
        )).all())


async def ballots(app: App, poll_id: int) -> dict[str, tuple[list[int], bool]]:
    async with app.db.sessions() as session:
        rows = await session.execute(
            select(Person.display_name, DatePollBallot).join(Person, Person.id == DatePollBallot.person_id)
            .where(DatePollBallot.poll_id == poll_id)
        )
        return {name: (sorted(b.choices), b.none_works) for name, b in rows.all()}


async def outbox_count(app: App, pattern: str) -> int:
    async with app.db.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedup_key.like(pattern))
        ) or 0)


async def until_closed(app: App, clock: FixedClock, poll: DatePoll) -> dict[str, int]:
    clock.set(poll.deadline + timedelta(minutes=1))
    done = await run_due(app, clock.now())
    await app.delivery.drain()
    return done


async def leaves_the_forum(app: App, display_name: str) -> None:
    """The member's seat ended, straight in the database (no revoke and none of its notices)."""
    async with app.db.unit_of_work() as session:
        person = await session.scalar(select(Person).where(Person.display_name == display_name))
        assert person is not None
        membership = await session.scalar(select(Membership).where(Membership.person_id == person.id))
        assert membership is not None
        membership.revoked_at = app.clock.now()


def local(moment: datetime) -> datetime:
    return moment.astimezone(TZ)


# -- the lead's draft --------------------------------------------------------------------------


async def test_a_lead_builds_a_poll_and_every_member_gets_it_in_their_language(app: App) -> None:
    s = await school(app, parents=2, english_parent=True)
    draft = await s.lead.text_of("/poll")
    assert draft.startswith("סקר מועדים לפורום השותפים של בית ספר יסודי אלונים (הדגמה).")
    assert "4 המועדים המוצעים:" in draft
    assert "1. יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00" in draft
    assert "השעה הקבועה: 17:00 · ההצבעה נסגרת ביום רביעי, 25 בנובמבר 2026 בשעה 12:00." in draft
    assert "כדי להוסיף מועד, הקלידי אותו" in draft  # she is addressed in the feminine

    assert "5 המועדים המוצעים:" in await s.lead.text_of("12/1")
    assert "5. יום ג׳, 12 בינואר 2027 · ד׳ בשבט תשפ״ז · 17:00" in plain(s.lead.last.text)
    refusals = {
        "16/1": "ביום שבת, 16 בינואר 2027 לא נפגשים (שבת). בחרי יום אחר.",
        "7/12": "ביום שני, 7 בדצמבר 2026 לא נפגשים (חנוכה, חופשת חנוכה). בחרי יום אחר.",
        "20/12": "ביום ראשון, 20 בדצמבר 2026 לא נפגשים (צום עשרה בטבת). בחרי יום אחר.",
        "31/2": "אין תאריך כזה.",
        "ביום שלישי הבא": "לא הצלחתי לזהות כאן תאריך. הקלידי קודם את היום",
        "3/12": "המועד הזה כבר ברשימה.",
        "24/11": "התאריך יום שלישי, 24 בנובמבר 2026 חל לפני סגירת ההצבעה",
        "12/1 04:00": "פגישה יכולה להתחיל בין 06:00 ל־23:00.",
    }
    for typed, expected in refusals.items():
        assert expected in await s.lead.text_of(typed), typed

    removed = await press(app, "dana", "🗑 יום ג׳ 29.12 · 17:00")
    assert "4 המועדים המוצעים:" in plain(removed[0].text) and "29 בדצמבר" not in plain(removed[0].text)
    await press(app, "dana", "🕔 שעה")
    timed = await s.lead.text_of("17:30")
    assert "השעה הקבועה: 17:30" in timed and "3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:30" in timed
    await press(app, "dana", "⏳ סגירת ההצבעה")
    assert "ההצבעה צריכה להיסגר ביום עבודה" in await s.lead.text_of("28/11 12:00")
    moved = await press(app, "dana", "בעוד שני ימי עבודה (יום ג׳ 24.11)")
    assert "ההצבעה נסגרת ביום שלישי, 24 בנובמבר 2026 בשעה 12:00" in plain(moved[0].text)

    published = plain((await press(app, "dana", "📣 פרסום"))[0].text)
    assert published.startswith("פורסם: הסקר נשלח ל־6 חברי הפורום.")
    assert "ביום שני, 23 בנובמבר 2026 בשעה 12:00 אזכיר למי שעוד לא ענה." in published
    async with app.db.sessions() as session:
        forum = await session.scalar(select(Forum).where(Forum.code == SCHOOL))
        assert forum is not None and forum.settings["meeting_time"] == "17:30"  # remembered for next time

    [hebrew] = [m for m in inbox(app, "yossi") if m.kind is OutKind.POLL]
    assert hebrew.poll is not None and hebrew.poll.multiple and hebrew.poll.correlation.startswith("datepoll:")
    assert hebrew.poll.options[0] == "יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:30"
    assert hebrew.poll.options[-1] == "אף מועד לא מתאים לי"
    assert plain(hebrew.poll.question).startswith("מתי נפגשים? קובעים את מועד הפגישה הבאה של פורום השותפים")
    assert "סמן את כל המועדים שמתאימים לך" in plain(hebrew.poll.question)
    assert len(hebrew.poll.question) <= 300 and all(len(o) <= 100 for o in hebrew.poll.options)
    assert len(hebrew.all_buttons) == len(hebrew.poll.options)  # the same choices for channels without polls
    [english] = [m for m in inbox(app, "parent0") if m.kind is OutKind.POLL]
    assert english.poll is not None and english.poll.options[0] == "Thu, 3 December 2026 · 17:30"
    assert english.poll.options[-1] == "None of these dates works for me"
    async with app.db.sessions() as session:
        refs = (await session.scalars(select(ExternalRef.chat_id))).all()
    assert sorted(refs) == sorted(m.name for m in s.members)  # every native poll is known by its id


async def test_a_member_cannot_open_a_poll(app: App) -> None:
    s = await school(app)
    assert "רק מובילי הפורום יכולים לפתוח סקר מועדים." in await s.counsellor.text_of("/poll")
    assert "רק מובילי הפורום יכולים לפתוח סקר מועדים." in await s.lead.text_of(f"/poll {OTHER_SCHOOL}")
    assert "צריך הזמנה" in await ConsoleUser(app, "stranger").text_of("/poll")
    assert "/poll" not in await s.counsellor.text_of("/help")
    assert "/poll" in await s.lead.text_of("/help")
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DatePoll)) == 0


async def test_a_poll_needs_two_dates_and_only_one_poll_runs_at_a_time(app: App) -> None:
    s = await school(app)
    await s.lead.say("/poll")
    for label in ("🗑 יום ה׳ 3.12 · 17:00", "🗑 יום א׳ 13.12 · 17:00", "🗑 יום ב׳ 21.12 · 17:00"):
        await press(app, "dana", label)
    refused = await press(app, "dana", "📣 פרסום")
    assert "בסקר צריכים להיות לפחות 2 מועדים. כדי להוסיף מועד, הקלידי אותו." in plain(refused[0].text)
    await s.lead.say("14/1")
    await press(app, "dana", "📣 פרסום")

    again = await s.lead.text_of("/poll")
    assert again.startswith("סקר המועדים של פורום השותפים של בית ספר יסודי אלונים (הדגמה) כבר פתוח, עד")
    closed = await press(app, "dana", "סגירת הסקר עכשיו")
    assert "ההצבעה נסגרה." in plain(closed[0].text)
    assert "ההצבעה על מועד הפגישה של פורום השותפים" in texts(app, "dana")[-1]
    waiting = await s.lead.text_of("/poll")  # closed but undecided: the decision comes back
    assert "המועד המוצע:" in waiting


async def test_a_draft_left_behind_is_dropped_after_two_weeks(app: App, clock: FixedClock) -> None:
    s = await school(app)
    await s.lead.say("/poll")
    clock.advance(timedelta(days=15))
    await run_due(app, clock.now())
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DatePoll)) == 0
    gone = await s.lead.text_of("12/1")  # she comes back to the old draft
    assert gone == "הסקר הזה כבר לא קיים. שלחי /poll כדי להתחיל סקר חדש."
    assert await s.lead.text_of("12/1") == "שלחי /help כדי לראות מה אני יודע לעשות."  # out of the flow


# -- votes ----------------------------------------------------------------------------------------


async def test_role_coverage_chooses_a_date_with_fewer_votes_over_one_missing_the_principal(
    app: App, clock: FixedClock
) -> None:
    s = await school(app, parents=3)
    poll = await publish(s)
    a, b = 0, 1  # positions in the native poll
    await answer(app, "dana", [b])  # the principal can only make B
    await answer(app, "yossi", [a, b])
    await answer(app, "rina", [a, b])
    await answer(app, "avi", [a, b])
    for parent in s.parents:
        await answer(app, parent.name, [a])
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DatePollBallot)) == 7
    await until_closed(app, clock, poll)
    decision = texts(app, "dana")[-1]
    assert "ענו 7 מתוך 7 חברים" in decision
    assert "המועד המוצע: יום א׳, 13 בדצמבר 2026 · ג׳ בטבת תשפ״ז · 17:00." in decision
    assert "כל בעלי התפקידים הנדרשים יכולים להגיע." in decision
    assert "• יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00 — 7 קולות" not in decision
    assert "• יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00 — 6 קולות" in decision  # no principal
    assert "⭐ יום א׳, 13 בדצמבר 2026 · ג׳ בטבת תשפ״ז · 17:00 — 4 קולות" in decision
    async with app.db.sessions() as session:
        meeting = await session.scalar(select(Meeting))
    assert meeting is not None and meeting.status == "proposed"
    assert local(meeting.starts_at) == datetime(2026, 12, 13, 17, 0, tzinfo=TZ)


async def test_a_vote_changed_twice_counts_once_whatever_chat_it_came_from(app: App) -> None:
    s = await school(app, group=True)
    poll = await publish(s)
    opts = await options(app, poll.id)
    assert [m.kind for m in inbox(app, GROUP)] == [OutKind.POLL]  # the group gets the native poll
    assert inbox(app, GROUP)[0].all_buttons == []
    await answer(app, "yossi", [0])
    assert (await ballots(app, poll.id))["יוסי"] == ([opts[0].id], False)
    await answer(app, "yossi", [1, 2])  # changed once, in his private chat
    await answer(app, "yossi", [2], chat=GROUP)  # and again, in the forum's group
    assert (await ballots(app, poll.id))["יוסי"] == ([opts[2].id], False)
    await answer(app, "yossi", [], chat=GROUP)  # retracted
    assert "יוסי" not in await ballots(app, poll.id)
    await answer(app, "yossi", [len(opts)])  # "none of these dates works for me"
    assert (await ballots(app, poll.id))["יוסי"] == ([], True)
    await answer(app, "yossi", [1, len(opts)])  # a date and "none": the date wins
    assert (await ballots(app, poll.id))["יוסי"] == ([opts[1].id], False)
    # The fallback buttons: a double click sets the same choice twice and loses nothing.
    await press(app, "rina", "▫️ יום ה׳ 3.12 · 17:00")
    shown = plain(inbox(app, "rina")[-1].text)
    assert "✅ יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00 — קול אחד" in shown
    assert "▫️ יום א׳, 13 בדצמבר 2026 · ג׳ בטבת תשפ״ז · 17:00 — שני קולות" not in shown
    assert "נשמר. אפשר לשנות את התשובה עד יום רביעי, 25 בנובמבר 2026 בשעה 12:00." in shown
    first_press = next(m for m in inbox(app, "rina") if m.kind is OutKind.POLL)
    event = Inbound(channel="console", user_id="rina", chat_id="rina", kind=EventKind.CHOICE,
                    token=first_press.all_buttons[0].token, update_key=f"t{next(_keys)}")
    await handle(app, event)  # the same (old) button again
    await press(app, "rina", "▫️ יום א׳ 13.12 · 17:00")
    assert (await ballots(app, poll.id))["רינה"] == (sorted([opts[0].id, opts[1].id]), False)
    await press(app, "rina", "✅ יום ה׳ 3.12 · 17:00")  # taken back
    assert (await ballots(app, poll.id))["רינה"] == ([opts[1].id], False)


async def test_a_vote_from_a_non_member_is_ignored(app: App) -> None:
    s = await school(app, group=True)
    outsider = await register(app, "omer", await make_invite(app, OTHER_SCHOOL, "parent"), form="m", display="עומר")
    poll = await publish(s)
    assert await answer(app, "omer", [0], chat=GROUP) == []  # he is in the group, not in the forum
    assert await answer(app, "ghost", [0], chat=GROUP) == []  # someone who never registered
    assert await ballots(app, poll.id) == {}
    # A member who leaves the forum no longer counts either.
    await answer(app, "avi", [0])
    await leaves_the_forum(app, "אבי")
    async with app.db.sessions() as session:
        from bot.services.meetings import polls

        result = await polls.tally(session, await polls.load_poll(session, poll.id))
    assert all(not c.voters for c in result.counts) and result.answered == set()
    assert not [m for m in inbox(app, outsider.name) if m.kind is OutKind.POLL]


async def test_the_poll_closes_itself_after_a_restart(
    app: App, clock: FixedClock, database_url: str, tmp_path: Path
) -> None:
    s = await school(app, group=True)
    poll = await publish(s)
    await answer(app, "dana", [1])
    await answer(app, "yossi", [1], chat=GROUP)
    async with app.db.sessions() as session:
        refs = {(r.chat_id, r.message_id) for r in (await session.scalars(select(ExternalRef))).all()}
    assert len(refs) == len(s.members) + 1
    await app.close()  # the bot goes down before the deadline...

    later = FixedClock(poll.deadline + timedelta(days=2, hours=3))  # ...and comes back long after it
    restarted = App(settings=make_settings(database_url, tmp_path), db=Database(database_url), clock=later)
    try:
        sender = NativePolls()
        restarted.add_sender(sender)
        done = await run_due(restarted, later.now())
        assert done["close_date_polls"] == 1
        assert (await run_due(restarted, later.now()))["close_date_polls"] == 0  # exactly once
        await restarted.delivery.drain()
        stops = {(chat, m.edit_ref) for chat, m in sender.sent if m.kind is OutKind.STOP_POLL}
        assert stops == refs  # stopPoll for every chat the native poll went to, by its message id
        decision = [plain(m.text) for chat, m in sender.sent if chat == "dana" and m.buttons]
        assert len(decision) == 1 and "המועד המוצע: יום א׳, 13 בדצמבר 2026" in decision[0]
        async with restarted.db.sessions() as session:
            closed = await session.get(DatePoll, poll.id)
            assert closed is not None and closed.status == "closed" and closed.closed_at == later.now()
        # A vote that still arrives is refused, and that poll is stopped (once).
        late = Inbound(channel="console", user_id="rina", chat_id="rina", kind=EventKind.POLL_ANSWER,
                       poll_ref=await _poll_ref(restarted, "rina"), option_ids=(0,), update_key="late-1")
        [reply] = await restarted.conversations.handle(late)
        assert "ההצבעה בסקר המועדים הזה נסגרה, ולכן התשובה שלך לא נספרה." in plain(reply.text)
        assert await outbox_count(restarted, f"datepoll:{poll.id}:stop:%") == len(refs)
        assert "רינה" not in await ballots(restarted, poll.id)
    finally:
        await restarted.close()


async def _poll_ref(app: App, chat: str) -> str:
    async with app.db.sessions() as session:
        ref = await session.scalar(select(ExternalRef.external_id).where(ExternalRef.chat_id == chat))
    assert ref is not None
    return ref


async def test_reminders_go_once_and_only_to_those_who_have_not_answered(app: App, clock: FixedClock) -> None:
    s = await school(app, parents=2)
    poll = await publish(s)
    await answer(app, "dana", [0])
    await answer(app, "yossi", [4])  # "none of these works" is an answer too
    await answer(app, "rina", [1])
    await answer(app, "rina", [])  # ...but a retracted vote is not
    assert poll.remind_at is not None and local(poll.remind_at) == datetime(2026, 11, 24, 12, tzinfo=TZ)
    clock.set(poll.remind_at - timedelta(minutes=1))
    assert (await run_due(app, clock.now()))["date_poll_reminders"] == 0
    clock.set(poll.remind_at)
    assert (await run_due(app, clock.now()))["date_poll_reminders"] == 4
    assert (await run_due(app, clock.now() + timedelta(hours=1)))["date_poll_reminders"] == 0
    await app.delivery.drain()
    reminded = {
        chat for chat, m in console_sender(app).sent if plain(m.text).startswith("⏳ תזכורת:")
    }
    assert reminded == {"rina", "avi", "parent0", "parent1"}
    assert await outbox_count(app, f"datepoll:{poll.id}:reminder:%") == 4
    reminder = next(m for m in inbox(app, "avi") if plain(m.text).startswith("⏳"))
    assert "ועוד לא קיבלנו את התשובה שלך. ההצבעה נסגרת ביום רביעי, 25 בנובמבר 2026 בשעה 12:00." in plain(
        reminder.text)
    assert "סמן את כל המועדים שמתאימים לך:" in plain(reminder.text)
    await press(app, "avi", "▫️ יום ב׳ 21.12 · 17:00")  # he votes straight from the reminder
    assert "אבי" in await ballots(app, poll.id)


async def test_the_lead_is_told_once_when_every_required_role_has_answered(app: App, clock: FixedClock) -> None:
    s = await school(app, parents=1)
    await publish(s)
    notice = "✔️ כל בעלי התפקידים הנדרשים ענו בסקר המועדים של פורום השותפים"
    for user in ("dana", "yossi", "rina"):
        await answer(app, user, [0])
    assert not [t for t in texts(app, "dana") if t.startswith(notice)]
    await answer(app, "avi", [1])  # the parents' committee: the last required role
    await answer(app, "parent0", [1])
    await answer(app, "avi", [0])
    clock.advance(timedelta(hours=2))
    await run_due(app, clock.now())
    await app.delivery.drain()
    told = [t for t in texts(app, "dana") if t.startswith(notice)]
    assert len(told) == 1
    assert "אפשר לסגור אותו עכשיו, או להשאיר אותו פתוח עד יום רביעי, 25 בנובמבר 2026 בשעה 12:00." in told[0]
    results = plain((await press(app, "dana", "תוצאות"))[0].text)
    assert "עד עכשיו ענו 5 מתוך 5 חברי פורום השותפים של בית ספר יסודי אלונים (הדגמה)." in results
    assert "כל בעלי התפקידים הנדרשים ענו." in results


async def test_the_hourly_sweep_tells_the_lead_when_the_last_missing_role_leaves(app: App, clock: FixedClock) -> None:
    s = await school(app, parents=0)
    await publish(s)
    for user in ("dana", "yossi", "rina"):
        await answer(app, user, [0])
    await leaves_the_forum(app, "אבי")
    clock.advance(timedelta(minutes=5))
    assert (await run_due(app, clock.now()))["required_roles_answered"] == 1
    assert (await run_due(app, clock.now() + timedelta(minutes=10)))["required_roles_answered"] == 0
    await app.delivery.drain()
    notice = texts(app, "dana")[-1]
    # Not "every required role": the parents' committee has nobody in it any more.
    assert "כל בעלי התפקידים הנדרשים ענו" not in notice
    assert notice.startswith("✔️ כל התפקידים הנדרשים שמאוישים בפורום השותפים של בית ספר יסודי אלונים (הדגמה) ענו "
                             "בסקר המועדים (3 מתוך 4):")
    assert "בתפקידים הנדרשים האלה עדיין אין אף אחד, ולכן אין מי שיענה בשמם: נציג/ת ועד ההורים." in notice


# -- the decision, the invitation, moves ----------------------------------------------------------


def invitation(message: Outbound) -> icalendar.Calendar:
    assert message.kind is OutKind.FILE and message.file is not None
    assert message.file.mime == "text/calendar" and message.file.name.endswith(".ics")
    return icalendar.Calendar.from_ical(message.file.data)


async def test_the_confirmed_meeting_is_announced_with_an_ics_and_a_move_updates_it(
    app: App, clock: FixedClock
) -> None:
    s = await school(app, parents=1, english_parent=True)
    poll = await publish(s)
    await answer(app, "dana", [0, 1])
    await until_closed(app, clock, poll)
    confirmed = plain((await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00"))[0].text)
    assert confirmed.startswith(
        f"נקבע: פגישת {FORUM} תתקיים ביום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00."
    )
    assert "ההזמנה נשלחה ל־5 חברי הפורום." in confirmed
    [announcement] = [m for m in inbox(app, "yossi") if m.kind is OutKind.FILE]
    assert plain(announcement.text) == (
        f"📅 פגישת {FORUM} תתקיים ביום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00."
        "\nההזמנה מצורפת: פתח אותה כדי להוסיף את הפגישה ליומן."
    )
    calendar = invitation(announcement)
    [event] = calendar.events
    assert event.start == datetime(2026, 12, 3, 17, 0, tzinfo=TZ) and str(event.start.tzinfo) == "Asia/Jerusalem"
    assert event.end - event.start == timedelta(minutes=90)
    assert event.sequence == 0 and str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "פגישת פורום השותפים של בית ספר יסודי אלונים (הדגמה)"
    assert "\u2068" not in str(event["SUMMARY"])  # no bidi isolates inside a calendar
    uid = str(event["UID"])
    [english] = [m for m in inbox(app, "parent0") if m.kind is OutKind.FILE]
    assert str(invitation(english).events[0]["SUMMARY"]) == (
        "Meeting of the partners forum of Alonim Elementary School (demo)"
    )
    assert str(invitation(english).events[0]["UID"]) == uid

    again = await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00")  # a second click
    assert "המועד כבר נקבע: יום חמישי, 3 בדצמבר 2026 בשעה 17:00." in plain(again[0].text)
    assert len([m for m in inbox(app, "yossi") if m.kind is OutKind.FILE]) == 1

    await press(app, "dana", "📅 שינוי המועד")
    ask = await press(app, "dana", "יום א׳ 13.12 · 17:00 · קול אחד")
    assert plain(ask[0].text).startswith(f"להזיז את פגישת {FORUM} מיום ה׳, 3 בדצמבר")
    done = plain((await press(app, "dana", "כן, להזיז"))[0].text)
    assert done.startswith("הפגישה הוזזה ליום א׳, 13 בדצמבר 2026 · ג׳ בטבת תשפ״ז · 17:00.")
    moved = [m for m in inbox(app, "yossi") if m.kind is OutKind.FILE][-1]
    assert plain(moved.text).startswith(f"⚠️ פגישת {FORUM} הוזזה: היא תתקיים ביום א׳, 13 בדצמבר")
    assert "(במקום ביום ה׳, 3 בדצמבר 2026" in plain(moved.text)
    [event] = invitation(moved).events
    assert (str(event["UID"]), event.sequence) == (uid, 1)
    assert event.start == datetime(2026, 12, 13, 17, 0, tzinfo=TZ)

    # /reschedule with a typed date and time.
    await s.lead.say("/reschedule")
    assert "לא נפגשים" in await s.lead.text_of("19/12")
    asked = await s.lead.text_of("17/12 18:30")
    assert "ליום ה׳, 17 בדצמבר 2026 · ז׳ בטבת תשפ״ז · 18:30 ולעדכן את כל החברים?" in asked
    await press(app, "dana", "כן, להזיז")
    [event] = invitation([m for m in inbox(app, "yossi") if m.kind is OutKind.FILE][-1]).events
    assert (event.sequence, event.start) == (2, datetime(2026, 12, 17, 18, 30, tzinfo=TZ))

    await press(app, "dana", "❌ ביטול הפגישה")
    await press(app, "dana", "כן, לבטל")
    cancelled = [m for m in inbox(app, "yossi") if m.kind is OutKind.FILE][-1]
    assert plain(cancelled.text).startswith(f"❌ פגישת {FORUM} שנקבעה ליום ה׳, 17 בדצמבר")
    calendar = invitation(cancelled)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert (str(calendar.events[0]["UID"]), calendar.events[0].sequence) == (uid, 3)
    assert "אין פגישה קרובה באף פורום שאת מובילה." in await s.lead.text_of("/reschedule")
    assert "אין פגישה קרובה באף פורום שאתה מוביל." in await s.counsellor.text_of("/reschedule")


async def test_the_meeting_is_reminded_the_day_before_once_and_again_after_a_move(
    app: App, clock: FixedClock
) -> None:
    s = await school(app)
    poll = await publish(s)
    await until_closed(app, clock, poll)
    await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00")
    clock.set(datetime(2026, 12, 2, 9, 59, tzinfo=TZ))
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 0
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=TZ))
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 5
    assert (await run_due(app, clock.now() + timedelta(hours=3)))["meeting_reminders"] == 0
    await app.delivery.drain()
    # The day before, members get one reminder (an agenda with no items adds nothing to it).
    assert texts(app, "yossi")[-1] == (
        "⏰ תזכורת: פגישת פורום השותפים של בית ספר יסודי אלונים (הדגמה) תתקיים מחר, "
        "יום ה׳, 3 בדצמבר 2026 · כ״ג בכסלו תשפ״ז · 17:00."
    )
    # Moved to Sunday the 13th: reminded again, on Friday morning rather than on Shabbat.
    await press(app, "dana", "📅 שינוי המועד")
    await press(app, "dana", "יום א׳ 13.12 · 17:00 · 0 קולות")
    await press(app, "dana", "כן, להזיז")
    clock.set(datetime(2026, 12, 11, 9, 59, tzinfo=TZ))
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 0
    clock.set(datetime(2026, 12, 11, 10, 0, tzinfo=TZ))  # Friday morning
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 5
    await app.delivery.drain()
    assert any(t.startswith(f"⏰ תזכורת: פגישת {FORUM} תתקיים ביום א׳, 13 בדצמבר") for t in texts(app, "yossi")[-2:])


async def test_setting_no_meeting_and_choosing_another_date(app: App, clock: FixedClock) -> None:
    s = await school(app)
    poll = await publish(s)
    await answer(app, "yossi", [2])
    await until_closed(app, clock, poll)
    choices = await press(app, "dana", "📅 מועד אחר")
    labels = [plain(b.label) for b in choices[0].all_buttons]
    assert labels[:2] == ["יום ה׳ 3.12 · 17:00 · 0 קולות", "יום א׳ 13.12 · 17:00 · 0 קולות"]
    assert "יום ב׳ 21.12 · 17:00 · קול אחד" in labels
    await press(app, "dana", "יום ג׳ 29.12 · 17:00 · 0 קולות")
    async with app.db.sessions() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting is not None and meeting.status == "confirmed"
        assert local(meeting.starts_at) == datetime(2026, 12, 29, 17, 0, tzinfo=TZ)
    # A second poll, from which the lead sets no meeting.
    clock.set(datetime(2027, 1, 3, 9, 0, tzinfo=TZ))
    second = await publish(s)
    await until_closed(app, clock, second)
    dropped = await press(app, "dana", "✖ ויתור על הפגישה הפעם")
    assert "לא נקבעה פגישה. שלחי /poll כשתרצי לנסות מועדים אחרים." in plain(dropped[0].text)
    async with app.db.sessions() as session:
        statuses = sorted((await session.scalars(select(Meeting.status))).all())
    assert statuses == ["cancelled", "confirmed"]


# -- the cadence ----------------------------------------------------------------------------------


async def test_leads_are_nudged_once_per_period_when_no_meeting_is_set(app: App, clock: FixedClock) -> None:
    s = await school(app)
    hq = await register(app, "moshe", await make_invite(app, "HQ", "hq_coordinator"), form="m", display="משה")
    clock.set(datetime(2026, 11, 22, 9, 30, tzinfo=TZ))  # Sunday, after the 20th
    assert (await run_due(app, clock.now()))["cadence_nudges"] == 2
    await app.delivery.drain()
    assert texts(app, "dana")[-1] == (
        "עדיין לא נקבעה פגישה של פורום השותפים של בית ספר יסודי אלונים (הדגמה) לדצמבר 2026. נמצא מועד?"
    )
    assert texts(app, "moshe")[-1] == (
        "עדיין לא נקבעה פגישה של פורום השותפים של מטה משרד החינוך לשבוע של 29 בנובמבר 2026. נמצא מועד?"
    )
    for day in (23, 24, 25):
        clock.set(datetime(2026, 11, day, 10, 0, tzinfo=TZ))
        assert (await run_due(app, clock.now()))["cadence_nudges"] == 0
    draft = plain((await press(app, "dana", "פתיחת סקר מועדים"))[0].text)
    assert draft.startswith("סקר מועדים לפורום השותפים של בית ספר יסודי אלונים (הדגמה).")
    # The next week, HQ is nudged again (weekly); the school is not (December is still its period).
    clock.set(datetime(2026, 11, 29, 9, 5, tzinfo=TZ))
    assert (await run_due(app, clock.now()))["cadence_nudges"] == 1
    await app.delivery.drain()
    assert "לשבוע של 6 בדצמבר 2026" in texts(app, "moshe")[-1]
    assert hq.name == "moshe" and s.lead.name == "dana"


async def test_a_forum_with_a_meeting_next_month_is_not_nudged(app: App, clock: FixedClock) -> None:
    s = await school(app)
    poll = await publish(s)
    await until_closed(app, clock, poll)
    await press(app, "dana", "✅ קביעת המועד: יום ה׳ 3.12 · 17:00")
    before = len(texts(app, "dana"))
    clock.set(datetime(2026, 11, 29, 9, 30, tzinfo=TZ))
    assert (await run_due(app, clock.now()))["cadence_nudges"] == 0
    clock.set(datetime(2026, 12, 20, 9, 30, tzinfo=TZ))  # the fast of 10 Tevet: no nudges today
    assert (await run_due(app, clock.now()))["cadence_nudges"] == 0
    clock.set(datetime(2026, 12, 21, 9, 30, tzinfo=TZ))  # from the 20th, January is the next period
    assert (await run_due(app, clock.now()))["cadence_nudges"] == 1
    await app.delivery.drain()
    assert len(texts(app, "dana")) == before + 1 and "לינואר 2027" in texts(app, "dana")[-1]
    assert s.lead.name == "dana"


async def test_run_due_from_the_command_line_closes_a_missed_poll(
    app: App, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await school(app)
    poll = await publish(s)
    await app.close()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORUMBOT_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    moment = (poll.deadline + timedelta(hours=5)).astimezone(UTC).isoformat()
    for _ in range(2):  # the second run finds nothing left to do
        assert await asyncio.to_thread(main, ["jobs", "run-due", "--now", moment]) == 0
    db = Database(database_url)
    try:
        async with db.sessions() as session:
            closed = await session.get(DatePoll, poll.id)
            assert closed is not None and closed.status == "closed"
        assert await outbox_count_in(db, f"datepoll:{poll.id}:closed:%") == 1
    finally:
        await db.dispose()
    assert s.lead.name == "dana"


async def outbox_count_in(db: Database, pattern: str) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedup_key.like(pattern))
        ) or 0)

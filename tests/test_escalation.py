"""Escalation up the tiers, digests, answers and decisions down — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import Outbound, OutKind
from bot.domain.calendar import IsraeliCalendar
from bot.domain.escalation import GapStatus, digest_slot, normalise, similar, split_lines
from bot.services.agenda import issues
from bot.services.escalation import forwarding as escalation
from bot.services.forums import invites
from bot.storage.models import OutboxMessage, Person
from bot.storage.models_agenda import AgendaItem, IssueHistory, RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink
from scheduler.jobs import run_due
from tests.helpers import import_demo, make_invite, plain, register

TZ = ZoneInfo("Asia/Jerusalem")
SCHOOL, SCHOOL2, AUTHORITY, DISTRICT, HQ = "S-DEMO-210101", "S-DEMO-210102", "A2100", "D-HAIFA", "HQ"


def local(d: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=TZ).astimezone(UTC)


async def tree(app: App) -> dict[str, int]:
    """A principal and a parent in a school, a second school's principal, and the leads above."""
    await import_demo(app)
    people = {
        "dana": (SCHOOL, "principal", "דנה לוי", "f"),
        "avi": (SCHOOL, "parent", "אבי כהן", "m"),
        "noa": (SCHOOL2, "principal", "נועה בר", "f"),
        "rina": (AUTHORITY, "education_department_head", "רינה מזרחי", "f"),
        "moshe": (DISTRICT, "district_manager", "משה פרץ", "m"),
        "hq": (HQ, "hq_coordinator", "יעל אורן", "f"),
    }
    for name, (forum, role, display, form) in people.items():
        await register(app, name, await make_invite(app, forum, role), display=display, form=form)
    ids = {}
    async with app.db.sessions() as session:
        for name, (_, _, display, _) in people.items():
            ids[name] = await session.scalar(select(Person.id).where(Person.display_name == display))
    return ids


async def raise_(app: App, who: int, forum_code: str, title: str, *, now: datetime, category: str = "staffing",
                 kind: str = "blocker") -> int:
    async with app.db.unit_of_work() as session:
        forum = await invites.forum_by_code(session, forum_code)
        person = await session.get(Person, who)
        assert person is not None
        raised = await issues.raise_issue(session, forum=forum, person=person, kind=kind, title=title,
                                          details="פרטים על הפער", category=category, show_name=False, now=now)
        return raised.issue.id


async def escalate(app: App, issue_id: int, *, by: int, now: datetime) -> escalation.Forwarded:
    """The issue forwarded up a tier by the person ``by`` (one of its forum's leads)."""
    async with app.db.unit_of_work() as session:
        lead = await session.get(Person, by)
        return await escalation.escalate_issue(session, issue_id=issue_id, person=lead, now=now)


async def transport_blocker_escalated(
    app: App, ids: dict[str, int], *, now: datetime
) -> tuple[int, escalation.Forwarded]:
    """Avi's blocker (no school bus to the new neighbourhood), forwarded by his principal to the authority."""
    issue_id = await raise_(app, ids["avi"], SCHOOL, "אין הסעה לשכונה החדשה", now=now, category="transport")
    return issue_id, await escalate(app, issue_id, by=ids["dana"], now=now)


async def texts_to(app: App, person_id: int, contains: str = "") -> list[str]:
    from bot.storage.models import ChannelIdentity

    async with app.db.sessions() as session:
        chat = await session.scalar(select(ChannelIdentity.chat_id).where(ChannelIdentity.person_id == person_id))
        rows = (await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.chat_id == chat)
                                      .order_by(OutboxMessage.id))).all()
    return [plain(p["text"]) for p in rows if contains in plain(p["text"])]


async def gaps(app: App) -> list[EscalatedGap]:
    async with app.db.sessions() as session:
        return list((await session.scalars(select(EscalatedGap).order_by(EscalatedGap.id))).all())


async def status_of(app: App, issue_id: int) -> str:
    async with app.db.sessions() as session:
        issue = await session.get(RaisedIssue, issue_id)
        assert issue is not None
        return issue.status


def test_rules_similarity_and_slots() -> None:
    assert normalise("  מחסור ביועצת!! ") == "מחסור ביועצת"
    assert similar(normalise("מחסור ביועצת"), normalise("מחסור ביועצות"))
    assert similar(normalise("מחסור ביועצת"), normalise("מחסור ביועצת בית ספר"))
    assert not similar(normalise("מחסור ביועצת"), normalise("אין הסעה לשכונה"))
    # Sunday 08:00 weekly by default: Tuesday's slot is the Sunday before; Sunday 07:59 is the week before.
    tuesday = local(date(2026, 11, 24), 12)
    assert digest_slot(tuesday, TZ, {}) == datetime(2026, 11, 22, 8, 0, tzinfo=TZ)
    assert digest_slot(local(date(2026, 11, 22), 7, 59), TZ, {}) == datetime(2026, 11, 15, 8, 0, tzinfo=TZ)
    assert digest_slot(tuesday, TZ, {"digest": {"weekday": 0, "hour": 9}}) == datetime(2026, 11, 23, 9, tzinfo=TZ)
    parts = split_lines([f"line {i} " + "x" * 90 for i in range(200)], 3500)
    assert all(len(p) <= 3500 for p in parts) and sum(p.count("\n") + 1 for p in parts) == 200


async def test_auto_forwarding_at_the_window_edge_across_a_holiday(app: App) -> None:
    ids = await tree(app)
    raised_on = date(2027, 4, 4)  # Sunday; Pesach falls inside the next 20 working days
    calendar = IsraeliCalendar()
    edge = calendar.add_working_days(raised_on, 20)
    assert (edge - raised_on).days > 28  # the holiday pushed the edge out
    issue_id = await raise_(app, ids["avi"], SCHOOL, "אין הסעה לשכונה", now=local(raised_on))

    await run_due(app, local(edge - timedelta(days=1), 20))
    assert await status_of(app, issue_id) == "open"
    await run_due(app, local(edge, 0, 5))
    assert await status_of(app, issue_id) == "escalated"
    await run_due(app, local(edge, 0, 10))  # a second tick (or process) does nothing more
    (_gap,) = await gaps(app)
    async with app.db.sessions() as session:
        links = (await session.scalars(select(EscalationLink))).all()
        history = (await session.scalars(select(IssueHistory).where(IssueHistory.issue_id == issue_id))).all()
    assert len(links) == 1 and links[0].via == "auto"
    assert [h.to_status for h in history] == ["open", "escalated"]
    assert history[-1].note == "עיריית טירת כרמל"
    # The school's lead hears it went up; the parent hears the issue moved.
    assert await texts_to(app, ids["dana"], "הועבר")
    assert await texts_to(app, ids["avi"], "עדכון על הפער")


async def test_manual_escalation_two_hops_and_the_answer_reaches_the_raiser(app: App) -> None:
    ids = await tree(app)
    now = app.clock.now()
    issue_id, done = await transport_blocker_escalated(app, ids, now=now)
    assert done.target.code == AUTHORITY and not done.merged
    # A parent (not a lead) cannot forward it, and the authority's lead cannot act as the school.
    async with app.db.unit_of_work() as session:
        rina = await session.get(Person, ids["rina"])
        hop = await escalation.forward_gap(session, gap_id=done.gap.id, person=rina, now=now)
        assert hop.target.code == DISTRICT
    first, second = await gaps(app)
    assert first.status == GapStatus.FORWARDED and first.forwarded_to_gap_id == second.id
    assert second.status == GapStatus.OPEN

    async with app.db.unit_of_work() as session:
        moshe = await session.get(Person, ids["moshe"])
        answered = await escalation.answer(session, gap_id=second.id, person=moshe,
                                           text="ההסעה תתחיל ביום ראשון הבא", now=now)
        # Down to the school it was raised in and to the authority it passed through.
        assert answered.issues == 1 and answered.forums == 2
    assert await status_of(app, issue_id) == "resolved"
    assert {g.status for g in await gaps(app)} == {"resolved"}
    told = await texts_to(app, ids["avi"], "ההסעה תתחיל ביום ראשון הבא")
    assert told and "נפתר" in told[-1]
    assert await texts_to(app, ids["dana"], "ההסעה תתחיל ביום ראשון הבא")
    (passed,) = await texts_to(app, ids["rina"], "ההסעה תתחיל ביום ראשון הבא")
    assert "התשובה ניתנה על ידי מנהל המחוז בפורום השותפים של מחוז חיפה." in passed


async def test_a_parent_cannot_escalate(app: App) -> None:
    ids = await tree(app)
    issue_id = await raise_(app, ids["avi"], SCHOOL, "אין הסעה", now=app.clock.now())
    async with app.db.unit_of_work() as session:
        avi = await session.get(Person, ids["avi"])
        try:
            await escalation.escalate_issue(session, issue_id=issue_id, person=avi, now=app.clock.now())
        except escalation.Forbidden:
            pass
        else:
            raise AssertionError("a parent escalated an issue")


async def test_similar_gaps_merge_and_one_answer_closes_them_all(app: App) -> None:
    ids = await tree(app)
    now = app.clock.now()
    one = await raise_(app, ids["avi"], SCHOOL, "מחסור ביועצת", now=now, kind="need")
    two = await raise_(app, ids["noa"], SCHOOL2, "מחסור ביועצת בית ספר", now=now)
    other = await raise_(app, ids["noa"], SCHOOL2, "מחסור ביועצת", now=now, category="budget")
    async with app.db.unit_of_work() as session:
        for lead, issue_id in (("dana", one), ("noa", two), ("noa", other)):
            person = await session.get(Person, ids[lead])
            await escalation.escalate_issue(session, issue_id=issue_id, person=person, now=now)
    merged, separate = await gaps(app)
    assert merged.kind == "blocker"  # the most severe of the two
    async with app.db.sessions() as session:
        assert await escalation.origin_issue_ids(session, merged.id) == [one, two]
        assert await escalation.origin_issue_ids(session, separate.id) == [other]
    from bot.i18n import Translator
    from bot.services.escalation import digest as escalation_digest

    async with app.db.sessions() as session:
        digests = await escalation_digest.build_digests(session, now)
        units = await escalation_digest.unit_names(session, digests.values())
        forum = await invites.forum_by_code(session, AUTHORITY)
        lines = escalation_digest.digest_lines(Translator("he"), forum, digests[forum.id], units, now)
    text = plain("\n".join(lines))
    assert "שני בתי ספר: בית ספר יסודי אלונים (הדגמה), חטיבת ביניים נופים (הדגמה)" in text
    async with app.db.unit_of_work() as session:
        rina = await session.get(Person, ids["rina"])
        await escalation.answer(session, gap_id=merged.id, person=rina, text="אושרה משרה נוספת", now=now)
    assert [await status_of(app, i) for i in (one, two, other)] == ["resolved", "resolved", "escalated"]
    assert await texts_to(app, ids["avi"], "אושרה משרה נוספת")
    assert await texts_to(app, ids["noa"], "אושרה משרה נוספת")


async def test_a_digest_is_built_sent_once_and_not_sent_when_empty(app: App, clock: FixedClock) -> None:
    ids = await tree(app)
    sunday = date(2026, 11, 29)
    await run_due(app, local(sunday, 8, 5))  # nothing was forwarded: no digest
    assert not await texts_to(app, ids["rina"], "ריכוז")

    issue_id = await raise_(app, ids["avi"], SCHOOL, "מחסור ביועצת", now=local(sunday, 10))
    await escalate(app, issue_id, by=ids["dana"], now=local(sunday, 10))
    await run_due(app, local(sunday, 12))  # it arrived after this week's slot: next Sunday's digest
    assert not await texts_to(app, ids["rina"], "ריכוז")

    next_sunday = sunday + timedelta(days=7)
    for minute in (1, 2):  # two ticks (or two processes): one digest
        await run_due(app, local(next_sunday, 8, minute))
    (digest,) = await texts_to(app, ids["rina"], "ריכוז")
    assert "חדשים מאז הריכוז הקודם:" in digest and "מחסור ביועצת" in digest
    assert "▸ בית ספר יסודי אלונים (הדגמה)" in digest
    async with app.db.sessions() as session:
        files = [p for p in (await session.scalars(select(OutboxMessage.payload))).all() if p.get("file")]
    assert files == []  # a single gap: nothing to compare, no chart of one bar

    clock.set(local(next_sunday, 8, 3))
    await app.delivery.drain()  # she got it
    await run_due(app, local(next_sunday + timedelta(days=7), 8, 1))  # a week on: still open, not new
    later = (await texts_to(app, ids["rina"], "ריכוז"))[-1]
    assert "חדשים מאז" not in later and "עדיין פתוחים:" in later and "13 ימים כאן" in later


async def test_a_long_digest_is_summarised_with_a_csv(sqlite_app: App) -> None:
    app = sqlite_app
    ids = await tree(app)
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        authority = await invites.forum_by_code(session, AUTHORITY)
        school = await invites.forum_by_code(session, SCHOOL)
        for n in range(150):
            gap = EscalatedGap(forum_id=authority.id, kind="need", category="other", title=f"פער מספר {n} " + "א" * 60,
                               norm_title=f"gap {n}", status="open", arrived_at=now, created_at=now, updated_at=now)
            session.add(gap)
            await session.flush()
            issue = RaisedIssue(forum_id=school.id, kind="need", category="other", title=gap.title, details="x",
                                show_name=False, raiser_role="parent", status="escalated", carried_count=0,
                                created_at=now, updated_at=now)
            session.add(issue)
            await session.flush()
            session.add(EscalationLink(gap_id=gap.id, issue_id=issue.id, via_forum_id=school.id, via="lead",
                                       created_at=now))
    await run_due(app, local(date(2026, 11, 29), 8, 1))
    async with app.db.sessions() as session:
        payloads = (await session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))).all()
    mine = [Outbound.from_json(p) for p in payloads if "ריכוז" in plain(p["text"]) or p.get("file")]
    assert all(len(m.text) <= 4096 for m in mine)
    csv_files = [m.file for m in mine if m.kind is OutKind.FILE and m.file and m.file.mime == "text/csv"]
    assert len(csv_files) == 1
    rows = csv_files[0].data.decode("utf-8-sig").splitlines()
    assert len(rows) == 151 and "פער מספר 149" in rows[-1]
    assert ids


async def test_an_announcement_from_hq_reaches_a_school_forum(app: App) -> None:
    from bot.services.escalation import announcements

    ids = await tree(app)
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        hq_forum = await invites.forum_by_code(session, HQ)
        coordinator = await session.get(Person, ids["hq"])
        assert coordinator is not None
        await announcements.announce(session, forum=hq_forum, person=coordinator, tiers=["school"], now=now,
                                     text="תוכנית החירום לשנה\nכל בית ספר יתרגל את נוהל החירום עד סוף החודש.")
        principal = await session.get(Person, ids["dana"])
        school_forum = await invites.forum_by_code(session, SCHOOL)
        assert principal is not None
        try:
            await announcements.announce(session, forum=school_forum, person=principal, tiers=["school"],
                                         text="לא אמור לעבור", now=now)
        except announcements.Forbidden:
            pass
        else:
            raise AssertionError("a school lead announced down")
    await run_due(app, now)
    await run_due(app, now + timedelta(minutes=1))
    for person in ("dana", "avi", "noa"):
        (told,) = await texts_to(app, ids[person], "החלטה או עדכון מפורום השותפים של מטה משרד החינוך")
        assert "כל בית ספר יתרגל" in told
    assert not await texts_to(app, ids["rina"], "תוכנית החירום")  # authorities were not chosen
    async with app.db.sessions() as session:
        school_forum = await invites.forum_by_code(session, SCHOOL)
        items = (await session.scalars(select(AgendaItem).where(AgendaItem.forum_id == school_forum.id))).all()
        assert [(i.title, i.status, i.origin) for i in items] == [("תוכנית החירום לשנה", "suggested", "above")]
        total = await session.scalar(select(func.count()).select_from(AgendaItem))
    assert total == 11  # every school in the demo tree, once

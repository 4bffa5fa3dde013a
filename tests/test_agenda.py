"""Agenda items, raised issues and meeting outcomes, through the console channel's own code path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import EventKind, Inbound, Outbound
from bot.domain.agenda import IssueStatus
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.errors import Forbidden, Refused
from bot.services.forums import invites
from bot.services.meetings import outcomes
from bot.storage.models import Membership
from bot.storage.models_agenda import AgendaItem, IssueHistory, RaisedIssue
from scheduler.jobs import run_due
from tests.helpers import (
    ConsoleUser,
    console_sender,
    import_demo,
    make_invite,
    person_of,
    plain,
    principal_and_parent,
    register,
)

SCHOOL = "S-DEMO-210101"
OTHER_SCHOOL = "S-DEMO-400101"
MEETING = "1.12.2026 18:00"  # Tuesday, Jerusalem; T0 is Sunday 22.11.2026 09:00
MEETING_AT = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def inbox(app: App, chat: str) -> list[Outbound]:
    return [m for c, m in console_sender(app).sent if c == chat]


def last_text(app: App, chat: str) -> str:
    return plain(inbox(app, chat)[-1].text)


async def press(user: ConsoleUser, label: str) -> str:
    """Press a button on the last message with buttons in the user's chat (a reply or a notice)."""
    with_buttons = [m for m in inbox(user.app, user.name) if m.all_buttons]
    labels = [plain(b.label) for b in with_buttons[-1].all_buttons]
    assert label in labels, f"{label!r} not in {labels}"
    return await user.text_of(str(labels.index(label) + 1))


async def school(app: App) -> tuple[ConsoleUser, ConsoleUser, ConsoleUser]:
    """The principal (Dana, the lead), a parent (Avi) and the counsellor (Rana) of one school forum."""
    dana, avi = await principal_and_parent(app, SCHOOL)
    rana = await register(app, "rana", await make_invite(app, SCHOOL, "counsellor"), form="f", display="רנא חורי")
    return dana, avi, rana


async def set_meeting(dana: ConsoleUser, when: str = MEETING) -> str:
    await dana.say("/agenda")
    await press(dana, "קביעת מועד הפגישה")
    return await dana.text_of(when)


async def propose(user: ConsoleUser, title: str, details: str | None = None) -> str:
    await user.say("/agenda")
    await press(user, "הצעת נושא")
    await user.say(title)
    if details is None:
        await press(user, "בלי פירוט")
    else:
        await user.say(details)
    # A member sends it to the forum's lead; the lead adds their own item to the agenda.
    labels = [plain(b.label) for b in user.last.all_buttons]
    return await press(user, "הוספה לסדר היום" if "הוספה לסדר היום" in labels else "שליחה")


async def raise_issue(user: ConsoleUser, title: str, *, kind: str = "חסם", show: str = "role") -> str:
    await user.say("/issue")
    await press(user, kind)
    await user.say(title)
    await user.say("אין הסעה מסודרת לתלמידים מהשכונה החדשה מאז תחילת השנה.")
    await press(user, "הסעות")
    labels = [plain(b.label) for b in user.last.all_buttons]
    await press(user, labels[0] if show == "name" else labels[1])
    return await press(user, "שליחה")


async def record_decision(lead: ConsoleUser, clock: FixedClock, decision: str, owner: str, *, hours: int = 2) -> str:
    """``hours`` after the meeting began, the lead records ``decision`` on its first subject with ``owner``
    in charge; returns what the bot says next (when it is due, or the next subject)."""
    clock.set(MEETING_AT + timedelta(hours=hours))
    await lead.say("/meeting")
    await press(lead, "תיעוד החלטה")
    await lead.say(decision)
    return await press(lead, owner)


async def test_the_whole_lifecycle_in_hebrew(app: App, clock: FixedClock) -> None:
    dana, avi, rana = await school(app)
    empty = await dana.text_of("/agenda")
    assert "סדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה) (לפגישה הבאה עוד לא נקבע מועד):" in empty
    set_reply = await set_meeting(dana)
    assert "הפגישה הבאה תתקיים ביום שלישי, 1 בדצמבר 2026 בשעה 18:00." in set_reply
    assert "אפשר להציע נושאים עד יום ראשון, 29 בנובמבר 2026 בשעה 18:00." in set_reply

    # A parent proposes an item; the principal is asked, accepts, and the parent is told (masculine).
    sent = await propose(avi, "הסעות לטיול השנתי", "צריך לסגור ספק עד סוף החודש")
    assert "תודה! הנושא נשלח למובילי הפורום, לקראת הפגישה ביום שלישי, 1 בדצמבר 2026 בשעה 18:00." in sent
    notice = last_text(app, "dana")
    assert "הצעה חדשה לסדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה), מאת אבי כהן (הורה):" in notice
    assert "\"הסעות לטיול השנתי\"" in notice and "צריך לסגור ספק" in notice
    assert "נכנס לסדר היום" in await press(dana, "אישור")
    assert last_text(app, "avi") == (
        'הנושא שהצעת, "הסעות לטיול השנתי", נכנס לסדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה).'
    )

    # A parent raises a blocker, showing only the role; the lead is told.
    thanks = await raise_issue(avi, "אין הסעה לשכונה החדשה")
    assert "תודה. הפער נרשם, ומספרו #1. מובילי הפורום קיבלו הודעה, ואעדכן אותך בכל שינוי בסטטוס שלו." in thanks
    told = last_text(app, "dana")
    assert "פער חדש הועלה בפורום השותפים של בית ספר יסודי אלונים (הדגמה) (חסם):" in told
    assert "\"אין הסעה לשכונה החדשה\" — הורה" in told and "אבי" not in told

    listing = await rana.text_of("/issues")
    assert "פער פתוח אחד בפורום השותפים של בית ספר יסודי אלונים (הדגמה):" in listing
    assert "#1 · חסם · אין הסעה לשכונה החדשה — הורה · פתוח" in listing and "אבי" not in listing

    agenda_text = await rana.text_of("/agenda")
    assert "1. הסעות לטיול השנתי" in agenda_text
    assert "פערים שהועלו ועדיין פתוחים:" in agenda_text and "#1 · חסם" in agenda_text

    # After the meeting the principal records a decision and puts the issue in progress.
    clock.set(MEETING_AT + timedelta(hours=2))
    start = await dana.text_of("/meeting")
    assert "תיעוד תוצאות הפגישה מיום שלישי, 1 בדצמבר 2026 בשעה 18:00." in start
    assert "יש שני נושאים לעבור עליהם." in start and "נושא בסדר היום:" in start
    await press(dana, "תיעוד החלטה")
    await dana.say("נבחר ספק ההסעות הזול מבין שלוש הצעות")
    await press(dana, "רנא חורי (יועצת בית הספר)")
    assert "פער שהועלה:" in await press(dana, "בעוד שבוע")
    await press(dana, "בטיפול")
    await press(dana, "דנה לוי (מנהלת בית הספר)")
    await press(dana, "בעוד שבועיים")
    update = last_text(app, "avi")
    assert update.startswith(
        'עדכון על הפער שהעלית בפורום השותפים של בית ספר יסודי אלונים (הדגמה), "אין הסעה לשכונה החדשה": בטיפול.'
    )
    assert "באחריות: דנה לוי (מנהלת בית הספר), עד 15 בדצמבר 2026." in update
    assert "זה הכול" in last_text(app, "dana")
    assert "הסיכום נשלח ל־3 חברי פורום." in await press(dana, "שליחת הסיכום")
    summary = last_text(app, "rana")
    assert summary.startswith("סיכום הפגישה של פורום השותפים של בית ספר יסודי אלונים (הדגמה) מיום שלישי")
    assert (
        "• הסעות לטיול השנתי: נבחר ספק ההסעות הזול מבין שלוש הצעות (רנא חורי (יועצת בית הספר), עד 8 בדצמבר 2026)"
        in summary
    )
    assert "• #1 אין הסעה לשכונה החדשה — בטיפול (דנה לוי (מנהלת בית הספר), עד 15 בדצמבר 2026)" in summary
    assert "פער פתוח אחד נשאר על סדר היום." in summary
    assert "כבר תועדו" in await dana.text_of("/meeting")  # once per meeting

    # Every change is kept in the history.
    async with app.db.sessions() as session:
        history = (await session.scalars(select(IssueHistory).order_by(IssueHistory.id))).all()
    assert [(h.kind, h.from_status, h.to_status) for h in history] == [
        ("created", None, "open"), ("status", "open", "in_progress"), ("carried_over", "in_progress", "in_progress"),
    ]
    details = await rana.text_of("/issues")
    assert "בטיפול: דנה לוי (מנהלת בית הספר), עד 15 בדצמבר 2026" in details
    assert "הועבר מפגישה קודמת" in details

    # Owners are reminded two days before, once per due date, in the daytime.
    clock.set(datetime(2026, 12, 6, 7, 0, tzinfo=UTC))
    assert (await run_due(app, clock.now()))["agenda_due_reminders"] == 1
    await app.delivery.drain()
    assert last_text(app, "rana") == (
        'תזכורת: "הסעות לטיול השנתי" בפורום השותפים של בית ספר יסודי אלונים (הדגמה) באחריותך, עד 8 בדצמבר 2026.\n'
        "מה הוחלט: נבחר ספק ההסעות הזול מבין שלוש הצעות"
    )
    assert (await run_due(app, clock.now() + timedelta(hours=1)))["agenda_due_reminders"] == 0
    clock.set(datetime(2026, 12, 13, 7, 0, tzinfo=UTC))
    assert (await run_due(app, clock.now()))["agenda_due_reminders"] == 1
    await app.delivery.drain()
    assert "#1 אין הסעה לשכונה החדשה" in last_text(app, "dana")


async def test_intake_closes_before_the_meeting_and_late_items_wait_for_the_next(app: App, clock: FixedClock) -> None:
    dana, avi, _ = await school(app)
    await set_meeting(dana)
    clock.set(datetime(2026, 11, 29, 16, 1, tzinfo=UTC))  # 18:01 on Sunday: intake for Tuesday closed at 18:00
    late = await propose(avi, "ציוד לחדר המחשבים")
    assert late == (
        "תודה! הגשת הנושאים לפגישה ביום שלישי, 1 בדצמבר 2026 בשעה 18:00 כבר נסגרה, ולכן הנושא נשלח "
        "למובילי הפורום לקראת הפגישה שאחריה."
    )
    await press(dana, "אישור")
    assert "ציוד לחדר המחשבים" not in await dana.text_of("/agenda")
    own = await propose(dana, "עדכון מהנהלת בית הספר")  # the lead sets the agenda even after intake closed
    assert own == 'נוסף לסדר היום: "עדכון מהנהלת בית הספר".'
    assert "1. עדכון מהנהלת בית הספר" in await dana.text_of("/agenda")

    await record_decision(dana, clock, "עודכן", "אין אחראי מסוים", hours=3)
    await press(dana, "שליחת הסיכום")
    next_set = await set_meeting(dana, "5.1.2027 17:30")
    assert "הפגישה הבאה תתקיים ביום שלישי, 5 בינואר 2027 בשעה 17:30." in next_set
    agenda_text = await dana.text_of("/agenda")
    assert "1. ציוד לחדר המחשבים" in agenda_text and "עדכון מהנהלת" not in agenda_text

    # A configurable cutoff: a week before.
    await dana.say("/agenda")
    await press(dana, "מתי נסגרת ההגשה")
    assert await press(dana, "שבוע לפני הפגישה") == "נשמר: הגשת הנושאים תיסגר שבוע לפני הפגישה."
    clock.set(datetime(2026, 12, 30, 10, 0, tzinfo=UTC))  # six days before the meeting
    assert "כבר נסגרה" in await propose(avi, "מאוחר מדי")


async def test_what_a_meeting_did_not_reach_carries_over(app: App, clock: FixedClock) -> None:
    dana, avi, rana = await school(app)
    await set_meeting(dana)
    await propose(avi, "חוג רובוטיקה")
    await press(dana, "אישור")
    await raise_issue(rana, "חסרה יועצת נוספת", kind="צורך", show="name")
    clock.set(MEETING_AT + timedelta(hours=2))
    await dana.say("/meeting")
    await press(dana, "לא נדון: לפגישה הבאה")
    await press(dana, "ללא שינוי")
    assert "הסיכום נשלח" in await press(dana, "שליחת הסיכום")
    summary = last_text(app, "avi")
    assert "לא תועדו החלטות." in summary
    assert "נושא אחד עובר לפגישה הבאה." in summary and "פער פתוח אחד נשאר על סדר היום." in summary
    await set_meeting(dana, "5.1.2027 17:30")
    agenda_text = await avi.text_of("/agenda")
    assert "1. חוג רובוטיקה (הועבר מהפגישה ב־1 בדצמבר 2026)" in agenda_text
    assert "#1 · צורך · חסרה יועצת נוספת — רנא חורי (יועצת בית הספר) · פתוח · הועבר מפגישה קודמת" in agenda_text
    await avi.say("/issues")
    details = await press(avi, "#1")
    assert details.startswith("#1 · צורך · הסעות\n\"חסרה יועצת נוספת\"\n")
    assert "הועלה על ידי רנא חורי (יועצת בית הספר) ב־22 בנובמבר 2026." in details
    assert "היסטוריה:\n• 1.12.2026 — הועבר לפגישה הבאה" in details
    clock.set(datetime(2027, 1, 5, 17, 0, tzinfo=UTC))
    again = await dana.text_of("/meeting")
    assert "יש שני נושאים לעבור עליהם." in again and "חוג רובוטיקה" in again


async def test_the_raisers_name_is_private_unless_shown_and_forgotten_people_keep_only_their_role(app: App) -> None:
    dana, avi, rana = await school(app)
    await raise_issue(avi, "פער בלי שם", show="role")
    await raise_issue(rana, "פער עם שם", kind="קושי", show="name")
    listing = await avi.text_of("/issues")
    assert "פער בלי שם — הורה ·" in listing
    assert "פער עם שם — רנא חורי (יועצת בית הספר) ·" in listing
    exported = await export_rows(app, "issues")
    assert [row[6] for row in exported[1:]] == ["הורה", "רנא חורי (יועצת בית הספר)"]
    mine = await mydata(rana)
    assert [i["title"] for i in mine["raised_issues"]] == ["פער עם שם"]
    assert mine["raised_issues"][0]["name_shown_to_members"] is True
    await rana.say("/forget")
    await press(rana, "מחיקה")
    after = await dana.text_of("/issues")
    assert "פער עם שם — יועץ/ת בית הספר ·" in after and "רנא" not in after
    assert [row[6] for row in (await export_rows(app, "issues"))[1:]] == ["הורה", "יועץ/ת בית הספר"]


async def mydata(user: ConsoleUser) -> dict[str, object]:
    import json

    await user.say("/mydata")
    file = user.last.file
    assert file is not None
    data: dict[str, object] = json.loads(file.data)
    return data


async def export_rows(app: App, what: str) -> list[list[str]]:
    import csv
    import io

    from bot.i18n import Translator
    from bot.services.meetings import exports

    async with app.db.sessions() as session:
        forum = await invites.forum_by_code(session, SCHOOL)
        made = await exports.export(session, forum=forum, what=what, fmt="csv", t=Translator("he"), operator=True)
    assert made.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(made.data.decode("utf-8-sig"))))


async def test_members_of_another_forum_see_nothing(app: App) -> None:
    _dana, avi, _ = await school(app)
    noa = await register(app, "noa", await make_invite(app, OTHER_SCHOOL, "parent"), display="נועה ברק")
    await raise_issue(avi, "מידע פנימי מאוד")
    listing = await noa.text_of("/issues")
    assert listing == "אין פערים פתוחים בפורום השותפים של בית ספר יסודי הכרמל (הדגמה). להעלאת פער: /issue"
    assert "מידע פנימי" not in await noa.text_of("/agenda")
    noa_person = await person_of(app, "noa")
    async with app.db.sessions() as session:
        forum = await agenda.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        with pytest.raises(Forbidden):
            await issues.open_issues(session, forum=forum, person=noa_person)
        with pytest.raises(Forbidden):
            await issues.issue_for_member(session, issue_id=1, person=noa_person)
        with pytest.raises(Forbidden):
            await agenda.view_agenda(session, forum=forum, person=noa_person, now=app.clock.now())
    # A button of the list works only for the person it was sent to.
    await avi.say("/issues")
    token = avi.last.all_buttons[0].token
    [reply] = await app.conversations.handle(
        Inbound(channel="console", user_id="noa", chat_id="noa", kind=EventKind.CHOICE, token=token)
    )
    assert "לא מיועד" in reply.text


async def test_a_decline_without_a_reason_is_refused(app: App) -> None:
    dana, avi, _ = await school(app)
    await propose(avi, "נושא שיידחה")
    await press(dana, "סירוב")
    refused = await dana.text_of("\u200b\u200f")  # nothing left once bidi and zero-width marks are cleaned
    assert refused == "בלי אישור צריך נימוק: מי שהציע את הנושא יראה אותו."
    assert await dana.text_of("כבר נדון בפגישה הקודמת") == 'לא אושר: "נושא שיידחה". הנימוק הועבר למי שהציע את הנושא.'
    assert last_text(app, "avi").endswith("לא נכנס לסדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה). "
                                          "הנימוק: כבר נדון בפגישה הקודמת")
    lead, parent = await person_of(app, "dana"), await person_of(app, "avi")
    async with app.db.unit_of_work() as session:
        forum = await invites.forum_by_code(session, SCHOOL)
        issue = (await issues.raise_issue(
            session, forum=forum, person=lead, kind="need", title="צורך", details="פירוט", category=None,
            show_name=False, now=app.clock.now(),
        )).issue
        with pytest.raises(Refused, match="Declining needs a reason"):
            await issues.change_status(session, issue_id=issue.id, person=lead, to="declined", note="  ",
                                       now=app.clock.now())
        with pytest.raises(Refused, match="needs the resolution"):
            await issues.change_status(session, issue_id=issue.id, person=lead, to="resolved", now=app.clock.now())
        with pytest.raises(Refused, match="needs someone in charge"):
            await issues.change_status(session, issue_id=issue.id, person=lead, to="in_progress", now=app.clock.now())
        item = (await agenda.propose_item(session, forum=forum, person=parent,
                                          title="עוד נושא", details=None, now=app.clock.now())).item
        for empty in (None, "", " \u200f\u200b "):
            with pytest.raises(Refused, match="Declining needs a reason"):
                await agenda.decline_item(session, item_id=item.id, person=lead, reason=empty, now=app.clock.now())


async def test_a_lead_whose_seat_ended_cannot_decline_from_an_old_notice(app: App) -> None:
    """The proposal's notice still has its buttons, but its lead no longer leads: "Decline" is refused
    before any reason is asked for, and the item stays as it was."""
    dana, avi, _ = await school(app)
    await propose(avi, "נושא שממתין")
    lead = await person_of(app, "dana")
    async with app.db.unit_of_work() as session:
        await session.execute(
            update(Membership).where(Membership.person_id == lead.id).values(revoked_at=app.clock.now())
        )
    assert await press(dana, "סירוב") == "רק מובילי הפורום יכולים לעשות זאת."
    assert "/help" in await dana.text_of("כבר נדון")  # no reason was awaited: plain text, not a decline
    async with app.db.sessions() as session:
        item = await session.scalar(select(AgendaItem).where(AgendaItem.title == "נושא שממתין"))
        assert item is not None and item.status == "proposed" and item.decline_reason is None


async def test_only_the_transition_table_moves_an_issue(app: App) -> None:
    _dana, avi, _ = await school(app)
    await raise_issue(avi, "בעיה")
    lead, parent = await person_of(app, "dana"), await person_of(app, "avi")
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        with pytest.raises(Forbidden):
            await issues.change_status(session, issue_id=1, person=parent, to="resolved", note="x", now=now)
        await issues.change_status(session, issue_id=1, person=lead, to="resolved", note="נמצא פתרון", now=now)
        with pytest.raises(Refused, match="not possible"):
            await issues.change_status(session, issue_id=1, person=lead, to="discussed", now=now)
        issue = await session.get(RaisedIssue, 1)
        assert issue is not None and issue.status == IssueStatus.RESOLVED and issue.resolution == "נמצא פתרון"
    await app.delivery.drain()
    assert "הפתרון: נמצא פתרון" in last_text(app, "avi")


async def test_a_second_press_of_send_creates_one_item_and_one_issue(app: App) -> None:
    _dana, avi, _ = await school(app)
    await avi.say("/agenda")
    await press(avi, "הצעת נושא")
    await avi.say("נושא אחד בלבד")
    await press(avi, "בלי פירוט")
    send_token = avi.last.all_buttons[0].token
    for n in range(2):
        await app.conversations.handle(
            Inbound(channel="console", user_id="avi", chat_id="avi", kind=EventKind.CHOICE, token=send_token,
                    update_key=f"double-{n}")
        )
    avi_person = await person_of(app, "avi")
    async with app.db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(AgendaItem)) == 1
        forum = await invites.forum_by_code(session, SCHOOL)
        await agenda.load_forum(session, forum.id)
        first = await issues.raise_issue(session, forum=forum, person=avi_person, kind="need", title="כפול",
                                         details="פירוט", category="budget", show_name=False,
                                         now=app.clock.now(), submit_key="k1")
        second = await issues.raise_issue(session, forum=forum, person=avi_person, kind="need", title="כפול",
                                          details="פירוט", category="budget", show_name=False,
                                          now=app.clock.now(), submit_key="k1")
        assert first.created and not second.created and first.issue.id == second.issue.id
        assert await session.scalar(select(func.count()).select_from(RaisedIssue)) == 1
        assert await session.scalar(select(func.count()).select_from(IssueHistory)) == 1


async def test_topics_from_a_higher_tier_are_suggested_items(app: App) -> None:
    dana, _, rana = await school(app)
    async with app.db.unit_of_work() as session:
        forum = await invites.forum_by_code(session, SCHOOL)
        district = await invites.forum_by_code(session, "D-HAIFA")
        await agenda.suggest_from_above(session, forum.id, "היערכות לחירום", "הנחיות חדשות", district.id,
                                        app.clock.now(), system=True)
    await app.delivery.drain()
    notice = last_text(app, "dana")
    assert notice.startswith("הצעה מהמחוז: נושא לסדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה)")
    await press(dana, "אישור")
    assert "1. היערכות לחירום (הצעה מהמחוז)" in await rana.text_of("/agenda")


async def test_the_lead_reorders_the_agenda(app: App) -> None:
    dana, avi, _ = await school(app)
    for title in ("ראשון", "שני", "שלישי"):
        await propose(dana, title)
    await dana.say("/agenda")
    await press(dana, "שינוי הסדר")
    await press(dana, "▼")  # the first item's ▼ is the second button
    text = await dana.text_of("/agenda")
    assert text.index("1. שני") < text.index("2. ראשון") < text.index("3. שלישי")
    assert "שינוי הסדר" not in [plain(b.label) for b in (await avi.say("/agenda"))[0].all_buttons]
    parent = await person_of(app, "avi")
    async with app.db.unit_of_work() as session:
        with pytest.raises(Forbidden):
            await agenda.move_item(session, item_id=1, person=parent, delta=1, now=app.clock.now())


async def test_the_day_before_one_message_reminds_and_carries_the_agenda(app: App, clock: FixedClock) -> None:
    dana, avi, rana = await school(app)
    await set_meeting(dana)
    await propose(dana, "תקציב שנתי")
    clock.set(datetime(2026, 11, 30, 7, 59, tzinfo=UTC))  # 09:59 on Monday, the day before
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 0
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # 10:00
    before = {user.name: len(inbox(app, user.name)) for user in (dana, avi, rana)}
    assert (await run_due(app, clock.now()))["meeting_reminders"] == 3
    await app.delivery.drain()
    for user in (dana, avi, rana):
        assert len(inbox(app, user.name)) == before[user.name] + 1  # one message, not two
        text = last_text(app, user.name)
        assert text.startswith("⏰ תזכורת")
        assert "מחר" in text
        assert "סדר היום של פורום השותפים של בית ספר יסודי אלונים (הדגמה)" in text
        assert "1. תקציב שנתי" in text
    assert (await run_due(app, clock.now() + timedelta(hours=1)))["meeting_reminders"] == 0


async def test_mydata_includes_issues_and_items(app: App) -> None:
    _, avi, _ = await school(app)
    await propose(avi, "הצעה שלי", "עם פירוט")
    await raise_issue(avi, "פער שלי")
    data = await mydata(avi)
    assert [i["title"] for i in data["proposed_agenda_items"]] == ["הצעה שלי"]  # type: ignore[index]
    assert data["raised_issues"][0]["kind"] == "blocker"  # type: ignore[index]
    assert data["raised_issues"][0]["role"] == "parent"  # type: ignore[index]


async def test_meeting_needs_a_date_that_has_come(app: App) -> None:
    dana, avi, _ = await school(app)
    assert "לא נקבע מועד לפגישה" in await dana.text_of("/meeting")
    await set_meeting(dana)
    assert "עוד לא התחילה" in await dana.text_of("/meeting")
    assert "רק מובילי הפורום" in await avi.text_of("/meeting")
    assert "אי אפשר" not in await dana.text_of("/cancel")
    bad = await set_meeting(dana, "מחר בערב")
    assert bad.startswith("לא הצלחתי להבין. נא לשלוח תאריך ושעה, למשל:")
    assert "כבר עבר" in await dana.text_of("1.11.2026 18:00")


async def test_english_and_arabic_readers(app: App) -> None:
    await import_demo(app)
    lead = await register(app, "lead", await make_invite(app, SCHOOL, "principal"), language="en", display="Lee")
    sami = await register(app, "sami", await make_invite(app, SCHOOL, "parent"), language="ar", form="m",
                          display="سامي")
    await sami.say("/issue")
    await press(sami, "عائق")
    await sami.say("لا توجد مواصلات")
    await sami.say("التلاميذ يصلون متأخرين كل يوم")
    await press(sami, "تخطّي")
    await press(sami, "دوري فقط (وليّ/ة أمر)")
    thanks = await press(sami, "إرسال")
    assert thanks == "شكرًا. سُجّلت الفجوة برقم #1 وأُبلغ مركّزو المنتدى. سأُعلمك كلما تغيّرت حالتها."
    told = last_text(app, "lead")
    assert told.startswith("A new issue was raised in the partners forum of Alonim Elementary School (demo) (Blocker):")
    assert "— Parent" in told
    listing = await lead.text_of("/issues")
    assert "#1 · Blocker · لا توجد مواصلات — Parent · Open" in listing


def test_date_parsing() -> None:
    from zoneinfo import ZoneInfo

    from bot.domain.agenda import moved, parse_day, parse_meeting_at

    today = date(2026, 11, 22)
    assert parse_day("31.12", today) == date(2026, 12, 31)
    assert parse_day("1/2", today) == date(2027, 2, 1)
    assert parse_day("31.12.26", today) == date(2026, 12, 31)
    assert parse_day("2027-01-05", today) == date(2027, 1, 5)
    assert parse_day("31.2", today) is None and parse_day("soon", today) is None
    tz = ZoneInfo("Asia/Jerusalem")
    assert parse_meeting_at("18:00 1.12", today, tz) == datetime(2026, 12, 1, 18, 0, tzinfo=tz)
    assert parse_meeting_at("1.12.2026 25:00", today, tz) is None
    assert moved([1, 2, 3], 1, 1) == [2, 1, 3] and moved([1, 2, 3], 1, -1) == [1, 2, 3]
    assert moved([1, 2, 3], 3, 5) == [1, 2, 3]


async def test_meetings_service_refuses_past_due_dates_and_strangers(app: App, clock: FixedClock) -> None:
    dana, avi, _ = await school(app)
    await set_meeting(dana)
    await raise_issue(avi, "בעיה")
    clock.set(MEETING_AT + timedelta(hours=1))
    lead, parent = await person_of(app, "dana"), await person_of(app, "avi")
    outsider = await register(app, "noa", await make_invite(app, OTHER_SCHOOL, "principal"))
    noa = await person_of(app, outsider.name)
    async with app.db.unit_of_work() as session:
        with pytest.raises(Refused, match="already passed"):
            await outcomes.record_issue_outcome(
                session, issue_id=1, person=lead, meeting_at=MEETING_AT, status="in_progress",
                owner_person_id=lead.id, due_date=date(2026, 11, 1), now=clock.now(),
            )
    async with app.db.unit_of_work() as session:
        with pytest.raises(Refused, match="member of the forum"):
            await outcomes.record_issue_outcome(
                session, issue_id=1, person=lead, meeting_at=MEETING_AT, status="in_progress",
                owner_person_id=noa.id, due_date=date(2026, 12, 20), now=clock.now(),
            )
    async with app.db.unit_of_work() as session:
        forum = await agenda.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        with pytest.raises(Forbidden):
            await outcomes.close_meeting(session, forum=forum, person=parent, meeting_at=MEETING_AT, now=clock.now())


async def test_no_reminder_for_an_issue_that_moved_on(app: App, clock: FixedClock) -> None:
    dana, avi, _ = await school(app)
    await set_meeting(dana)
    await raise_issue(avi, "בעיה שתיפתר")
    clock.set(MEETING_AT + timedelta(hours=1))
    lead = await person_of(app, "dana")
    async with app.db.unit_of_work() as session:
        await outcomes.record_issue_outcome(
            session, issue_id=1, person=lead, meeting_at=MEETING_AT, status="in_progress",
            owner_person_id=lead.id, due_date=date(2026, 12, 10), now=clock.now(),
        )
        await issues.change_status(session, issue_id=1, person=lead, to="resolved", note="טופל", now=clock.now())
    await app.delivery.drain()
    before = len(inbox(app, "dana"))
    clock.set(datetime(2026, 12, 8, 7, 0, tzinfo=UTC))
    assert (await run_due(app, clock.now()))["agenda_due_reminders"] == 0
    await app.delivery.drain()
    assert len(inbox(app, "dana")) == before
    async with app.db.sessions() as session:
        from bot.storage.models_agenda import MeetingDecision

        decision = await session.scalar(select(MeetingDecision))
        assert decision is not None and decision.reminded_for == date(2026, 12, 10)  # handled, not scanned again


async def test_a_long_agenda_stays_within_a_message(app: App) -> None:
    from bot.i18n import Translator
    from bot.services.texts import MAX_MESSAGE

    await school(app)
    lead, parent = await person_of(app, "dana"), await person_of(app, "avi")
    async with app.db.unit_of_work() as session:
        forum = await agenda.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        for n in range(17):
            await issues.raise_issue(session, forum=forum, person=parent, kind="need", title=f"צורך {n} " + "א" * 100,
                                     details="פירוט", category=None, show_name=False, now=app.clock.now())
        for n in range(40):
            await agenda.propose_item(session, forum=forum, person=lead, title=f"נושא {n} " + "ב" * 100,
                                      details=None, now=app.clock.now())
        text = (await agenda.coming_agenda(session, forum, app.clock.now())).text(Translator("he"))
    assert len(text) <= MAX_MESSAGE and text.endswith("\n…")
    async with app.db.unit_of_work() as session:
        forum = await agenda.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        await session.execute(AgendaItem.__table__.delete())
        text = (await agenda.coming_agenda(session, forum, app.clock.now())).text(Translator("he"))
    assert "…ועוד שני פערים: \u200e/issues\u200f" in text and plain(text).count("• #") == 15

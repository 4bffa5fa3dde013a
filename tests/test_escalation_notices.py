"""Who is told while a gap travels up and its answer comes down, and digests after downtime — in
the console: people press the buttons, the scheduler runs, and every notice is read where it
arrives, after the real delivery path (outbox → delivery → console adapter)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import Outbound
from bot.domain.calendar import IsraeliCalendar
from bot.services.agenda import issues
from bot.services.escalation import forwarding as escalation
from bot.services.forums import invites
from bot.storage.models import OutboxMessage
from scheduler.jobs import run_due
from tests.helpers import ConsoleUser, console_sender, import_demo, make_invite, person_of, plain, register
from tests.test_agenda import SCHOOL, inbox, press, raise_issue

TZ = ZoneInfo("Asia/Jerusalem")
AUTHORITY, DISTRICT = "A2100", "D-HAIFA"
TITLE = "אין הסעה לשכונה החדשה"
SCHOOL_FORUM = "פורום השותפים של בית ספר יסודי אלונים (הדגמה)"
AUTHORITY_FORUM = "פורום השותפים של עיריית טירת כרמל"
DISTRICT_FORUM = "פורום השותפים של מחוז חיפה"


def local(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=TZ).astimezone(UTC)


def texts(app: App, chat: str, contains: str = "") -> list[str]:
    return [plain(m.text) for m in inbox(app, chat) if contains in plain(m.text)]


async def tap(user: ConsoleUser, message: Outbound, label: str) -> str:
    """Press a button of an earlier message (as one can on Telegram), not only of the last one."""
    labels = [plain(b.label) for b in message.all_buttons]
    assert label in labels, f"{label!r} not in {labels}"
    console_sender(user.app).last_tokens[user.name] = [b.token for b in message.all_buttons]
    return await user.text_of(str(labels.index(label) + 1))


def digest_of(app: App, chat: str) -> Outbound:
    return [m for m in inbox(app, chat) if "ריכוז הפערים" in plain(m.text) and m.all_buttons][-1]


async def tick(app: App, clock: FixedClock, at: datetime) -> None:
    clock.set(at)
    await run_due(app, at)
    await app.delivery.drain()


async def people(app: App) -> dict[str, ConsoleUser]:
    await import_demo(app)
    return {
        "dana": await register(app, "dana", await make_invite(app, SCHOOL, "principal"), display="דנה לוי"),
        "avi": await register(app, "avi", await make_invite(app, SCHOOL, "parent"), form="m", display="אבי כהן"),
        "rina": await register(app, "rina", await make_invite(app, AUTHORITY, "education_department_head"),
                               display="רינה מזרחי"),
        "moshe": await register(app, "moshe", await make_invite(app, DISTRICT, "district_manager"), form="m",
                                display="משה פרץ"),
    }


async def test_everyone_on_the_way_is_told_up_and_down(app: App, clock: FixedClock) -> None:
    p = await people(app)
    dana, avi, rina, moshe = p["dana"], p["avi"], p["rina"], p["moshe"]
    await raise_issue(avi, TITLE)

    # School → authority, by the principal from the issue's card.
    await dana.say("/issues")
    await press(dana, "#1")
    done = await press(dana, "העברה אל עיריית טירת כרמל")
    assert f"הועבר ל{AUTHORITY_FORUM}" in done
    (told,) = texts(app, "avi", ": הועבר")
    assert told == (f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": הועבר ל{AUTHORITY_FORUM}.\n'
                    "תקבל הודעה כשתגיע תשובה.")  # named as a forum, not as a "note:"; masculine
    assert "הערה" not in told

    # The authority's digest (Sunday 08:00): the head of education acknowledges it, twice by mistake.
    sunday = date(2026, 11, 29)
    await tick(app, clock, local(sunday, 8, 5))
    digest = digest_of(app, "rina")
    await tap(rina, digest, "#1")
    assert await press(rina, "קבלה לטיפול") == "סומן כ\"התקבל לטיפול\"."
    await tap(rina, digest, "#1")
    await press(rina, "קבלה לטיפול")
    assert texts(app, "avi", "קיבל אותו") == [
        f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": {AUTHORITY_FORUM} קיבל אותו ומטפל בו.'
    ]
    assert texts(app, "dana", "קיבל אותו") == [f'הפער #1 "{TITLE}": {AUTHORITY_FORUM} קיבל אותו ומטפל בו.']

    # The authority's window passes: it goes on to the district by itself, and everyone hears where it is.
    edge = IsraeliCalendar().add_working_days(date(2026, 11, 22), 20)
    await tick(app, clock, local(edge, 0, 5))
    assert texts(app, "avi", ": הועבר")[-1] == (
        f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": הועבר ל{DISTRICT_FORUM}.\n'
        f"הפער הועבר אוטומטית: הוא נשאר פתוח יותר מהזמן שנקבע ל{AUTHORITY_FORUM} לטפל בו.\n"
        "תקבל הודעה כשתגיע תשובה."
    )
    onward = f'הפער #1 "{TITLE}" לא נפתר בזמן שנקבע ל{AUTHORITY_FORUM}, והועבר הלאה ל{DISTRICT_FORUM}.'
    assert texts(app, "dana", "הועבר הלאה") == [onward]  # the school's lead
    assert texts(app, "rina", "הועבר הלאה") == [onward]  # the lead of the forum it left

    # The district's digest: the district manager takes it on, then answers it.
    next_sunday = edge + timedelta(days=(6 - edge.weekday()) % 7 or 7)
    await tick(app, clock, local(next_sunday, 8, 5))
    digest = digest_of(app, "moshe")
    await tap(moshe, digest, "#2")
    await press(moshe, "מינוי אחראי")
    assert await press(moshe, "משה פרץ (מנהל המחוז)") == "נרשם:\nבאחריות: משה פרץ (מנהל המחוז)."
    await tap(moshe, digest, "#2")
    await press(moshe, "מינוי אחראי")
    await press(moshe, "משה פרץ (מנהל המחוז)")  # a second time: nobody is told twice
    assert texts(app, "avi", "באחריות") == [
        f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": מעכשיו הוא באחריות מנהל המחוז ב{DISTRICT_FORUM}.'
    ]
    assert texts(app, "dana", "באחריות") == [f'הפער #1 "{TITLE}": מעכשיו הוא באחריות מנהל המחוז ב{DISTRICT_FORUM}.']

    await tap(moshe, digest, "#2")
    await press(moshe, "מתן תשובה")
    reply = await moshe.text_of("ההסעה לשכונה תתחיל ביום ראשון הבא.")
    assert reply == "התשובה נשלחה לשני פורומים ולמי שהעלו את הפער."
    by = f"התשובה ניתנה על ידי מנהל המחוז ב{DISTRICT_FORUM}."
    assert texts(app, "avi", "נפתר")[-1] == (
        f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": נפתר.\n{by}\nהתשובה: ההסעה לשכונה תתחיל ביום ראשון הבא.'
    )
    (school_lead,) = texts(app, "dana", "השיב")
    assert school_lead.startswith(f'{DISTRICT_FORUM} השיב על מה שהועבר מ{SCHOOL_FORUM}: #1 "{TITLE}".\n{by}\n')
    (passed,) = texts(app, "rina", "השיב על הפער")  # the authority it passed through hears the answer too
    assert passed == (f'{DISTRICT_FORUM} השיב על הפער #1 "{TITLE}", ש{AUTHORITY_FORUM} העביר אליו.\n{by}\n'
                      "התשובה: ההסעה לשכונה תתחיל ביום ראשון הבא.\n"
                      "גם כאן הוא סומן כנענה, והפורומים שמתחתיו ומי שהעלו אותו קיבלו הודעה.")
    for name in ("avi", "dana", "rina"):  # above the raiser's forum: roles, never names
        assert not any("משה" in t or "רינה" in t for t in texts(app, name) if "השיב" in t or "באחריות" in t)


async def test_a_lead_who_forwards_a_gap_on_is_not_told_of_it_but_the_school_is(app: App, clock: FixedClock) -> None:
    p = await people(app)
    dana, avi, rina = p["dana"], p["avi"], p["rina"]
    await raise_issue(avi, TITLE)
    await dana.say("/issues")
    await press(dana, "#1")
    await press(dana, "העברה אל עיריית טירת כרמל")
    await tick(app, clock, local(date(2026, 11, 29), 8, 5))
    await tap(rina, digest_of(app, "rina"), "#1")
    assert await press(rina, "העברה אל מחוז חיפה") == f"הועבר ל{DISTRICT_FORUM}."
    assert texts(app, "avi", ": הועבר")[-1].startswith(
        f'עדכון על הפער שהעלית ב{SCHOOL_FORUM}, "{TITLE}": הועבר ל{DISTRICT_FORUM}.')
    assert "מעצמו" not in texts(app, "avi", ": הועבר")[-1]
    assert texts(app, "dana", "הועבר הלאה") == [f'הפער #1 "{TITLE}" הועבר הלאה מ{AUTHORITY_FORUM} ל{DISTRICT_FORUM}.']
    assert not texts(app, "rina", "הועבר הלאה")  # she did it herself


async def test_a_coordinator_back_after_downtime_gets_one_digest_with_everything(app: App, clock: FixedClock) -> None:
    p = await people(app)
    dana, avi = p["dana"], p["avi"]
    await raise_issue(avi, TITLE)
    await raise_issue(dana, "חסרה יועצת נוספת", kind="צורך")
    await dana.say("/issues")
    await press(dana, "#1")
    await press(dana, "העברה אל עיריית טירת כרמל")
    # The messenger is unreachable for three Sundays: the scheduler queues a digest each week.
    sunday = date(2026, 11, 29)
    for week in range(3):
        clock.set(local(sunday + timedelta(days=7 * week), 8, 5))
        await run_due(app, clock.now())
        if week == 1:  # the second gap arrives between the digests nobody received
            async with app.db.unit_of_work() as session:
                principal = await person_of(app, "dana")
                await escalation.escalate_issue(session, issue_id=2, person=principal, now=clock.now())
    before = len(inbox(app, "rina"))
    await app.delivery.drain()  # the messenger is back
    arrived = [m for m in inbox(app, "rina")[before:] if "ריכוז" in plain(m.text)]
    assert len(arrived) == 1, [plain(m.text)[:60] for m in arrived]
    text = plain(arrived[0].text)
    assert text.startswith(f"ריכוז הפערים שהועברו ל{AUTHORITY_FORUM}, 13 בדצמבר 2026:")
    # Both gaps are new to her: the digests that listed them never reached her.
    assert "שני פערים חדשים" in text and "חדשים מאז הריכוז הקודם:" in text and "עדיין פתוחים" not in text
    assert TITLE in text and "חסרה יועצת נוספת" in text
    async with app.db.sessions() as session:
        statuses = (await session.scalars(select(OutboxMessage.status).where(
            OutboxMessage.dedup_key.like("esc:digest:%")).order_by(OutboxMessage.id))).all()
    assert statuses.count("superseded") >= 2 and statuses[-1] == "sent"


async def test_a_digest_of_one_gap_has_no_chart(app: App, clock: FixedClock) -> None:
    p = await people(app)
    dana, avi = p["dana"], p["avi"]
    await raise_issue(avi, TITLE)
    await dana.say("/issues")
    await press(dana, "#1")
    await press(dana, "העברה אל עיריית טירת כרמל")
    await tick(app, clock, local(date(2026, 11, 29), 8, 5))
    assert texts(app, "rina", "ריכוז הפערים")
    assert not [m for m in inbox(app, "rina") if m.file is not None]


async def test_an_arabic_speaking_parent_hears_where_the_gap_is_and_who_answered_in_arabic(
    app: App, clock: FixedClock
) -> None:
    p = await people(app)
    await register(app, "salim", await make_invite(app, SCHOOL, "parent"), language="ar", form="m",
                           display="سليم")
    async with app.db.unit_of_work() as session:
        parent, principal = await person_of(app, "salim"), await person_of(app, "dana")
        forum = await invites.forum_by_code(session, SCHOOL)
        raised = await issues.raise_issue(session, forum=forum, person=parent, kind="need", title="لا توجد مواصلات",
                                          details="منذ بداية السنة", category="transport", show_name=False,
                                          now=clock.now())
        done = await escalation.escalate_issue(session, issue_id=raised.issue.id, person=principal, now=clock.now())
    await app.delivery.drain()
    assert texts(app, "salim")[-1] == (
        "مستجدات بشأن الفجوة التي طرحتها في منتدى الشركاء في בית ספר יסודי אלונים (הדגמה)، «لا توجد مواصلات»: "
        "أُحيلت إلى منتدى الشركاء في עיריית טירת כרמל.\nستصلك رسالة عند وصول الرد."
    )
    await tick(app, clock, local(date(2026, 11, 29), 8, 5))
    await tap(p["rina"], digest_of(app, "rina"), f"#{done.gap.id}")
    await press(p["rina"], "מתן תשובה")
    await p["rina"].say("سيتم تشغيل خط جديد")
    told = texts(app, "salim")[-1]
    assert told.startswith("مستجدات بشأن الفجوة التي طرحتها في منتدى الشركاء في בית ספר יסודי אלונים (הדגמה)، "
                           "«لا توجد مواصلات»: ")
    assert "الرد من مديرة قسم التربية والتعليم في منتدى الشركاء في עיריית טירת כרמל." in told
    assert "سيتم تشغيل خط جديد" in told and "רינה" not in told

"""The details a principal notices at and after a meeting, in the console (real delivery path):
the reply repeats what was recorded, a late reminder says it is overdue, and the lead is not asked
to send their own item to the forum's lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.clock import FixedClock
from scheduler.jobs import run_due
from tests.test_agenda import last_text, press, propose, raise_issue, record_decision, school, set_meeting

FORUM = "פורום השותפים של בית ספר יסודי אלונים (הדגמה)"


async def test_the_reply_repeats_what_was_recorded_and_a_late_reminder_says_it_is_overdue(
    app: App, clock: FixedClock
) -> None:
    dana, avi, rana = await school(app)
    await set_meeting(dana)
    await propose(avi, "הסעות לטיול השנתי")
    await press(dana, "אישור")
    await raise_issue(avi, "אין הסעה לשכונה החדשה")
    await raise_issue(rana, "חסרה יועצת נוספת", kind="צורך")

    await record_decision(dana, clock, "נבחר ספק ההסעות הזול מבין שלוש הצעות", "רנא חורי (יועצת בית הספר)")
    recorded = await press(dana, "בעוד שבוע")
    assert recorded.startswith(
        'נרשם:\nההחלטה לגבי "הסעות לטיול השנתי": נבחר ספק ההסעות הזול מבין שלוש הצעות\n'
        "באחריות: רנא חורי (יועצת בית הספר), עד 8 בדצמבר 2026.\n"
    )  # …and the next subject follows
    await press(dana, "נפתר")
    recorded = await dana.text_of("משרד החינוך אישר הסעה מיום ראשון")
    assert recorded.startswith(
        'נרשם:\nהפער #1 "אין הסעה לשכונה החדשה": נפתר.\nהפתרון: משרד החינוך אישר הסעה מיום ראשון\n'
    )
    recorded = await press(dana, "העברה אל עיריית טירת כרמל")
    assert recorded.startswith('נרשם:\nהפער #2 "חסרה יועצת נוספת" הועבר לפורום השותפים של עיריית טירת כרמל.\n')
    await press(dana, "שליחת הסיכום")

    # The scheduler was down over the reminder day and the due date: the catch-up says it is late.
    clock.set(datetime(2026, 12, 10, 8, 0, tzinfo=UTC))  # Thursday 10:00, two days after 8.12
    assert (await run_due(app, clock.now()))["agenda_due_reminders"] == 1
    await app.delivery.drain()
    assert last_text(app, "rana") == (
        f'באיחור: "הסעות לטיול השנתי" ב{FORUM} באחריותך, והיה אמור להסתיים עד 8 בדצמבר 2026.\n'
        "מה הוחלט: נבחר ספק ההסעות הזול מבין שלוש הצעות"
    )
    assert (await run_due(app, clock.now() + timedelta(hours=1)))["agenda_due_reminders"] == 0


async def test_the_lead_adds_her_own_item_without_being_asked_to_send_it_to_herself(app: App) -> None:
    dana, avi, _ = await school(app)
    await set_meeting(dana)
    await dana.say("/agenda")
    await press(dana, "הצעת נושא")
    await dana.say("עדכון מהנהלת בית הספר")
    preview = await press(dana, "בלי פירוט")
    assert preview == 'הנושא שלך:\n"עדכון מהנהלת בית הספר"\nלהוסיף אותו לסדר היום של הפגישה הקרובה?'
    assert "מובילי הפורום" not in preview
    assert await press(dana, "הוספה לסדר היום") == 'נוסף לסדר היום: "עדכון מהנהלת בית הספר".'

    # Her own issue: she is not told that "the forum's lead was told".
    recorded = await raise_issue(dana, "מחסור בשומר בשער")
    assert recorded == "הפער נרשם, ומספרו #1. הוא נמצא עכשיו עם הפערים הפתוחים של הפורום."

    await avi.say("/agenda")  # a member is still asked to send it to the lead
    await press(avi, "הצעת נושא")
    await avi.say("חוג רובוטיקה")
    assert (await press(avi, "בלי פירוט")).endswith("לשלוח למובילי הפורום?")

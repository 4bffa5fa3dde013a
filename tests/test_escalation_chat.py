"""The escalation conversations in the console: the /meeting outcome "escalate" and /announce."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.storage.models_agenda import MeetingDecision, RaisedIssue
from bot.storage.models_escalation import Announcement
from scheduler.jobs import run_due
from tests.helpers import make_invite, register
from tests.test_agenda import MEETING_AT, last_text, press, raise_issue, school, set_meeting


async def test_the_lead_escalates_an_issue_at_the_meeting(app: App, clock: FixedClock) -> None:
    dana, _avi, rana = await school(app)
    await set_meeting(dana)
    await raise_issue(rana, "חסרה יועצת נוספת", kind="צורך")
    clock.set(MEETING_AT + timedelta(hours=2))
    await dana.say("/meeting")
    assert (await press(dana, "העברה אל עיריית טירת כרמל")).startswith(
        'נרשם:\nהפער #1 "חסרה יועצת נוספת" הועבר לפורום השותפים של עיריית טירת כרמל.')
    async with app.db.sessions() as session:
        issue = await session.scalar(select(RaisedIssue))
        decision = await session.scalar(select(MeetingDecision))
    assert issue is not None and issue.status == "escalated"
    assert decision is not None and decision.status == "escalated" and decision.text == "עיריית טירת כרמל"
    await press(dana, "שליחת הסיכום")
    summary = last_text(app, "rana")
    assert "חסרה יועצת נוספת — " in summary and "עיריית טירת כרמל" in summary


async def test_announce_from_a_district_to_its_schools(app: App, clock: FixedClock) -> None:
    dana, _avi, _ = await school(app)
    moshe = await register(app, "moshe", await make_invite(app, "D-HAIFA", "district_manager"), form="m",
                           display="משה פרץ")
    assert "רק מובילי הפורומים של המטה" in await dana.text_of("/announce")
    assert "כתוב את ההחלטה או העדכון" in await moshe.text_of("/announce")
    await moshe.say("חוזר בטיחות לקראת החורף\nיש לבדוק את מערכות החימום עד סוף החודש.")
    done = await press(moshe, "בתי הספר")
    assert done == "נשלח ל־5 פורומים שמתחתיו: חבריהם יקבלו אותו, והוא יוצע לסדר היום הבא שלהם."
    await run_due(app, clock.now())
    await app.delivery.drain()
    assert "יש לבדוק את מערכות החימום" in last_text(app, "avi")
    async with app.db.sessions() as session:
        row = await session.scalar(select(Announcement))
    assert row is not None and row.status == "done" and row.forums_reached == 5
    # The principal is asked to take it onto the agenda, as a topic from the district.
    await press(dana, "אישור")
    assert "1. חוזר בטיחות לקראת החורף (הצעה מהמחוז)" in await dana.text_of("/agenda")

"""/mydata a parent can read: beside the JSON file, a short message in their language.

Forums and roles, what they raised and its status, what they proposed, what they answered (the
date poll's dates and the survey's questions and options as text), dates in Israel time; the JSON
keeps everything, with the survey answers carrying their question and option texts, and the audit
rows where the person is the subject.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.forums import invites
from bot.services.forums.membership import revoke
from bot.services.meetings import polls
from bot.services.meetings import schedule as meetings
from bot.services.surveys import answers as surveys
from bot.storage.models import ChannelIdentity, Forum, Membership, Person
from bot.storage.models_keshet import Survey
from bot.storage.models_polls import DatePollOption
from tests.helpers import console_sender, import_demo, make_invite, plain, principal_and_parent, register

SCHOOL = "S-DEMO-210101"
ISRAEL = ZoneInfo("Asia/Jerusalem")


async def person_of(session: object, external_id: str) -> Person:
    person = await session.scalar(  # type: ignore[attr-defined]
        select(Person).join(ChannelIdentity).where(ChannelIdentity.external_id == external_id)
    )
    assert person is not None
    return person  # type: ignore[no-any-return]


async def propose_vote_and_open_survey(
    session: AsyncSession, forum: Forum, *, lead: Person, parent: Person, channel: str, now: datetime, tz: ZoneInfo
) -> tuple[DatePollOption, Survey]:
    """The parent proposes an annual trip and votes for the first date of the lead's date poll; the lead
    opens the school-needs survey (returned, with the date voted for, for the parent to answer)."""
    await agenda.propose_item(session, forum=forum, person=parent, title="טיול שנתי", details=None, now=now)
    draft = await polls.start_draft(session, forum, lead, now=now, tz=tz)
    await polls.publish(session, draft.id, person=lead, now=now, tz=tz)
    option = (await polls.options_of(session, draft.id))[0]
    await polls.vote(session, draft.id, parent, chosen={option.id}, none_works=False, channel=channel, now=now, tz=tz)
    survey = await surveys.create_from_template(session, forum=forum, template="school_needs", now=now,
                                                request_key="k1", by_person=lead)
    assert survey is not None
    return option, survey


async def test_mydata_says_in_hebrew_what_is_kept(sqlite_app: App) -> None:
    app = sqlite_app
    await import_demo(app)
    await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    ronit = await register(app, "ronit", await make_invite(app, SCHOOL, "parent"), display="רונית אברהמי")
    async with app.db.unit_of_work() as session:
        lead, parent = await person_of(session, "dana"), await person_of(session, "ronit")
        forum = await meetings.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        now = app.clock.now()
        await issues.raise_issue(session, forum=forum, person=parent, kind="need", category=None,
                                 title="מקלט לא נגיש", details="הדלת נעולה בהפסקות", show_name=False, now=now)
        option, survey = await propose_vote_and_open_survey(session, forum, lead=lead, parent=parent,
                                                            channel="console", now=now, tz=app.settings.tz)
        subjects, _needs, often = (await surveys.questions_of(session, survey.id))[:3]
        await surveys.answer(session, question_id=subjects.id, person=parent, value={"choices": [0, 2]}, now=now)
        await surveys.answer(session, question_id=often.id, person=parent, value={"choice": 0}, now=now)
    said = await ronit.say("/mydata")
    assert console_sender(app).files[-1][0] == "המידע-שלי.json"
    text = next(plain(m.text) for m in said if "בקצרה" in m.text)  # the message beside the file

    assert "בקצרה, מה שהבוט שומר עלייך" in text  # feminine, as she chose
    assert "forumbot" not in text
    assert "הפורומים והתפקידים שלך:" in text
    assert "פורום השותפים של בית ספר יסודי אלונים (הדגמה)" in text
    assert "הפערים שהצפת:" in text and "מקלט לא נגיש" in text and "פתוח" in text
    assert "מה שהצעת לסדר היום:" in text and "טיול שנתי" in text and "ממתין לאישור" in text
    assert "מה שענית:" in text
    # The date poll: the date she chose, at its Israel time (not UTC's).
    local = option.starts_at.astimezone(ISRAEL)
    assert "מועד הפגישה של פורום השותפים" in text
    assert local.strftime("%H:%M") in text and local.strftime("%H:%M") != option.starts_at.strftime("%H:%M")
    # The survey: questions and options as text, never [0, 2].
    assert "באילו נושאים כדאי שהפורום יעסוק השנה?" in text
    assert "למידה והישגים, ביטחון ובטיחות" in text
    assert "אחת לחודש" in text
    assert "[0, 2]" not in text and "choices" not in text

    data = json.loads(console_sender(app).files[-1][1])
    answers = {a["question_text"]: a for a in data["survey_answers"]}
    chosen = answers["באילו נושאים כדאי שהפורום יעסוק השנה?"]
    assert chosen["answer"] == {"choices": [0, 2]}  # the JSON keeps everything…
    assert chosen["answer_text"] == "למידה והישגים, ביטחון ובטיחות"  # …and says it in words
    assert chosen["options"][0] == "למידה והישגים"
    assert chosen["survey_title"] == "צורכי חברי הפורום לקראת שנת הלימודים"


async def test_mydata_includes_audit_rows_about_the_person(sqlite_app: App) -> None:
    app = sqlite_app
    _dana, avi = await principal_and_parent(app, SCHOOL)
    async with app.db.unit_of_work() as session:
        lead, parent = await person_of(session, "dana"), await person_of(session, "avi")
        seat = await session.scalar(select(Membership).where(Membership.person_id == parent.id))
        assert seat is not None
        await revoke(session, membership_id=seat.id, person=lead, now=app.clock.now())
    said = await avi.say("/mydata")
    data = json.loads(console_sender(app).files[-1][1])
    about = data["audit_log_about_me"]
    assert [a["action"] for a in about] == ["membership.revoke"]  # written by the lead, about him
    # The messages kept for him are there as text (the one telling him his seat ended among them).
    kept = [m["text"] for m in data["messages_kept_for_me"]]
    assert any("סיימו את החברות שלך" in plain(t) for t in kept), kept
    for key in ("held_messages", "link_codes", "other_records_pointing_at_me"):
        assert key in data
    text = next(plain(m.text) for m in said if "בקצרה" in m.text)
    assert "הפורומים והתפקידים שלך:" in text and " · עד " in text  # the ended seat, with its end date


async def test_mydata_in_arabic_for_an_arabic_speaker(sqlite_app: App) -> None:
    app = sqlite_app
    await import_demo(app)
    await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    rana = await register(app, "rana", await make_invite(app, SCHOOL, "parent"), language="ar", display="رنا")
    said = await rana.say("/mydata")
    text = next(plain(m.text) for m in said if "باختصار" in m.text)
    assert "منتدياتك وأدوارك:" in text
    assert "forumbot" not in text

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.services.errors import Refused
from bot.services.forums import invites
from bot.storage.models import Invite, Membership, Person
from tests.helpers import ConsoleUser, import_demo, make_invite, plain, register

SCHOOL = "S-DEMO-210101"
AUTHORITY = "A2100"


async def memberships(app: App) -> list[tuple[str, str, str]]:
    async with app.db.sessions() as session:
        rows = await session.execute(
            select(Person.display_name, Membership.role, Membership.forum_id).join(
                Person, Membership.person_id == Person.id
            )
        )
        return [(n, r, str(f)) for n, r, f in rows.all()]


async def test_registration_in_hebrew_by_role(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "principal")
    user = ConsoleUser(app, "dana")
    first = await user.say(f"/start {code}")
    assert "בחרו שפה" in first[0].text and [b.label for b in first[0].all_buttons] == ["עברית", "العربية", "English"]
    consent = plain((await user.say("1"))[0].text)
    assert "הוזמנתם לפורום השותפים של בית ספר יסודי אלונים (הדגמה) בתפקיד מנהל/ת בית הספר." in consent
    assert "/mydata" in consent and "/forget" in consent
    assert "מסכימים?" in consent
    assert "באיזה שם" in await user.text_of("1")
    assert "איך לפנות" in await user.text_of("דנה לוי")
    welcome = await user.text_of("2")  # feminine
    assert welcome.startswith("ברוכה הבאה, דנה לוי! נרשמת בתפקיד מנהלת בית הספר בפורום השותפים של")
    assert [(name, role) for name, role, _ in await memberships(app)] == [("דנה לוי", "principal")]
    forums = await user.text_of("/forums")
    assert "מנהלת בית הספר בפורום השותפים של בית ספר יסודי אלונים" in forums
    assert "את מובילה את הפורום" in forums
    help_text = await user.text_of("/help")
    assert "/invite" in help_text and "מה אני יודע לעשות" in help_text


async def test_registration_in_arabic(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, "S-DEMO-400102", "counsellor")
    user = await register(app, "rana", code, language="ar", form="f", display="رنا خوري")
    welcome = plain(user.received[-1].text)
    assert welcome.startswith("أهلًا وسهلًا، رنا خوري! تم تسجيلكِ بدور مستشارة المدرسة في منتدى الشركاء في")
    forums = await user.text_of("/forums")
    assert "منتدياتكِ:" in forums and "مستشارة المدرسة" in forums


async def test_registration_in_english_skips_the_form_of_address(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parents_committee")
    user = await register(app, "sam", code, language="en", display="Sam Cohen")
    assert plain(user.received[-1].text).startswith(
        "Welcome, Sam Cohen! You are registered as Parents' committee representative in the partners forum of"
    )


async def test_every_invite_failure_has_a_clear_message(app: App, clock: FixedClock) -> None:
    await import_demo(app)
    user = ConsoleUser(app, "x")
    assert "לא מוכר" in await user.text_of("/start doesNotExist123")
    assert "לא מוכר" in await user.text_of("/start ../../etc/passwd")
    expired = await make_invite(app, SCHOOL, "parent", days=1)
    clock.advance(timedelta(days=1, seconds=1))
    assert "תוקף ההזמנה פג" in await user.text_of(f"/start {expired}")
    used = await make_invite(app, SCHOOL, "parent", uses=1)
    await register(app, "first", used)
    assert "כבר נוצלה" in await ConsoleUser(app, "second").text_of(f"/start {used}")
    revoked = await make_invite(app, SCHOOL, "parent")
    async with app.db.unit_of_work() as session:
        invite = await session.scalar(select(Invite).where(Invite.code == revoked))
        assert invite is not None
        invite.revoked_at = clock.now()
    assert "ההזמנה בוטלה" in await user.text_of(f"/start {revoked}")


async def test_invite_rules(app: App) -> None:
    await import_demo(app)
    async with app.db.unit_of_work() as session:
        forum = await invites.forum_by_code(session, SCHOOL)
        with pytest.raises(Refused, match="does not belong"):
            await invites.create_invite(session, forum=forum, role="district_manager", now=app.clock.now())
        with pytest.raises(Refused, match="between 1 and"):
            await invites.create_invite(session, forum=forum, role="parent", now=app.clock.now(), uses=0)
        with pytest.raises(Refused, match="1 to"):
            await invites.create_invite(session, forum=forum, role="parent", now=app.clock.now(), expires_days=365)
        invite = await invites.create_invite(session, forum=forum, role="parent", now=app.clock.now())
    assert len(invite.code) == 16 and invites.looks_like_code(invite.code)
    assert invites.telegram_link("forumbot", invite.code) == f"https://t.me/forumbot?start={invite.code}"


async def test_a_second_join_with_the_same_code_duplicates_nothing(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parent", uses=5)
    user = await register(app, "p1", code)
    again = await user.text_of(f"/start {code}")
    assert "כבר חברה" in again
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Membership)) == 1
        assert await session.scalar(select(func.count()).select_from(Person)) == 1
        invite = await session.scalar(select(Invite).where(Invite.code == code))
        assert invite is not None and invite.uses == 1


async def test_one_person_in_two_forums(app: App) -> None:
    await import_demo(app)
    school = await make_invite(app, SCHOOL, "principal")
    authority = await make_invite(app, AUTHORITY, "principal")
    user = await register(app, "dana", school)
    ask = await user.text_of(f"/start {authority}")
    assert ask.startswith("להצטרף לפורום השותפים של עיריית טירת כרמל בתפקיד מנהלת בית ספר או גן?")
    done = await user.text_of(str(user.button_index("הצטרפות")))
    assert done.startswith("זהו, הצטרפת לפורום השותפים של עיריית טירת כרמל")
    forums = await user.text_of("/forums")
    assert forums.count("•") == 2 and "עיריית טירת כרמל" in forums and "בית ספר יסודי אלונים" in forums


async def test_stale_and_foreign_buttons(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parent", uses=2)
    user = ConsoleUser(app, "a")
    await user.say(f"/start {code}")
    language_token = user.last.all_buttons[0].token
    await user.say("1")
    from bot.core.messages import EventKind, Inbound

    stale = Inbound(channel="console", user_id="a", chat_id="a", kind=EventKind.CHOICE, token=language_token)
    [reply] = await app.conversations.handle(stale)
    assert "כבר לא פעיל" in reply.text
    foreign = Inbound(channel="console", user_id="b", chat_id="b", kind=EventKind.CHOICE,
                      token=user.last.all_buttons[0].token)
    [reply] = await app.conversations.handle(foreign)
    assert "לא מיועד" in reply.text
    forged = Inbound(channel="console", user_id="a", chat_id="a", kind=EventKind.CHOICE, token="forged-token")
    [reply] = await app.conversations.handle(forged)
    assert "כבר לא פעיל" in reply.text


async def test_someone_not_registered_is_told_how_to_join(app: App) -> None:
    user = ConsoleUser(app, "stranger")
    assert "צריך הזמנה" in await user.text_of("שלום")
    assert "צריך הזמנה" in await user.text_of("/forums")
    assert "לא מכיר את הפקודה" in await user.text_of("/nonsense")


async def asked_to_consent(app: App, name: str) -> ConsoleUser:
    """Someone who opened a parent's invitation to the demo school and chose Hebrew: the bot asks for consent."""
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parent")
    user = ConsoleUser(app, name)
    await user.say(f"/start {code}")
    await user.say("1")
    return user


async def test_declining_consent_stores_no_person(app: App) -> None:
    user = await asked_to_consent(app, "shy")
    assert "לא נשמר שום מידע" in await user.text_of("2")
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 0


async def test_bad_name_is_explained_and_the_step_repeats(app: App) -> None:
    user = await asked_to_consent(app, "n")
    await user.say("1")
    assert "לפחות אות אחת" in await user.text_of("12345")
    assert "ארוך מדי" in await user.text_of("א" * 61)
    assert "איך לפנות" in await user.text_of("\u202eנועה\u200b")


async def test_mydata_language_and_forget(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "teachers_rep")
    user = await register(app, "t", code, form="m", display="יוסי")
    summary, message = await user.say("/mydata")  # in words, then the file
    assert "בקצרה" in plain(summary.text)
    assert message.file is not None
    data = json.loads(message.file.data)
    assert data["person"]["display_name"] == "יוסי"
    assert data["memberships"][0]["role"] == "teachers_rep"
    await user.say("/language")
    assert plain((await user.say(str(user.button_index("English"))))[0].text) == (
        "From now on I will write to you in English."
    )
    await user.say("/forget")
    assert "no longer holds" in await user.text_of(str(user.button_index("Erase me")))
    async with app.db.sessions() as session:
        person = await session.scalar(select(Person))
        assert person is not None and person.display_name == "—" and person.forgotten_at is not None
        assert await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.revoked_at.is_(None))) == 0
    assert "צריך הזמנה" in await ConsoleUser(app, "t").text_of("/forums")


async def test_lead_creates_an_invite_in_the_chat(app: App) -> None:
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "principal")
    lead = await register(app, "lead", code)
    await lead.say("/invite")
    await lead.say(str(lead.button_index("יועץ/ת בית הספר")))
    text = await lead.text_of("2")  # ten uses
    assert text.startswith("הזמנה לפורום השותפים של בית ספר יסודי אלונים (הדגמה) בתפקיד יועץ/ת בית הספר:")
    assert "אפשר להשתמש בה 10 פעמים" in text
    new_code = text.split("קוד: ")[1].split()[0]
    counsellor = await register(app, "c", new_code)
    assert "יועצת בית הספר" in plain(counsellor.received[-1].text)
    member = await ConsoleUser(app, "c").text_of("/invite")
    assert "רק מובילי הפורום" in member

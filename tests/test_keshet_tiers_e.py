"""KeShet details a partner notices: an authority's lead opens the partnership from the chat, the
partners hear when the fields are ready and when a stage is recorded, coverage ranks the fields,
the timeline runs forward, and the municipal mapping is offered only where it belongs."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.domain.roles import lead_roles
from bot.storage.models import Forum, Membership
from tests.helpers import import_demo, make_invite, register
from tests.keshet_helpers import buttons_of, inbox, last_text, partnership, press
from tests.test_keshet import HUB, add_field, record

TIRAT_CARMEL = "עיריית טירת כרמל"


async def test_an_authority_lead_opens_the_partnership_from_the_chat(app: App) -> None:
    await import_demo(app)
    assert "education_department_head" in lead_roles("authority")
    head = await register(app, "rachel", await make_invite(app, "A2100", "education_department_head"),
                          display="רחל")
    offer = await head.text_of(HUB)
    assert offer.startswith("אינך חברה עדיין בשותפות תלת־מגזרית. כמובילת פורום הרשות את יכולה לפתוח")
    assert buttons_of(head) == [f"פתיחת השותפות של {TIRAT_CARMEL}"]
    opened = await press(head, f"פתיחת השותפות של {TIRAT_CARMEL}")
    assert opened.startswith(f"השותפות של {TIRAT_CARMEL} נפתחה, ואת מחזיקה במושב של המגזר הציבורי.")
    assert "/invite" in opened
    assert last_text(head).startswith(f"שותפות קש״ת של {TIRAT_CARMEL}")  # the hub follows
    assert "רישום התקדמות בתהליך" in buttons_of(head)  # she leads it
    async with app.db.sessions() as session:
        forums = (await session.scalars(select(Forum).where(Forum.kind == "partnership"))).all()
        assert [f.code for f in forums] == ["A2100-partnership"]
        seats = (await session.scalars(select(Membership.role).where(Membership.forum_id == forums[0].id))).all()
        assert seats == ["public_sector_rep"]
    # A second press (an old button) changes nothing.
    assert (await head.text_of(HUB)).startswith(f"שותפות קש״ת של {TIRAT_CARMEL}")


async def test_partners_hear_when_the_fields_are_ready_and_when_a_stage_is_recorded(app: App) -> None:
    users = await partnership(app)
    lead, business, third = users["public"], users["business"], users["third"]
    await add_field(lead, "חינוך")
    await add_field(lead, "תעסוקה")
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    told = await press(lead, "📣 לעדכן את השותפים שהתחומים מוכנים")
    assert told == "עדכנתי את שני השותפים שהתחומים מוכנים לדירוג."
    notice = last_text(business)
    assert notice.startswith(f"🗳 שותפות קש״ת של {TIRAT_CARMEL}: התחומים המועמדים מוכנים לדירוג שלך: חינוך, תעסוקה.")
    assert "דרגי כל תחום" in notice  # she is addressed in the feminine
    assert buttons_of(business) == ["דירוג התחומים"]
    assert (await press(business, "דירוג התחומים")).startswith("איזה תחום")
    assert any("מוכנים לדירוג שלך" in m.text for m in inbox(third))
    await lead.text_of(HUB)
    await press(lead, "בחירת תחום הפעולה")
    assert await press(lead, "📣 לעדכן את השותפים שהתחומים מוכנים") == "השותפים כבר עודכנו על התחומים האלה."

    before = len(inbox(business))
    await record(lead, "רתימת השותפים", "05/2007", "מוקם פורום חברות")
    [stage] = inbox(business)[before:]
    assert stage.text.replace("\u2068", "").replace("\u2069", "").startswith(
        f"📌 שותפות קש״ת של {TIRAT_CARMEL}: נרשמה התקדמות בתהליך — רתימת השותפים, מאי 2007."
    )
    assert "מוקם פורום חברות" in stage.text
    assert not [m for m in inbox(lead) if m.text.startswith("📌")]  # not to the lead who recorded it


async def test_a_stage_dated_before_progress_already_recorded_is_refused(app: App) -> None:
    users = await partnership(app, ("public", "business"))
    lead = users["public"]
    await record(lead, "רתימת השותפים", "05/2007", "מוקם פורום חברות")
    await record(lead, "רתימת השותפים", "11/2007", 'בדיקת אפשרות להצטרפות לתכנית קש"ת')
    await lead.text_of(HUB)
    await press(lead, "רישום התקדמות בתהליך")
    await press(lead, "קבלת החלטות על מנגנון עבודה")
    refused = await lead.text_of("09/2007")
    assert refused == (
        "אי אפשר לתארך שלב מאוחר יותר לפני ההתקדמות שכבר נרשמה (האחרונה ב־11/2007). הקלד תאריך מאותו מועד ואילך."
    )
    assert await lead.text_of("01/2008") == "הערה קצרה על מה שקרה?"  # still asking; a later date is fine


async def test_the_municipal_mapping_is_offered_to_authorities_and_partnerships_only(app: App) -> None:
    users = await partnership(app, ("public",))
    await users["public"].text_of("/surveys")
    await press(users["public"], "שליחת סקר חדש")
    assert "מיפוי עירוני" in buttons_of(users["public"])
    principal = await register(app, "dana", await make_invite(app, "S-DEMO-210101", "principal"), display="דנה")
    await principal.text_of("/surveys")
    await press(principal, "שליחת סקר חדש")
    assert last_text(principal) == "איזה סקר?"
    assert buttons_of(principal) == ["צורכי חברי הפורום לקראת שנת הלימודים"]  # no municipal mapping
    head = await register(app, "rachel", await make_invite(app, "A2100", "education_department_head"))
    await head.text_of("/surveys")
    await press(head, "שליחת סקר חדש")
    offered = buttons_of(head)
    assert "מיפוי עירוני" in offered

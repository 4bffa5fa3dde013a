"""Revoking sticks: an invite does not give back a seat a lead ended; the lead can re-admit; leads hear
of every arrival and departure (join, re-admission, revocation, /forget)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.services.errors import Forbidden, Refused
from bot.services.forums import membership, people
from bot.storage.models import ChannelIdentity, Membership, Person
from tests.helpers import ConsoleUser, import_demo, make_invite, person_of, plain, register
from tests.test_agenda import SCHOOL, inbox, last_text, press

REFUSED_HE = (
    "החברות שלך בפורום הזה הסתיימה על ידי מוביל/ת הפורום, ולכן הזמנה לא תחזיר אותך אליו. אם נראה לך שזו טעות, "
    "בקש ממוביל/ת הפורום לצרף אותך מחדש."
)
REFUSED_AR = (
    "أنهى من يقود المنتدى عضويتكِ فيه، لذلك لا تعيدكِ إليه أي دعوة. إذا كنتِ تعتقدين أن هذا خطأ، فاطلبي ممن يقود "
    "المنتدى إعادتكِ."
)


async def seat(app: App, name: str) -> Membership:
    person = await person_of(app, name)
    async with app.db.sessions() as session:
        found = await session.scalar(select(Membership).where(Membership.person_id == person.id))
        assert found is not None
        return found


async def school_with_two_leads(app: App) -> tuple[ConsoleUser, str]:
    """Dana and Yael both lead the school's forum; ``shared`` is a parents' invite for 20."""
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"), form="f", display="דנה לוי")
    await register(app, "yael", await make_invite(app, SCHOOL, "principal"), form="f", display="יעל בר")
    shared = await make_invite(app, SCHOOL, "parent", uses=20)
    return dana, shared


async def revoke(dana: ConsoleUser, name: str) -> None:
    await dana.say("/members")
    await press(dana, f"הסרת {name}")
    await press(dana, "סיום החברות")


async def test_the_same_multi_use_invite_does_not_bring_a_revoked_member_back(app: App, clock: FixedClock) -> None:
    dana, shared = await school_with_two_leads(app)
    avi = await register(app, "avi", shared, form="m", display="אבי כהן")
    assert "הצטרפות חדשה לפורום השותפים של בית ספר יסודי אלונים (הדגמה): אבי כהן, הורה." in last_text(app, "yael")
    old_single = await make_invite(app, SCHOOL, "parent")  # made before the seat was ended
    clock.advance(timedelta(minutes=5))

    await revoke(dana, "אבי כהן")
    assert "חברות הסתיימה בפורום השותפים של בית ספר יסודי אלונים (הדגמה): אבי כהן (הורה), על ידי דנה לוי." in (
        last_text(app, "yael")
    )
    assert last_text(app, "dana") == "בוצע: החברות הסתיימה ונשלחה על כך הודעה."  # the actor gets no second notice

    for code in (shared, old_single):
        assert await avi.text_of(f"/start {code}") == REFUSED_HE
        assert await avi.text_of(code) == REFUSED_HE  # the code typed as text
    assert (await seat(app, "avi")).revoked_at is not None
    async with app.db.unit_of_work() as session:  # the service refuses too, whatever the handler does
        identity = await session.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == "avi"))
        assert identity is not None
        await session.refresh(identity, ["person"])
        with pytest.raises(Refused):
            await people.join_with_invite(session, identity=identity, code=shared, now=clock.now())
    assert (await seat(app, "avi")).revoked_at is not None


async def test_a_personal_invite_made_after_the_revocation_re_admits(app: App, clock: FixedClock) -> None:
    dana, shared = await school_with_two_leads(app)
    rana = await register(app, "rana", shared, language="ar", form="f", display="رنا خوري")
    clock.advance(timedelta(minutes=5))
    await revoke(dana, "رنا خوري")
    assert await rana.text_of(f"/start {shared}") == REFUSED_AR  # in her language
    clock.advance(timedelta(minutes=5))
    personal = await make_invite(app, SCHOOL, "parent")
    await rana.say(f"/start {personal}")
    done = await rana.text_of("1")  # join
    assert "رنا" not in done and "{" not in done
    assert (await seat(app, "rana")).revoked_at is None
    assert "הצטרפות חדשה לפורום השותפים של בית ספר יסודי אלונים (הדגמה): رنا خوري, הורה." in last_text(app, "dana")


async def test_the_lead_re_admits_from_members_and_nobody_else_can(app: App, clock: FixedClock) -> None:
    dana, shared = await school_with_two_leads(app)
    avi = await register(app, "avi", shared, form="m", display="אבי כהן")
    await register(app, "rana", shared, form="f", display="רנא חורי")
    await revoke(dana, "אבי כהן")
    listing = await dana.text_of("/members")
    assert "חברויות שהסתיימו (הזמנה חדשה לא מחזירה אותן):" in listing and "אבי כהן · הורה" in listing

    # a member cannot re-admit, neither through the service nor with a button of their own
    avi_seat = await seat(app, "avi")
    async with app.db.unit_of_work() as session:
        member = await session.get(Person, (await person_of(app, "rana")).id)
        with pytest.raises(Forbidden):
            await membership.readmit(session, person=member, membership_id=avi_seat.id, now=clock.now())

    done = await press(dana, "חידוש החברות של אבי כהן")
    assert done == "בוצע: החברות של אבי כהן בפורום השותפים של בית ספר יסודי אלונים (הדגמה) חודשה ונשלחה על כך הודעה."
    assert last_text(app, "avi") == (
        "מובילי הפורום חידשו את החברות שלך בפורום השותפים של בית ספר יסודי אלונים (הדגמה)."
    )
    assert "חברות חודשה בפורום השותפים של בית ספר יסודי אלונים (הדגמה): אבי כהן, הורה (על ידי דנה לוי)." in (
        last_text(app, "yael")
    )
    assert (await seat(app, "avi")).revoked_at is None
    # a second press of the same button (or a second lead at once) re-admits nobody twice
    told = len(inbox(app, "avi"))
    async with app.db.unit_of_work() as session:
        lead = await session.get(Person, (await person_of(app, "dana")).id)
        with pytest.raises(Refused) as refused:
            await membership.readmit(session, person=lead, membership_id=avi_seat.id, now=clock.now())
    assert refused.value.msgid == "That person is already a member again."
    assert len(inbox(app, "avi")) == told
    assert "אבי כהן · הורה" in await dana.text_of("/members")
    again = await avi.text_of("/agenda")
    assert "סדר היום" in again


async def test_leads_hear_of_forget_by_role_only(app: App) -> None:
    _dana, shared = await school_with_two_leads(app)
    avi = await register(app, "avi", shared, form="m", display="אבי כהן")
    before = len(inbox(app, "dana"))
    await avi.say("/forget")
    await press(avi, "מחיקה")
    told = [plain(m.text) for m in inbox(app, "dana")[before:]]
    assert any("החברות של הורה בפורום השותפים של בית ספר יסודי אלונים (הדגמה) הסתיימה" in t for t in told)
    assert not any("אבי" in t for t in told)

"""Linking a person's identities across channels with /link, through the console channel's own path."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import App
from bot.clock import FixedClock
from bot.services.guesses import LINK_CODES
from bot.storage.models import AuditLog, ChannelIdentity, Person
from tests.helpers import ConsoleUser, import_demo, make_invite, plain, register

SCHOOL = "S-DEMO-210101"


def code_in(text: str) -> str:
    match = re.search(r"\b([A-Z2-9]{6})\b", plain(text))
    assert match, text
    return match.group(1)


async def identities(app: App) -> dict[str, int | None]:
    async with app.db.sessions() as session:
        rows = await session.execute(select(ChannelIdentity.external_id, ChannelIdentity.person_id))
        return dict(rows.all())  # type: ignore[arg-type]


async def test_link_attaches_a_second_identity_to_the_same_person(app: App) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    text = await dana.text_of("/link")
    assert "קוד הקישור שלך" in text and "/link" in text and "10 דקות" in text
    code = code_in(text)

    other = ConsoleUser(app, "dana-phone")  # the same person on another account
    done = await other.text_of(f"/link {code.lower()}")
    assert done.startswith("זהו, החשבון הזה מקושר עכשיו אל דנה לוי")
    linked = await identities(app)
    assert linked["dana-phone"] == linked["dana"] is not None
    forums = await other.text_of("/forums")
    assert "מנהלת בית הספר" in forums  # her seats and her form of address, on the new account
    async with app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1

    again = ConsoleUser(app, "someone-else")
    assert "לא תקף" in await again.text_of(f"/link {code}")  # one use only
    assert "כבר מקושר אלייך" in await other.text_of(f"/link {code_in(await dana.text_of('/link'))}")


async def test_link_codes_expire_and_wrong_codes_are_limited(app: App, clock: FixedClock) -> None:
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    code = code_in(await dana.text_of("/link"))
    clock.advance(timedelta(minutes=11))
    stranger = ConsoleUser(app, "stranger")
    assert "לא תקף או שפג תוקפו" in await stranger.text_of(f"/link {code}")  # an expired code counts too
    for _ in range(LINK_CODES.attempts - 2):
        clock.advance(timedelta(minutes=1))
        assert "לא תקף" in await stranger.text_of("/link AAAAAA")
    clock.advance(timedelta(minutes=1))
    assert "לא תקף" in await stranger.text_of("/link AAAAAA")  # the fifth wrong code is still answered plainly
    refused = await stranger.text_of("/link AAAAAA")
    assert "יותר מדי קודי קישור שגויים" in refused and "רבע שעה" in refused
    fresh = code_in(await dana.text_of("/link"))
    assert "יותר מדי" in await stranger.text_of(f"/link {fresh}")  # even a good code, until the window passes
    async with app.db.sessions() as session:
        kept = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == LINK_CODES.action)
        )
        assert (
            await session.scalar(select(ChannelIdentity.person_id).where(ChannelIdentity.external_id == "stranger"))
            is None
        )
    assert kept == LINK_CODES.attempts  # refusals at the limit are not counted again (no lock-out for ever)
    # Someone else on the same bot is not affected.
    other = ConsoleUser(app, "dana-phone")
    assert "מקושר עכשיו" in await other.text_of(f"/link {fresh}")
    # Once the oldest wrong codes are more than a quarter of an hour old, trying again is allowed.
    clock.advance(LINK_CODES.window - timedelta(minutes=3))
    assert "מקושר עכשיו" in await stranger.text_of(f"/link {code_in(await dana.text_of('/link'))}")


async def test_too_many_link_codes_in_english_and_arabic(app: App) -> None:
    await import_demo(app)
    sam = await register(app, "sam", await make_invite(app, SCHOOL, "principal"), language="en", display="Sam")
    rana = await register(app, "rana", await make_invite(app, SCHOOL, "counsellor"), language="ar", display="رنا")
    for guesser in (sam, rana):
        for _ in range(LINK_CODES.attempts):
            await guesser.say("/link AAAAAA")
    assert (await sam.text_of("/link AAAAAA")).startswith("Too many wrong linking codes")
    assert "ربع ساعة" in await rana.text_of("/link AAAAAA")


async def test_link_refuses_unregistered_source_and_a_second_registered_person(app: App) -> None:
    await import_demo(app)
    newcomer = ConsoleUser(app, "newcomer")
    text = await newcomer.text_of("/link")
    assert "באפליקציה שבה אתם כבר רשומים" in text
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    noa = await register(app, "noa", await make_invite(app, SCHOOL, "counsellor"), display="נועה כהן")
    refused = await noa.text_of(f"/link {code_in(await dana.text_of('/link'))}")
    assert "כבר רשום כאדם נפרד" in refused
    linked = await identities(app)
    assert linked["noa"] != linked["dana"]


async def test_link_in_english_and_arabic(app: App) -> None:
    await import_demo(app)
    sam = await register(app, "sam", await make_invite(app, SCHOOL, "principal"), language="en", display="Sam")
    text = await sam.text_of("/link")
    assert text.startswith("Your linking code: ") and "On your other messenger, send: /link " in text
    rana = await register(app, "rana", await make_invite(app, SCHOOL, "counsellor"), language="ar", display="رنا")
    assert "رمز الربط الخاص بكِ" in await rana.text_of("/link")

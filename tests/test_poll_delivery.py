"""A date poll's required roles when some are vacant, and the lead told who did not get the poll
(through the real delivery path: the console adapter refusing the message for good)."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import Outbound, OutKind, PermanentError, SendResult
from bot.storage.models import ChannelIdentity, Membership, Person
from tests.helpers import console_sender, plain
from tests.test_date_polls import FORUM, answer, inbox, press, publish, school, texts


def refuse_polls_to(app: App, chats: set[str]) -> None:
    sender = console_sender(app)
    original = sender.send

    async def send(chat_id: str, message: Outbound) -> SendResult:
        if chat_id in chats and message.kind is OutKind.POLL:
            raise PermanentError("Forbidden: bot was blocked by the user", identity_unreachable=True)
        return await original(chat_id, message)

    sender.send = send  # type: ignore[method-assign]


async def test_the_lead_is_told_who_did_not_get_the_poll(app: App) -> None:
    s = await school(app, parents=1)
    refuse_polls_to(app, {"rina"})
    await s.lead.say("/poll")
    published = plain((await press(app, "dana", "📣 פרסום"))[0].text)
    assert "פורסם: הסקר נשלח ל־5 חברי הפורום." in published
    assert "אם הסקר לא יגיע למישהו, אגיד לך למי." in published
    await app.delivery.drain()
    told = [t for t in texts(app, "dana") if t.startswith("⚠️ סקר המועדים")]
    assert told == [
        f"⚠️ סקר המועדים של {FORUM} לא הגיע אל רינה (נציג/ת המורים והמחנכים). הסקר לא יגיע אליהם עד שיכתבו שוב "
        "לבוט; כדאי לעדכן אותם בעצמך."
    ]
    await app.delivery.drain()
    assert len([t for t in texts(app, "dana") if t.startswith("⚠️ סקר המועדים")]) == 1  # once
    results = plain((await press(app, "dana", "תוצאות"))[0].text)
    assert "הסקר לא הגיע אל: רינה" in results  # and the results keep saying so


async def test_vacant_required_roles_are_named_and_never_count_as_answered(app: App, clock: FixedClock) -> None:
    s = await school(app, parents=0)
    # Only the principal and the counsellor of the four required roles are seated.
    async with app.db.unit_of_work() as session:
        await session.execute(
            update(Membership)
            .where(Membership.role.in_(["teachers_rep", "parents_committee"]))
            .values(revoked_at=clock.now())
        )
    await s.lead.say("/poll")
    published = plain((await press(app, "dana", "📣 פרסום"))[0].text)
    assert "אעדכן אותך כשכל התפקידים הנדרשים שמאוישים בפורום יענו." in published
    assert "עדיין אין אף אחד: נציג/ת המורים והמחנכים, נציג/ת ועד ההורים" in published
    await answer(app, "dana", [0])
    await answer(app, "yossi", [0])
    notice = next(t for t in texts(app, "dana") if t.startswith("✔️"))
    assert "כל בעלי התפקידים הנדרשים ענו" not in notice
    assert notice.startswith(f"✔️ כל התפקידים הנדרשים שמאוישים ב{FORUM} ענו בסקר המועדים (2 מתוך 4):")
    assert "נציג/ת המורים והמחנכים, נציג/ת ועד ההורים" in notice
    results = plain((await press(app, "dana", "תוצאות"))[0].text)
    assert "כל התפקידים הנדרשים שמאוישים בפורום ענו (מאוישים 2 מתוך 4 התפקידים הנדרשים)." in results
    assert "כל בעלי התפקידים הנדרשים ענו." not in results


async def test_no_notice_while_another_channel_of_theirs_got_the_poll(app: App, clock: FixedClock) -> None:
    s = await school(app, parents=0)
    async with app.db.unit_of_work() as session:
        rina = await session.scalar(select(Person).where(Person.display_name == "רינה"))
        assert rina is not None
        # Rina also uses a second account (as if linked with /link); only her first one refuses the poll.
        session.add(ChannelIdentity(channel="console", external_id="rina-2", chat_id="rina-2", person_id=rina.id,
                                    status="active", created_at=clock.now()))
    refuse_polls_to(app, {"rina"})
    await publish(s)
    await app.delivery.drain()
    assert not [t for t in texts(app, "dana") if t.startswith("⚠️ סקר המועדים")]
    assert any(m.kind is OutKind.POLL for m in inbox(app, "rina-2"))


async def test_a_whatsapp_ballot_that_later_fails_tells_the_lead(app: App) -> None:
    from tests.fakes.whatsapp import FakeWhatsApp
    from tests.test_whatsapp_channel import InProcess, member
    from tests.wa_helpers import wire

    s = await school(app, parents=0)
    async with FakeWhatsApp() as fake:
        channel = wire(app, fake)
        wa = InProcess(app, fake, channel)
        noa = await member(wa, "Noa", role="parent")
        await s.lead.say("/poll")
        await press(app, "dana", "📣 פרסום")
        await wa.settle()
        [ballot] = [m for m in fake.messages_to(noa)]
        assert await wa.deliver(fake.status(ballot, code=131026)) == 200  # accepted, then undeliverable
        await app.delivery.drain()
        told = [t for t in texts(app, "dana") if t.startswith("⚠️ סקר המועדים")]
        assert len(told) == 1 and "לא הגיע אל דנה לוי (הורה)" in told[0]
        await channel.close()

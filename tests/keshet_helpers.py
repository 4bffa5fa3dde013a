"""Helpers for the KeShet and survey tests: a partnership of console users, pressing buttons by label."""

from __future__ import annotations

from bot.app import App
from bot.core.messages import Outbound
from bot.domain.tiers import ForumKind
from bot.services.forums.orgs import create_forum
from tests.helpers import ConsoleUser, console_sender, import_demo, make_invite, plain, register

PARTNERSHIP = "A2100-partnership"
ROLES = {
    "public": ("public_sector_rep", "מזכיר העירייה", "m"),
    "business": ("business_sector_rep", "נציגת פורום החברות", "f"),
    "third": ("third_sector_rep", "נציג הקרן הקהילתית", "m"),
}


async def partnership(app: App, sectors: tuple[str, ...] = ("public", "business", "third")) -> dict[str, ConsoleUser]:
    """The Tirat Carmel partnership with one partner per sector given (console users named by sector)."""
    await import_demo(app)
    async with app.db.unit_of_work() as session:
        await create_forum(session, "A2100", ForumKind.PARTNERSHIP, now=app.clock.now())
    users = {}
    for sector in sectors:
        role, display, form = ROLES[sector]
        code = await make_invite(app, PARTNERSHIP, role)
        users[sector] = await register(app, sector, code, form=form, display=display)
    return users


ASSESSMENT = "האם השותפות שהקמנו – אכן שותפות?"


def assert_not_yet_for_want_of_4_and_5(verdict: str) -> None:
    """Round 1's verdict when only one partner of three said yes to questions 4 and 5: not yet a partnership."""
    assert verdict.splitlines()[:4] == [
        ASSESSMENT,
        "כל השותפים ענו בסבב 1.",
        "",
        "השורה התחתונה: עדיין לא. השאלות שהשותפות לא עומדת בהן:",
    ]
    assert "• 4. האם השותפות מרכזת משאבים מכל המגזרים המעורבים? (שותף אחד מתוך 3 אמר כן)" in verdict
    assert "• 5. האם התנהלותה מלמדת על מעורבות והשפעה של כל השותפים? (שותף אחד מתוך 3 אמר כן)" in verdict


def inbox(user: ConsoleUser) -> list[Outbound]:
    """Everything delivered to this user's chat, replies and notices alike."""
    return [m for chat, m in console_sender(user.app).sent if chat == user.name]


def buttons_of(user: ConsoleUser) -> list[str]:
    for message in reversed(inbox(user)):
        if message.all_buttons:
            return [plain(b.label) for b in message.all_buttons]
    return []


async def press(user: ConsoleUser, label: str, *, exact: bool = True) -> str:
    """Press the button with this label on the newest message that has buttons; returns the reply text."""
    labels = buttons_of(user)
    matches = [i for i, text in enumerate(labels) if (text == label if exact else label in text)]
    assert matches, f"no button {label!r} in {labels}"
    return await user.text_of(str(matches[0] + 1))


def last_text(user: ConsoleUser) -> str:
    return plain(inbox(user)[-1].text)


async def press_twice(user: ConsoleUser, label: str) -> tuple[str, str]:
    """A double click: the same button pressed twice before anything else happens."""
    import itertools

    from bot.channels.console import CHANNEL
    from bot.core.messages import EventKind, Inbound

    message = next(m for m in reversed(inbox(user)) if m.all_buttons)
    token = next(b.token for b in message.all_buttons if plain(b.label) == label)
    replies = []
    for n in itertools.islice(itertools.count(), 2):
        sender = console_sender(user.app)
        before = len(sender.sent)
        event = Inbound(
            channel=CHANNEL,
            user_id=user.name,
            chat_id=user.name,
            kind=EventKind.CHOICE,
            token=token,
            update_key=f"{user.name}:double:{token}:{n}",
        )
        await user.app.conversations.handle(event)
        await user.app.delivery.drain()
        mine = [m for chat, m in sender.sent[before:] if chat == user.name]
        user.received += mine
        replies.append("\n".join(plain(m.text) for m in mine))
    return replies[0], replies[1]

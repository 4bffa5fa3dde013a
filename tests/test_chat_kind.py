"""A chat's kind is a field the sender of a row fills in; delivery paces by it, never by the id's shape."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.core.messages import EventKind, Inbound, Outbound, OutKind, SendResult
from bot.delivery import LIMITS, ChannelLimits, Delivery
from bot.ratelimit import LocalLimiter
from bot.services.delivery.outbox import CHAT_GROUP, CHAT_PRIVATE, enqueue
from bot.storage.models import OutboxMessage


class RecordingLimiter(LocalLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.intervals: dict[str, float] = {}

    async def wait_for_chat(self, channel: str, chat: str, interval: float) -> None:
        self.intervals[chat] = interval
        await super().wait_for_chat(channel, chat, 0.0)


class QuietSender:
    channel = "fakechat"

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        return SendResult(message_id="1")


async def test_delivery_paces_a_group_row_as_a_group_whatever_its_id_looks_like(app: App) -> None:
    now = app.clock.now()
    async with app.db.unit_of_work() as session:
        # A group whose id has no minus sign, and a private chat whose id has one.
        await enqueue(session, channel="fakechat", chat_id="777", chat_kind=CHAT_GROUP,
                      message=Outbound(kind=OutKind.TEXT, text="לקבוצה"), now=now)
        await enqueue(session, channel="fakechat", chat_id="-42",
                      message=Outbound(kind=OutKind.TEXT, text="לאדם"), now=now)
    limiter = RecordingLimiter()
    limits = {"fakechat": ChannelLimits(per_second=1000.0, chat_interval=0.01, group_interval=0.5)}
    delivery = Delivery(app.db, app.clock, {"fakechat": QuietSender()}, limiter=limiter, limits=limits)  # type: ignore[dict-item]
    assert await delivery.drain() == 2
    assert limiter.intervals == {"777": 0.5, "-42": 0.01}
    assert LIMITS["telegram"].group_interval > LIMITS["telegram"].chat_interval


async def test_a_reply_inside_a_group_event_is_a_group_row(app: App) -> None:
    event = Inbound(channel="telegram", user_id="5001", chat_id="-100777", kind=EventKind.COMMAND,
                    command="link", text="/link", update_key="g1", is_group=True, chat_title="הורי ו׳2")
    await app.conversations.handle(event)
    private = Inbound(channel="telegram", user_id="5001", chat_id="5001", kind=EventKind.TEXT,
                      text="שלום", update_key="p1")
    await app.conversations.handle(private)
    async with app.db.unit_of_work() as session:
        kinds = {row.chat_id: row.chat_kind for row in (await session.scalars(select(OutboxMessage))).all()}
    assert kinds == {"-100777": CHAT_GROUP, "5001": CHAT_PRIVATE}

"""Tables of the WhatsApp channel and of linking identities across channels.

- ``whatsapp_inbox``: webhook items stored (after the signature check) before they are handled,
  so a 200 is only given for what is durably ours, and a re-delivery is recognised by its key.
- ``held_messages``: messages waiting for a tap — content held while a person's 24-hour window
  is closed (released by the template's quick reply), and further pages of a long menu.
- ``link_codes``: one-time codes that attach another channel identity to the same person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, Entity


class WhatsAppInbox(Base):
    """One webhook item (a message or a status), keyed by the wamid (and status) it carries."""

    __tablename__ = "whatsapp_inbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # event / status
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending / processing / done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_whatsapp_inbox_due", "status", "id"),)


class HeldMessage(Entity):
    """A full message kept for a person until they tap for it (window closed, or a menu's next page)."""

    __tablename__ = "held_messages"

    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # window / page / numbered
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    template_sent_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]


class LinkCode(Base):
    """A short code shown on one channel; sending it on another links that identity to the person."""

    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    used_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))

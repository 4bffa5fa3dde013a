"""The core tables. Feature modules add theirs beside this one on the same ``Base``.

People are people: channel identities hang off a person, never the other way round.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from bot.storage.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class Entity(Base):
    """A table whose rows are known by an integer ``id``, its first column."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)


class ForumListItem:
    """A row a forum works through by status (an agenda item, a raised issue, an escalated gap).

    Adds its ``created_at`` / ``updated_at`` as the table's last columns and the index the forum's
    lists are read by, ``ix_<table>_forum_status`` on (``forum_id``, ``status``).
    """

    __tablename__: str

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index]:
        return (Index(f"ix_{cls.__tablename__}_forum_status", "forum_id", "status"),)


# Column kinds that recur across the feature tables: ``name: Mapped[PersonRef]``, and
# ``= mapped_column(index=True)`` beside it where the column is also looked up.

# Who did something: emptied when the person is forgotten, while the row (and any role kept beside
# it) stays.
PersonRef = Annotated[int | None, mapped_column(ForeignKey("people.id", ondelete="SET NULL"))]
# A seat (a membership) in a forum: its rows go with the seat.
SeatRef = Annotated[int, mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))]
# A role's key in the catalogue (bot.domain.roles), e.g. "principal".
RoleKey = Annotated[str, mapped_column(String(48))]


class OrgUnit(Entity):
    """HQ, a district, a local authority or a school."""

    __tablename__ = "org_units"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    sector: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id")


class Forum(Entity):
    """A forum of partners held by one org unit (its main forum, a cross-cutting one, ...)."""

    __tablename__ = "forums"

    code: Mapped[str] = mapped_column(String(48), unique=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    cadence: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    org_unit: Mapped[OrgUnit] = relationship()

    __table_args__ = (UniqueConstraint("org_unit_id", "kind", name="uq_forums_unit_kind"),)


class Person(Entity):
    __tablename__ = "people"

    display_name: Mapped[str] = mapped_column(String(80))
    address_form: Mapped[str] = mapped_column(String(1), default="p")  # m / f / p(lural)
    locale: Mapped[str] = mapped_column(String(8), default="he")
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None]
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_active_at: Mapped[datetime]
    forgotten_at: Mapped[datetime | None]


class ChannelIdentity(Entity):
    """Someone on a channel: known before they register, linked to a person once they do."""

    __tablename__ = "channel_identities"

    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[PersonRef] = mapped_column(index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    locale_hint: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active / blocked / failed
    created_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]

    person: Mapped[Person | None] = relationship()

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)


class Membership(Entity):
    __tablename__ = "memberships"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    role: Mapped[RoleKey]
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    forum: Mapped[Forum] = relationship()
    person: Mapped[Person] = relationship()

    __table_args__ = (UniqueConstraint("person_id", "forum_id", "role", name="uq_membership"),)


class Invite(Entity):
    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forums.id"), index=True)
    role: Mapped[RoleKey]
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    created_by_person_id: Mapped[PersonRef]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    forum: Mapped[Forum] = relationship()


class ConversationState(Base):
    """Where one channel identity is in a multi-step conversation."""

    __tablename__ = "conversation_states"

    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class ChoiceToken(Base):
    """An opaque id behind a button; the payload never leaves the server."""

    __tablename__ = "choice_tokens"

    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


CHAT_PRIVATE = "private"
CHAT_GROUP = "group"


class OutboxMessage(Base):
    """Every outgoing message, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    # "private" or "group": filled in by whoever addresses the row (a reply in a group event, a
    # notice to a linked group); delivery paces groups more slowly. Never read off the chat id.
    chat_kind: Mapped[str] = mapped_column(String(8), default=CHAT_PRIVATE, server_default=CHAT_PRIVATE)
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]]
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 0 = reply (now), 10 = bulk
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued/sending/sent/failed
    dedup_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    external_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_due", "status", "priority", "next_attempt_at"),)


class ProcessedUpdate(Base):
    """Inbound updates already handled, so a re-delivery is handled once."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(96), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class JobRun(Base):
    """A scheduled step claimed once per key (e.g. 'digest:forum=12:2026-W48')."""

    __tablename__ = "job_runs"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # running / done / failed
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(64))


class AuditLog(Entity):
    __tablename__ = "audit_log"

    at: Mapped[datetime] = mapped_column(index=True)
    actor_person_id: Mapped[PersonRef]
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str | None] = mapped_column(String(96))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ExternalRef(Entity):
    """What a channel's own id stands for (e.g. a Telegram poll id → "datepoll:12")."""

    __tablename__ = "external_refs"

    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # poll / message
    external_id: Mapped[str] = mapped_column(String(96))
    correlation: Mapped[str] = mapped_column(String(96), index=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("channel", "kind", "external_id", name="uq_external_ref"),)


# ExternalRef.kind of a poll whose send failed without a clear answer (external_id "outbox:<row id>"):
# the chat may hold a copy under a poll id never learnt.
UNSURE_POLL = "poll_unsure"


class GroupChat(Entity):
    """A messenger group linked to a forum, for announcements and polls."""

    __tablename__ = "group_chats"

    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    forum_id: Mapped[int | None] = mapped_column(ForeignKey("forums.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_group_chat"),)

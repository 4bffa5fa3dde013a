"""/forget, complete: every row that names or addresses the person goes, in /forget's transaction.

``forget`` erases the profile (name, accounts, seats) and keeps contributions under their
role; before it does, ``erase_traces`` removes what the rest of the system still holds about the
person:

- every outbox row addressed to any of their chats (sent or not: the /mydata file with its name,
  phone and ids, and whatever was queued for them, which is therefore never delivered);
- the plumbing keyed on their accounts: processed-update marks, WhatsApp inbox rows, buttons,
  held messages, link codes, a channel's references to messages in their chat;
- every other text or JSON value that still carries their phone number or account ids (an
  issue text that quoted their phone...), inside base64 content too (a file attached to someone
  else's message): redacted to "—";
- their name, in the same way, from the messages and the plumbing and from what they wrote
  themselves (with its copies up the tiers). A display name is typed by the person and could be
  any word, so it is never searched for in org units, forums or other people's texts: a member
  called "בית ספר" who leaves does not blank every school's name. Content
  that is compressed (an XLSX file) cannot be searched this way; exports are made on request and
  sent to the lead who asked, and delivered rows leave the outbox after the outbox period.

The one message that may still go to them is the goodbye, queued by ``goodbye`` with no link to
an identity and deleted by the delivery path as soon as it was sent (or failed).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import JSON, String, Table, Text, and_, cast, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.core.messages import Outbound
from bot.services import audit
from bot.services.delivery.outbox import ERASE_AFTER_SEND, PRIORITY_REPLY, enqueue
from bot.services.forums.membership_notices import Change, tell_leads
from bot.services.privacy.contributions import forget_contributions
from bot.storage.models import (
    Base,
    ChannelIdentity,
    ChoiceToken,
    ExternalRef,
    Forum,
    Membership,
    OutboxMessage,
    Person,
    ProcessedUpdate,
)
from bot.storage.models_agenda import AgendaItem, IssueHistory, MeetingDecision, RaisedIssue
from bot.storage.models_escalation import Announcement, EscalatedGap, EscalationLink
from bot.storage.models_keshet import KeshetInput, SurveyAnswer, SurveyResponse
from bot.storage.models_whatsapp import HeldMessage, LinkCode

REDACTED = "—"
MIN_ID = 5  # shorter account ids (a console name like "avi") are matched exactly, never inside texts
# Tables whose rows are plumbing keyed on someone: a row that mentions the person goes (not redacted).
_DROP = {"processed_updates", "choice_tokens", "link_codes", "external_refs"}
# Handled by forget itself (the person's own row, their identities).
_SKIP = {"people", "channel_identities"}
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


@dataclass
class Erased:
    rows_deleted: dict[str, int] = field(default_factory=dict)
    values_redacted: dict[str, int] = field(default_factory=dict)

    def deleted(self, table: str, n: int) -> None:
        if n:
            self.rows_deleted[table] = self.rows_deleted.get(table, 0) + n

    def redacted(self, table: str, n: int = 1) -> None:
        self.values_redacted[table] = self.values_redacted.get(table, 0) + n


def name_of(person: Person) -> str | None:
    name = (person.display_name or "").strip()
    return name if len(name) >= 2 and name != REDACTED else None


def account_needles(identities: list[ChannelIdentity]) -> list[str]:
    """The strings that address the person: their phone numbers (as typed in three ways) and account ids."""
    found: set[str] = set()
    for identity in identities:
        for value in (identity.external_id, identity.chat_id):
            if value and len(value) >= MIN_ID:
                found.add(value)
        digits = re.sub(r"\D", "", identity.phone or "")
        if len(digits) >= MIN_ID:
            found |= {digits, f"+{digits}"}
            if digits.startswith("972") and len(digits) > 9:
                found.add("0" + digits[3:])  # the local form, 050…
    return sorted(found, key=len, reverse=True)  # longest first: "+972…" before "972…"


def _b64_fragments(needle: bytes) -> list[str]:
    """What ``needle`` looks like inside base64, at each of the three byte alignments."""
    fragments = []
    for offset in range(3):
        padded = bytes(offset) + needle
        whole = len(padded) // 3 * 3
        encoded = base64.b64encode(padded[:whole]).decode("ascii")
        fragment = encoded[(offset * 4 + 2) // 3 :]
        if len(fragment) >= 4:
            fragments.append(fragment)
    return fragments


def _forms(needles: list[str]) -> set[str]:
    """Every form a needle can take in a column: as is, JSON-escaped, base64 (standard and URL-safe)."""
    forms: set[str] = set()
    for needle in needles:
        forms.add(needle)
        forms.add(json.dumps(needle)[1:-1])  # how SQLite's JSON text keeps non-ASCII
        for fragment in _b64_fragments(needle.encode("utf-8")):
            forms |= {fragment, fragment.replace("+", "-").replace("/", "_")}
    return {f for f in forms if f}


def _like_any(column: ColumnElement[Any], forms: set[str]) -> ColumnElement[bool]:
    text = cast(column, Text)
    return or_(*(text.like("%" + f.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                           escape="\\") for f in sorted(forms)))


def _decode(run: str) -> bytes | None:
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decoder(run + "=" * (-len(run) % 4))
        except (binascii.Error, ValueError):
            continue
    return None


def scrub_text(value: str, needles: list[str]) -> str:
    """``value`` with every needle replaced, inside base64 runs too."""
    for needle in needles:
        value = value.replace(needle, REDACTED)

    def inside(match: re.Match[str]) -> str:
        run = match.group(0)
        raw = _decode(run)
        if raw is None:
            return run
        changed = raw
        for needle in needles:
            changed = changed.replace(needle.encode("utf-8"), REDACTED.encode("utf-8"))
        if changed == raw:
            return run
        urlsafe = "-" in run or "_" in run
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(changed).decode("ascii")
        return encoded if run.endswith("=") or len(run) % 4 == 0 else encoded.rstrip("=")

    return _B64_RUN.sub(inside, value)


def scrub(value: Any, needles: list[str]) -> Any:
    """A JSON value with every needle replaced, in keys and values, at any depth."""
    if isinstance(value, str):
        return scrub_text(value, needles)
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    if isinstance(value, dict):
        return {scrub_text(k, needles): scrub(v, needles) for k, v in value.items()}
    return value


def _text_columns(table: Table) -> list[Any]:
    """Columns that can hold a name, a phone or an id: JSON, and text longer than a code's 16 characters."""
    return [
        c for c in table.columns
        if isinstance(c.type, JSON) or (isinstance(c.type, String) and (c.type.length or 1000) > 16)
    ]


def _exact_ids(identities: list[ChannelIdentity]) -> set[str]:
    ids = {i.external_id for i in identities} | {i.chat_id for i in identities}
    ids |= {re.sub(r"\D", "", i.phone) for i in identities if i.phone}
    return {i for i in ids if i}


def _holds(value: Any, ids: set[str]) -> bool:
    """Whether a JSON value has one of ``ids`` as a whole value (a sender, a recipient), at any depth."""
    if isinstance(value, str):
        return value in ids
    if isinstance(value, list):
        return any(_holds(v, ids) for v in value)
    if isinstance(value, dict):
        return any(_holds(v, ids) for v in value.values())
    return False


def _drops(table: str, values: dict[str, Any], changed: dict[str, Any], ids: set[str]) -> bool:
    if table in _DROP:
        return True
    if table == "whatsapp_inbox":  # from them or about a message to them; or keyed on a wamid that carries their phone
        return "update_key" in changed or _holds(values.get("payload"), ids)
    return False


async def erase_traces(session: AsyncSession, person: Person, identities: list[ChannelIdentity]) -> Erased:
    """Delete or redact every row outside the profile that names or addresses the person."""
    erased = Erased()
    identity_ids = [i.id for i in identities]
    chats = [(i.channel, i.chat_id) for i in identities] + [(i.channel, i.external_id) for i in identities]

    async def drop(model: Any, *conditions: ColumnElement[bool]) -> None:
        if conditions:
            result = await session.execute(delete(model).where(or_(*conditions)))
            erased.deleted(model.__tablename__, int(getattr(result, "rowcount", 0) or 0))

    # Their chats and accounts, matched exactly (whatever the length of the id).
    if identities:
        await drop(
            OutboxMessage,
            OutboxMessage.identity_id.in_(identity_ids),
            tuple_(OutboxMessage.channel, OutboxMessage.chat_id).in_(chats),
        )
        await drop(ChoiceToken, ChoiceToken.identity_id.in_(identity_ids),
                   tuple_(ChoiceToken.channel, ChoiceToken.chat_id).in_(chats))
        await drop(ExternalRef, tuple_(ExternalRef.channel, ExternalRef.chat_id).in_(chats))
        await drop(HeldMessage, HeldMessage.identity_id.in_(identity_ids))
        # The console's keys are "<user>:<n>"; other channels' keys are matched by content below.
        await drop(
            ProcessedUpdate,
            *(
                and_(ProcessedUpdate.channel == i.channel, ProcessedUpdate.update_key.startswith(f"{i.external_id}:"))
                for i in identities
            ),
        )
    await drop(LinkCode, LinkCode.person_id == person.id)

    exact = _exact_ids(identities)
    # Account ids and phone numbers cannot be chosen to match someone else's text: found anywhere.
    await _redact(session, erased, account_needles(identities), exact, None)
    # A display name is typed by the person and could be any word ("בית ספר"): it is redacted from
    # the messages and the plumbing, and from what the person wrote themselves (and its copies up
    # the tiers), never from org units, forums or other people's texts.
    name = name_of(person)
    if name is not None:
        await _redact(session, erased, [name], exact, _name_scope(person.id))
    await _redact_spreadsheets(session, erased, [*([name] if name else []), *account_needles(identities)])
    return erased


async def _redact_spreadsheets(session: AsyncSession, erased: Erased, needles: list[str]) -> None:
    """XLSX files in the outbox (a lead's export) are zipped XML: searched and redacted inside."""
    if not needles:
        return
    file_name = OutboxMessage.payload[("file", "name")].as_string()
    rows = (
        await session.execute(
            select(OutboxMessage.id, OutboxMessage.payload).where(
                or_(file_name.like("%.xlsx"), file_name.like("%.XLSX"))
            )
        )
    ).all()
    for row_id, payload in rows:
        data = (payload.get("file") or {}).get("data_b64")
        if not isinstance(data, str):
            continue
        cleaned = scrub_zip(base64.b64decode(data), needles)
        if cleaned is None:
            continue
        file = {**payload["file"], "data_b64": base64.b64encode(cleaned).decode("ascii")}
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(payload={**payload, "file": file})
        )
        erased.redacted("outbox")


def scrub_zip(data: bytes, needles: list[str]) -> bytes | None:
    """A zip (XLSX, DOCX) with every needle replaced in its XML parts; None when nothing changed."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        parts = [(info, source.read(info)) for info in source.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    forms = [(n.encode("utf-8"), REDACTED.encode("utf-8")) for n in needles]
    forms += [(escape(n).encode("utf-8"), REDACTED.encode("utf-8")) for n in needles if escape(n) != n]
    changed = False
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info, content in parts:
            new = content
            for needle, replacement in forms:
                new = new.replace(needle, replacement)
            changed = changed or new != content
            target.writestr(info, new)
    return out.getvalue() if changed else None


def _name_scope(person_id: int) -> dict[str, ColumnElement[bool] | None]:
    """Where a name is redacted: a table → None (every row) or the condition for the person's own rows."""
    seats = select(Membership.id).where(Membership.person_id == person_id)
    own_issues = select(RaisedIssue.id).where(RaisedIssue.raiser_person_id == person_id)
    own_items = select(AgendaItem.id).where(AgendaItem.proposer_person_id == person_id)
    return {
        **dict.fromkeys(("outbox", "whatsapp_inbox", "held_messages", "conversation_states", "audit_log",
                         "choice_tokens", "processed_updates", "external_refs", "link_codes")),
        "raised_issues": RaisedIssue.raiser_person_id == person_id,
        "agenda_items": AgendaItem.proposer_person_id == person_id,
        "issue_history": or_(IssueHistory.actor_person_id == person_id, IssueHistory.issue_id.in_(own_issues)),
        "meeting_decisions": or_(
            MeetingDecision.owner_person_id == person_id,
            MeetingDecision.issue_id.in_(own_issues),
            MeetingDecision.item_id.in_(own_items),
        ),
        "escalated_gaps": EscalatedGap.id.in_(
            select(EscalationLink.gap_id).where(EscalationLink.issue_id.in_(own_issues))
        ),
        "announcements": Announcement.author_person_id == person_id,
        "survey_answers": SurveyAnswer.response_id.in_(
            select(SurveyResponse.id).where(SurveyResponse.membership_id.in_(seats))
        ),
        "keshet_inputs": KeshetInput.membership_id.in_(seats),
    }


async def _redact(
    session: AsyncSession,
    erased: Erased,
    needles: list[str],
    exact: set[str],
    scope: dict[str, ColumnElement[bool] | None] | None,
) -> None:
    """Delete (plumbing) or redact (everything else) each row of the scope that holds a needle."""
    if not needles:
        return
    forms = _forms(needles)
    for table in Base.metadata.sorted_tables:
        if table.name in _SKIP or (scope is not None and table.name not in scope):
            continue
        columns = _text_columns(table)
        if not columns:
            continue
        primary = list(table.primary_key.columns)
        query = select(*primary, *columns).where(or_(*(_like_any(c, forms) for c in columns)))
        condition = scope.get(table.name) if scope is not None else None
        if condition is not None:
            query = query.where(condition)
        for row in (await session.execute(query)).all():
            key = {c.name: row[i] for i, c in enumerate(primary)}
            values = {c.name: row[len(primary) + i] for i, c in enumerate(columns)}
            changed = {name: scrub(v, needles) for name, v in values.items() if v is not None}
            changed = {name: v for name, v in changed.items() if v != values[name]}
            if not changed:
                continue  # the LIKE matched something that was not them (a base64 look-alike)
            where = and_(*(table.c[name] == value for name, value in key.items()))
            if _drops(table.name, values, changed, exact):
                await session.execute(delete(table).where(where))
                erased.deleted(table.name, 1)
            else:
                await session.execute(update(table).where(where).values(**changed))
                erased.redacted(table.name, len(changed))


async def goodbye(session: AsyncSession, *, channel: str, chat_id: str, message: Outbound, now: datetime) -> None:
    """The last message to a forgotten person: tied to no identity, deleted once it was sent."""
    await enqueue(
        session,
        channel=channel,
        chat_id=chat_id,
        message=message,
        now=now,
        priority=PRIORITY_REPLY,
        dedup_key=f"{ERASE_AFTER_SEND}{uuid.uuid4().hex}",
    )


FORGOTTEN_NAME = "—"


async def forget(session: AsyncSession, person: Person, *, now: datetime, reason: str = "request") -> None:
    """Erase a person's personal data; what they contributed stays, attributed to their role only.

    Everything else that names or addresses them (messages, marks, inbox rows...) goes first, in
    the same transaction (``erase_traces``, below).
    """
    identities = (
        await session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person.id))
    ).all()
    await erase_traces(session, person, list(identities))  # while their contributions still name them
    await forget_contributions(session, person.id)
    for identity in identities:
        await session.delete(identity)
    memberships = (await session.scalars(select(Membership).where(Membership.person_id == person.id))).all()
    change = Change.RETIRED if reason == "retention" else Change.FORGOTTEN
    for membership in memberships:
        if membership.revoked_at is None:
            membership.revoked_at = now
            forum = await session.get(Forum, membership.forum_id)
            assert forum is not None
            await tell_leads(session, forum=forum, membership=membership, change=change, now=now)
    person.display_name = FORGOTTEN_NAME
    person.forgotten_at = now
    person.consent_version = None
    person.is_admin = False
    audit.record(
        session, now=now, action="person.forget", subject=f"person:{person.id}", details={"reason": reason}
    )

"""Digests for coordinators: what was forwarded to their forum, built set-based for every forum at
once, rendered per reader (language, length limits), with a CSV when long and a chart.

A digest for a slot (e.g. Sunday 08:00) lists the gaps that had arrived by that slot: those no
digest listed yet as **new**, the rest as **still open** with their age; grouped by the unit below
that passed them on, then by kind. Nothing open: no digest.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.messages import Button, FileSpec, Outbound, OutKind
from bot.domain import escalation as rules
from bot.domain.agenda import IssueKind
from bot.domain.escalation import OPEN_GAP, GapStatus
from bot.domain.tiers import Tier
from bot.i18n import Raw, Translator
from bot.services import notify, sheets
from bot.services.agenda_text import category_label, forum_title, kind_label, role_label
from bot.services.escalation import mark_seen
from bot.services.outbox import PRIORITY_BULK
from bot.storage.models import Forum, OrgUnit
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink

PART_LIMIT = 3500  # characters per message (Telegram allows 4096; WhatsApp text too)
MAX_PARTS = 3  # more than this: a summary and the full list as a CSV file
BUTTONS_PER_PART = 40
# The approved WhatsApp utility template announcing a digest to someone whose 24-hour window is
# closed (bot/channels/whatsapp_templates.json): {{1}} the reader's name, {{2}} the forum's title.
DIGEST_TEMPLATE = "forumbot_digest"
ORIGIN_NAMES_SHOWN = 3
KIND_ORDER = {IssueKind.BLOCKER.value: 0, IssueKind.DIFFICULTY.value: 1, IssueKind.NEED.value: 2}


@dataclass
class GapLine:
    id: int
    forum_id: int
    kind: str
    category: str | None
    title: str
    status: str
    arrived_at: datetime
    first_digest_at: datetime | None
    owner_role: str | None
    origins: list[int] = field(default_factory=list)  # origin unit ids, distinct
    children: list[int] = field(default_factory=list)  # the units below that passed it on


@dataclass
class Digest:
    forum_id: int
    slot: datetime
    new: list[GapLine]
    still_open: list[GapLine]

    @property
    def empty(self) -> bool:
        return not self.new and not self.still_open

    @property
    def all(self) -> list[GapLine]:
        return self.new + self.still_open


@dataclass(frozen=True)
class UnitName:
    name: str
    name_en: str | None
    tier: str

    def of(self, t: Translator) -> str:
        return self.name_en if t.locale == "en" and self.name_en else self.name


async def build_digests(
    session: AsyncSession, slots: Mapping[int, datetime] | datetime, forum_ids: Iterable[int] | None = None
) -> dict[int, Digest]:
    """Every forum's digest in two streamed queries (gaps, then their origins), no ORM objects.

    ``slots``: the slot per forum (or one for all); a gap counts when it arrived by its forum's slot.
    """
    wanted = list(forum_ids) if forum_ids is not None else None
    gaps: dict[int, GapLine] = {}
    stmt = select(
        EscalatedGap.id, EscalatedGap.forum_id, EscalatedGap.kind, EscalatedGap.category, EscalatedGap.title,
        EscalatedGap.status, EscalatedGap.arrived_at, EscalatedGap.first_digest_at, EscalatedGap.owner_role,
    ).where(EscalatedGap.status.in_([s.value for s in OPEN_GAP]))
    if wanted is not None:
        stmt = stmt.where(EscalatedGap.forum_id.in_(wanted))
    digests: dict[int, Digest] = {}
    async for row in await session.stream(stmt.order_by(EscalatedGap.forum_id, EscalatedGap.arrived_at,
                                                        EscalatedGap.id)):
        slot = slots if isinstance(slots, datetime) else slots.get(row.forum_id)
        if slot is None or row.arrived_at > slot:
            continue
        line = GapLine(row.id, row.forum_id, row.kind, row.category, row.title, row.status, row.arrived_at,
                       row.first_digest_at, row.owner_role)
        gaps[line.id] = line
        digest = digests.get(line.forum_id)
        if digest is None:
            digest = digests[line.forum_id] = Digest(line.forum_id, slot, [], [])
        (digest.new if line.first_digest_at is None else digest.still_open).append(line)
    if not gaps:
        return digests
    origin_forum, via_forum = aliased(Forum), aliased(Forum)
    links = (
        select(EscalationLink.gap_id, origin_forum.org_unit_id, via_forum.org_unit_id)
        .join(EscalatedGap, EscalatedGap.id == EscalationLink.gap_id)
        .join(RaisedIssue, RaisedIssue.id == EscalationLink.issue_id)
        .join(origin_forum, origin_forum.id == RaisedIssue.forum_id)
        .join(via_forum, via_forum.id == EscalationLink.via_forum_id)
        .where(EscalatedGap.status.in_([s.value for s in OPEN_GAP]))
    )
    if wanted is not None:
        links = links.where(EscalatedGap.forum_id.in_(wanted))
    async for gap_id, origin_unit, via_unit in await session.stream(links):
        found = gaps.get(gap_id)
        if found is None:
            continue
        if origin_unit not in found.origins:
            found.origins.append(origin_unit)
        if via_unit not in found.children:
            found.children.append(via_unit)
    return digests


async def unit_names(session: AsyncSession, digests: Iterable[Digest]) -> dict[int, UnitName]:
    ids = sorted({u for d in digests for g in d.all for u in (*g.origins, *g.children)})
    names: dict[int, UnitName] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.name_en, OrgUnit.tier)
            .where(OrgUnit.id.in_(ids[start:start + 1000]))
        )
        for unit_id, name, name_en, tier in rows.all():
            names[unit_id] = UnitName(name, name_en, tier)
    return names


# -- rendering --------------------------------------------------------------------------------------


def origins_text(t: Translator, line: GapLine, units: Mapping[int, UnitName]) -> str:
    known = [units[u] for u in line.origins if u in units]
    if not known:
        return ""
    if len(known) == 1:
        return known[0].of(t)
    tiers = {u.tier for u in known}
    n = len(known)
    if tiers == {Tier.SCHOOL.value}:
        count = t.n_("one school", "{n} schools", n)
    elif tiers == {Tier.AUTHORITY.value}:
        count = t.n_("one local authority", "{n} local authorities", n)
    elif tiers == {Tier.DISTRICT.value}:
        count = t.n_("one district", "{n} districts", n)
    else:
        count = t.n_("one unit", "{n} units", n)
    names = ", ".join(u.of(t) for u in known[:ORIGIN_NAMES_SHOWN])
    if n > ORIGIN_NAMES_SHOWN:
        names += ", …"
    return f"{count}: {names}"


def gap_line(t: Translator, line: GapLine, units: Mapping[int, UnitName], forum: Forum, now: datetime) -> str:
    parts = [f"#{line.id}", kind_label(t, line.kind)]
    if line.category:
        parts.append(category_label(t, line.category))
    parts.append(line.title)
    text = " · ".join(parts)
    origins = origins_text(t, line, units)
    if origins:
        text += " — " + origins
    days = rules.age_days(line.arrived_at, now)
    text += " · " + t.n_("one day here", "{n} days here", days) if days else " · " + t._("arrived today")
    if line.status == GapStatus.ACKNOWLEDGED:
        text += " · " + t._("acknowledged")
    elif line.status == GapStatus.IN_PROGRESS and line.owner_role:
        text += " · " + t._("in charge: {role}", role=role_label(t, forum.org_unit, forum, line.owner_role))
    return "• " + text


def _grouped(t: Translator, lines: list[GapLine], units: Mapping[int, UnitName], forum: Forum,
             now: datetime) -> list[str]:
    groups: dict[str, list[GapLine]] = {}
    for line in lines:
        key = units[line.children[0]].of(t) if len(line.children) == 1 and line.children[0] in units else ""
        groups.setdefault(key, []).append(line)
    out: list[str] = []
    for key in sorted(groups, key=lambda k: (k == "", k)):
        out.append("▸ " + (key or t._("Several units")))
        for line in sorted(groups[key], key=lambda g: (KIND_ORDER.get(g.kind, 9), g.arrived_at, g.id)):
            out.append(gap_line(t, line, units, forum, now))
    return out


def digest_lines(t: Translator, forum: Forum, digest: Digest, units: Mapping[int, UnitName],
                 now: datetime) -> list[str]:
    lines = [
        t._("Escalation digest of {forum}, {date}:", forum=Raw(forum_title(t, forum, forum.org_unit)),
            date=t.date(digest.slot, "medium")),
        " · ".join(
            ([t.n_("One new item", "{n} new items", len(digest.new))] if digest.new else [])
            + [t.n_("one open in all", "{n} open in all", len(digest.all))]
        ),
    ]
    if digest.new:
        lines += ["", t._("New since the last digest:"), *_grouped(t, digest.new, units, forum, now)]
    if digest.still_open:
        lines += ["", t._("Still open:"), *_grouped(t, digest.still_open, units, forum, now)]
    return lines


def summary_lines(t: Translator, forum: Forum, digest: Digest, units: Mapping[int, UnitName]) -> list[str]:
    """When the list is too long for a few messages: counts here, the whole list in the CSV."""
    lines = digest_lines(t, forum, digest, units, digest.slot)[:2]
    by_category = Counter(g.category or "other" for g in digest.all)
    lines += ["", t._("Open by area:")]
    lines += [f"• {category_label(t, c)}: {n}" for c, n in by_category.most_common()]
    by_child = Counter(units[g.children[0]].of(t) if len(g.children) == 1 and g.children[0] in units
                       else t._("Several units") for g in digest.all)
    lines += ["", t._("Open by unit below:")]
    lines += [f"• {name}: {n}" for name, n in by_child.most_common(15)]
    if len(by_child) > 15:
        lines.append(t.n_("…and one more unit", "…and {n} more units", len(by_child) - 15))
    lines += ["", t._("The full list is in the attached file.")]
    return lines


def digest_csv(t: Translator, forum: Forum, digest: Digest, units: Mapping[int, UnitName], now: datetime) -> bytes:
    rows: list[list[sheets.Value]] = [[
        t._("Number"), t._("New"), t._("Kind"), t._("Area"), t._("Title"), t._("Origins"), t._("Days open"),
        t._("Status"),
    ]]
    new_ids = {g.id for g in digest.new}
    for g in digest.all:
        rows.append([
            g.id, t._("yes") if g.id in new_ids else "", kind_label(t, g.kind), category_label(t, g.category),
            g.title, "; ".join(units[u].of(t) for u in g.origins if u in units), rules.age_days(g.arrived_at, now),
            t._("acknowledged") if g.status == GapStatus.ACKNOWLEDGED else
            t._("in charge: {role}", role=role_label(t, forum.org_unit, forum, g.owner_role))
            if g.owner_role else "",
        ])
    return sheets.csv_bytes(rows)


def _visual(t: Translator, text: str) -> str:
    """Matplotlib lays right-to-left text out itself (logical order in): only strip the bidi
    isolation marks, which it would draw as boxes."""
    return text.translate(_MARKS)


_MARKS = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069\u200e\u200f"), None)


def digest_chart(t: Translator, forum: Forum, digest: Digest, units: Mapping[int, UnitName]) -> bytes:
    """A PNG: open gaps by area and by the unit below, labelled in the reader's language.

    Matplotlib 3.11 shapes and orders Hebrew and Arabic itself (checked by eye), and DejaVu Sans,
    bundled with matplotlib, has both scripts: no system font is needed (the slim image has none).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by_category = Counter(category_label(t, g.category or "other") for g in digest.all).most_common()
    by_child = Counter(units[g.children[0]].of(t) if len(g.children) == 1 and g.children[0] in units
                       else t._("Several units") for g in digest.all).most_common(12)
    height = 1.6 + 0.35 * (len(by_category) + len(by_child))
    fig = Figure(figsize=(8, max(4.0, height)), dpi=100)
    FigureCanvasAgg(fig)
    name = forum.org_unit.name_en or forum.org_unit.name if t.locale == "en" else forum.org_unit.name
    fig.suptitle(_visual(t, t._("Open gaps forwarded to {forum}", forum=name)), fontfamily="DejaVu Sans")
    axes = fig.subplots(2, 1, gridspec_kw={"height_ratios": [max(1, len(by_category)), max(1, len(by_child))]})
    for ax, data, title in ((axes[0], by_category, t._("By area")), (axes[1], by_child, t._("By unit below"))):
        labels = [_visual(t, label) for label, _ in data][::-1]
        values = [n for _, n in data][::-1]
        ax.barh(range(len(values)), values, color="#3b6ea8")
        ax.set_yticks(range(len(values)), labels, fontfamily="DejaVu Sans")
        ax.set_title(_visual(t, title), fontfamily="DejaVu Sans")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if t.rtl:
            ax.invert_xaxis()
            ax.yaxis.tick_right()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def gap_buttons(make: Any, ids: list[int]) -> list[list[Button]]:
    shown = ids[:BUTTONS_PER_PART]
    return [[make(f"#{i}", f"escg:{i}") for i in shown[n:n + 5]] for n in range(0, len(shown), 5)]


async def send_digest(session: AsyncSession, forum: Forum, digest: Digest, now: datetime) -> int:
    """Queue the digest to the forum's leads (once per slot, by its dedup keys); mark its new gaps seen."""
    if digest.empty:
        return 0
    units = await unit_names(session, [digest])
    key = f"esc:digest:f{forum.id}:{digest.slot.isoformat()}"
    charts: dict[str, bytes] = {}
    sent = 0
    for r in await notify.recipients(session, await notify.lead_ids(session, forum.id), now=now):
        lines = digest_lines(r.t, forum, digest, units, now)
        parts = rules.split_lines(lines, PART_LIMIT)
        footer = r.t._("Press a number to acknowledge it, put someone in charge, answer it or forward it up.")
        messages: list[Outbound] = []
        if len(parts) > MAX_PARTS:
            summary = "\n".join(summary_lines(r.t, forum, digest, units))
            ids = [g.id for g in digest.new] or [g.id for g in digest.still_open]
            messages.append(r.message(summary + "\n\n" + footer, gap_buttons(r.button, ids)))
            data = digest_csv(r.t, forum, digest, units, now)
            messages.append(Outbound(kind=OutKind.FILE, text=r.t._("The escalation digest, in full"), rtl=r.t.rtl,
                                     file=FileSpec.of(f"digest-{forum.code}.csv", "text/csv", data)))
        else:
            ordered = [g.id for g in digest.new] + [g.id for g in digest.still_open]
            for n, part in enumerate(parts):
                ids = [i for i in ordered if f"#{i} " in part]
                text = part + ("\n\n" + footer if n == len(parts) - 1 else "")
                messages.append(r.message(text, gap_buttons(r.button, ids)))
        chart = charts.get(r.t.locale)
        if chart is None:
            chart = charts[r.t.locale] = digest_chart(r.t, forum, digest, units)
        messages.append(Outbound(kind=OutKind.FILE, text=r.t._("Open gaps by area and by unit below"), rtl=r.t.rtl,
                                 file=FileSpec.of(f"digest-{forum.code}.png", "image/png", chart)))
        template = {"name": DIGEST_TEMPLATE, "body": [r.person.display_name, forum_title(r.t, forum, forum.org_unit)]}
        for n, message in enumerate(messages):
            message.template = template  # used only where a channel needs one (WhatsApp, window closed)
            if await r.send(message, priority=PRIORITY_BULK, dedup_key=f"{key}:{n}"):
                sent += 1
    await mark_seen(session, [g.id for g in digest.new], now)
    return sent

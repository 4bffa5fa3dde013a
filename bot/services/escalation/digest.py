"""Digests for coordinators: what was forwarded to their forum, built set-based for every forum at
once, rendered per reader (language, length limits), with a CSV when long and a chart.

A digest for a slot (e.g. Sunday 08:00) lists the gaps that had arrived by that slot: those no
digest listed yet as **new**, the rest as **still open** with their age; grouped by the unit below
that passed them on, then by kind. Nothing open: no digest.

After downtime (the messenger unreachable for weeks, a clock jump) a lead gets **one** digest: a new
one supersedes that lead's older digests of the same forum still waiting in the outbox, and lists as
new what those never delivered. A chart is drawn only where it compares something: a panel of a single
bar (one area, one unit below) is left out, and a digest with nothing to compare has no chart.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.messages import Button, FileSpec, Outbound, OutKind
from bot.domain import escalation as rules
from bot.domain.agenda import IssueKind
from bot.domain.escalation import OPEN_GAP, GapStatus
from bot.domain.tiers import Tier
from bot.i18n import N_, Ltr, Raw, Translator, ascii_filename
from bot.services import sheets
from bot.services.delivery import held, notify
from bot.services.delivery.outbox import PRIORITY_BULK
from bot.services.escalation.actions import ShowGap
from bot.services.escalation.forwarding import mark_seen
from bot.services.texts import category_label, forum_title, kind_label, role_label
from bot.storage.models import Forum, OrgUnit, OutboxMessage
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap, EscalationLink
from bot.storage.models_whatsapp import HeldMessage

PART_LIMIT = 3500  # characters per message (Telegram allows 4096; WhatsApp text too)
MAX_PARTS = 3  # more than this: a summary and the full list as a CSV file
BUTTONS_PER_PART = 40
# The approved WhatsApp utility template announcing a digest to someone whose 24-hour window is
# closed (bot/channels/whatsapp_templates.json): {{1}} the reader's name, {{2}} the forum's title.
DIGEST_TEMPLATE = "forumbot_digest"
ORIGIN_NAMES_SHOWN = 3
KIND_ORDER = {IssueKind.BLOCKER.value: 0, IssueKind.DIFFICULTY.value: 1, IssueKind.NEED.value: 2}
SUPERSEDED = "superseded"  # an outbox status: a later digest of the same forum replaced it before it went out


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

    def new_since(self, since: datetime | None) -> Digest:
        """The same digest for a reader who never got the digests queued from ``since`` on: what those
        listed first is new to them."""
        if since is None:
            return self
        lines = sorted(self.all, key=lambda g: (g.arrived_at, g.id))
        new = [g for g in lines if g.first_digest_at is None or g.first_digest_at >= since]
        return Digest(self.forum_id, self.slot, new, [g for g in lines if g not in new])


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
    names = t.join([u.of(t) for u in known[:ORIGIN_NAMES_SHOWN]] + (["…"] if n > ORIGIN_NAMES_SHOWN else []))
    return f"{count}: {names}"


DIGEST_FILE = N_("escalation-digest-{forum}")


def _names(t: Translator, forum: Forum, suffix: str, data: bytes, mime: str) -> tuple[str, str, bytes, str]:
    """FileSpec.of's arguments: the name in the reader's language, then the ASCII one last."""
    name = t.filename(DIGEST_FILE, suffix, forum=Ltr(forum.code))
    return name, mime, data, ascii_filename(DIGEST_FILE, suffix, forum=forum.code)


def gap_line(t: Translator, line: GapLine, units: Mapping[int, UnitName], forum: Forum, now: datetime) -> str:
    parts = [t.ref(line.id), kind_label(t, line.kind)]
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
            date=t.date(digest.slot, "long")),
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


Panel = tuple[str, list[tuple[str, int]]]  # a chart panel: its title and its bars (label, count)


def chart_panels(t: Translator, digest: Digest, units: Mapping[int, UnitName]) -> list[Panel]:
    """The chart's panels (title, bars) that compare something: a panel of one bar is left out."""
    by_category = Counter(category_label(t, g.category or "other") for g in digest.all).most_common()
    by_child = Counter(units[g.children[0]].of(t) if len(g.children) == 1 and g.children[0] in units
                       else t._("Several units") for g in digest.all).most_common(12)
    panels = [(t._("By area"), by_category), (t._("By unit below"), by_child)]
    return [(title, data) for title, data in panels if len(data) > 1]


def chart_caption(t: Translator, panels: list[Panel]) -> str:
    if len(panels) == 2:
        return t._("Open gaps by area and by unit below")
    return t._("Open gaps by area") if panels[0][0] == t._("By area") else t._("Open gaps by unit below")


def digest_chart(t: Translator, forum: Forum, digest: Digest, units: Mapping[int, UnitName]) -> bytes | None:
    """A PNG: open gaps by area and by the unit below, labelled in the reader's language (None: a single
    gap, or one area from one unit — nothing to compare, no chart of one bar).

    Matplotlib 3.11 shapes and orders Hebrew and Arabic itself (checked by eye), and DejaVu Sans,
    bundled with matplotlib, has both scripts: no system font is needed (the slim image has none).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = chart_panels(t, digest, units)
    if not panels:
        return None
    height = 1.6 + 0.35 * sum(len(data) for _, data in panels)
    fig = Figure(figsize=(8, max(4.0, height)), dpi=100)
    FigureCanvasAgg(fig)
    name = forum.org_unit.name_en or forum.org_unit.name if t.locale == "en" else forum.org_unit.name
    fig.suptitle(_visual(t, t._("Open gaps forwarded to {forum}", forum=name)), fontfamily="DejaVu Sans")
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [len(data) for _, data in panels]})[:, 0]
    for ax, (title, data) in zip(axes, panels, strict=True):
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
    return [[make(f"#{i}", ShowGap(i)) for i in shown[n:n + 5]] for n in range(0, len(shown), 5)]


async def supersede(session: AsyncSession, forum: Forum, identity_id: int, key: str, now: datetime) -> datetime | None:
    """Older digests of this forum that have not reached this reader are superseded by the one being
    queued (``key``): those still waiting in the outbox, and those a channel holds for them (WhatsApp,
    window closed: the tap would release them all at once). Returns when the oldest digest this reader
    never got (since the last one that reached them) was queued, or None when they got every one."""
    prefix = f"esc:digest:f{forum.id}:"
    rows = (await session.execute(
        select(OutboxMessage.id, OutboxMessage.dedup_key, OutboxMessage.status, OutboxMessage.created_at).where(
            OutboxMessage.identity_id == identity_id, OutboxMessage.dedup_key.like(prefix + "%"),
            ~OutboxMessage.dedup_key.like(key + ":%"),
        )
    )).all()
    waiting = [row.id for row in rows if row.status == "queued"]
    if waiting:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(waiting), OutboxMessage.status == "queued")
            .values(status=SUPERSEDED, last_error="superseded by a later digest")
            .execution_options(synchronize_session=False)
        )
    held_firsts: set[datetime] = set()
    for row in (await session.scalars(select(HeldMessage).where(
        HeldMessage.identity_id == identity_id, HeldMessage.kind == held.WINDOW, HeldMessage.released_at.is_(None),
    ))).all():
        mark = ((row.payload or {}).get("template") or {}).get("digest") or {}
        if mark.get("forum") == forum.id:
            if mark.get("part") == 0:
                held_firsts.add(datetime.fromisoformat(str(mark["at"])))
            row.released_at = now  # dropped unseen: the new digest carries all of it
    firsts = [row for row in rows if (row.dedup_key or "").endswith(f":0:i{identity_id}")]
    got = max((row.created_at for row in firsts if row.status in ("sent", "sending")
               and row.created_at not in held_firsts), default=None)
    missed = [row.created_at for row in firsts if row.status in ("queued", SUPERSEDED, "failed")] + list(held_firsts)
    missed = [at for at in missed if got is None or at > got]
    return min(missed) if missed else None


async def send_digest(
    session: AsyncSession, forum: Forum, digest: Digest, now: datetime, *, mini_app_url: str = ""
) -> int:
    """Queue the digest to the forum's leads (once per slot, by its dedup keys), superseding their older
    digests not yet sent; mark its new gaps seen.

    With ``mini_app_url`` (the web page is served over https), Telegram leads get a button that opens
    the forum's board as a Mini App, and the others a line saying /web signs them in."""
    if digest.empty:
        return 0
    units = await unit_names(session, [digest])
    key = f"esc:digest:f{forum.id}:{digest.slot.isoformat()}"
    charts: dict[str, bytes | None] = {}  # per language: the chart shows every open gap, whatever is new
    sent = 0
    full = digest
    for r in await notify.recipients(session, await notify.lead_ids(session, forum.id), now=now):
        since = await supersede(session, forum, r.identity.id, key, now)
        digest = full.new_since(since)
        lines = digest_lines(r.t, forum, digest, units, now)
        parts = rules.split_lines(lines, PART_LIMIT)
        footer = r.t._("Press a number to acknowledge it, put someone in charge, answer it or forward it up.")
        board_row: list[list[Button]] = []
        if mini_app_url and r.identity.channel == "telegram":
            url = f"{mini_app_url}?next=/web/board/{forum.id}"
            board_row = [[Button(token="", label=r.t._("Open the board"), url=url)]]
        elif mini_app_url:
            footer += "\n" + r.t._("The board is also on the web page: send /web for a sign-in link.")
        messages: list[Outbound] = []
        if len(parts) > MAX_PARTS:
            summary = "\n".join(summary_lines(r.t, forum, digest, units))
            ids = [g.id for g in digest.new] or [g.id for g in digest.still_open]
            messages.append(r.message(summary + "\n\n" + footer, gap_buttons(r.button, ids) + board_row))
            data = digest_csv(r.t, forum, digest, units, now)
            messages.append(Outbound(kind=OutKind.FILE, text=r.t._("The escalation digest, in full"), rtl=r.t.rtl,
                                     file=FileSpec.of(*_names(r.t, forum, "csv", data, "text/csv"))))
        else:
            ordered = [g.id for g in digest.new] + [g.id for g in digest.still_open]
            for n, part in enumerate(parts):
                ids = [i for i in ordered if f"{r.t.ref(i)} " in part]
                text = part + ("\n\n" + footer if n == len(parts) - 1 else "")
                last = n == len(parts) - 1
                messages.append(r.message(text, gap_buttons(r.button, ids) + (board_row if last else [])))
        if r.t.locale not in charts:
            charts[r.t.locale] = digest_chart(r.t, forum, digest, units)
        chart = charts[r.t.locale]
        if chart is not None:
            caption = chart_caption(r.t, chart_panels(r.t, digest, units))
            messages.append(Outbound(kind=OutKind.FILE, text=caption, rtl=r.t.rtl,
                                     file=FileSpec.of(*_names(r.t, forum, "png", chart, "image/png"))))
        body = [r.person.display_name, forum_title(r.t, forum, forum.org_unit)]
        for n, message in enumerate(messages):
            # The template is used only where a channel needs one (WhatsApp, window closed); "digest" marks
            # what a held message is, for a later digest to supersede it.
            message.template = {"name": DIGEST_TEMPLATE, "body": body,
                                "digest": {"forum": forum.id, "at": now.isoformat(), "part": n}}
            if await r.send(message, priority=PRIORITY_BULK, dedup_key=f"{key}:{n}"):
                sent += 1
    await mark_seen(session, [g.id for g in full.new], now)
    return sent

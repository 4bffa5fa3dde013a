"""Importing the org tree (HQ → districts → authorities → schools) from CSV.

Idempotent: a re-import updates names and parents and never duplicates. A bad row reports
``file:line: reason`` and nothing at all is imported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.tiers import ForumKind, Tier, forum_code
from bot.i18n import N_
from bot.services.errors import NotFound, Refused
from bot.storage.models import Forum, OrgUnit

REQUIRED_COLUMNS = ("code", "name", "tier", "parent_code")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SECTORS = frozenset(
    {"state", "state_religious", "haredi", "arab", "druze", "bedouin", "christian", "circassian", "mixed"}
)
# Which holiday calendars a forum of a given sector also respects when proposing dates.
SECTOR_OBSERVANCES: dict[str, list[str]] = {
    "arab": ["muslim", "christian"],
    "bedouin": ["muslim"],
    "druze": ["druze"],
    "christian": ["christian"],
    "circassian": ["muslim"],
    "mixed": ["muslim", "christian"],
}


class OrgImportError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Row:
    line: int
    code: str
    name: str
    tier: Tier
    parent_code: str
    name_en: str | None
    sector: str | None


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    forums_created: int = 0
    codes: list[str] = field(default_factory=list)


def parse_org_csv(text: str, filename: str = "<csv>") -> list[Row]:
    """Validate the whole file; raise OrgImportError with every problem found."""
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise OrgImportError([f"{filename}:1: missing column(s): {', '.join(missing)}"])
    reader.fieldnames = header
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num

        def get(key: str, record: dict[str, str | None] = record) -> str:
            return (record.get(key) or "").strip()

        if None in record:
            problems.append(f"{filename}:{line}: more fields than columns")
            continue
        code, name, tier_raw, parent = get("code"), get("name"), get("tier").lower(), get("parent_code")
        where = f"{filename}:{line}"
        if not CODE_RE.match(code):
            problems.append(f"{where}: code {code!r} must be 1-32 letters, digits, '-' or '_'")
            continue
        if code in seen:
            problems.append(f"{where}: code {code} already given on line {seen[code]}")
            continue
        seen[code] = line
        if not name or len(name) > 200:
            problems.append(f"{where}: name must be 1-200 characters")
            continue
        try:
            tier = Tier(tier_raw)
        except ValueError:
            problems.append(f"{where}: tier {tier_raw!r} is not one of hq, district, authority, school")
            continue
        if tier is Tier.HQ and parent:
            problems.append(f"{where}: the HQ unit has no parent")
            continue
        if tier is not Tier.HQ and not parent:
            problems.append(f"{where}: a {tier.value} needs a parent_code")
            continue
        sector = get("sector").lower() or None
        if sector is not None and sector not in SECTORS:
            problems.append(f"{where}: sector {sector!r} is not one of {', '.join(sorted(SECTORS))}")
            continue
        rows.append(Row(line, code, name, tier, parent, get("name_en") or None, sector))
    if problems:
        raise OrgImportError(problems)
    if not rows:
        raise OrgImportError([f"{filename}: no rows to import"])
    return rows


async def import_org_rows(
    session: AsyncSession, rows: list[Row], *, now: datetime, filename: str = "<csv>"
) -> ImportReport:
    existing = {u.code: u for u in (await session.scalars(select(OrgUnit))).all()}
    tiers = {code: Tier(u.tier) for code, u in existing.items()}
    tiers.update({r.code: r.tier for r in rows})
    problems: list[str] = []
    for row in rows:
        if row.tier is Tier.HQ:
            continue
        parent_tier = tiers.get(row.parent_code)
        if parent_tier is None:
            problems.append(f"{filename}:{row.line}: parent_code {row.parent_code} is not in the file or the database")
        elif parent_tier is not row.tier.parent:
            problems.append(
                f"{filename}:{row.line}: a {row.tier.value}'s parent must be a {row.tier.parent}, "
                f"{row.parent_code} is a {parent_tier.value}"
            )
        elif row.code in existing and Tier(existing[row.code].tier) is not row.tier:
            problems.append(f"{filename}:{row.line}: {row.code} is already a {existing[row.code].tier}")
    if problems:
        raise OrgImportError(problems)

    report = ImportReport()
    order = sorted(rows, key=lambda r: list(Tier).index(r.tier))
    for row in order:
        unit = existing.get(row.code)
        parent = existing.get(row.parent_code) if row.parent_code else None
        fields: dict[str, Any] = {
            "name": row.name,
            "name_en": row.name_en,
            "tier": row.tier.value,
            "sector": row.sector,
            "parent_id": parent.id if parent else None,
        }
        if unit is None:
            unit = OrgUnit(code=row.code, created_at=now, updated_at=now, **fields)
            session.add(unit)
            await session.flush()
            existing[row.code] = unit
            report.created += 1
        elif any(getattr(unit, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(unit, k, v)
            unit.updated_at = now
            report.updated += 1
        else:
            report.unchanged += 1
        report.codes.append(row.code)
        if await ensure_forum(session, unit, ForumKind.MAIN, now=now):
            report.forums_created += 1
    return report


async def ensure_forum(session: AsyncSession, unit: OrgUnit, kind: ForumKind, *, now: datetime) -> bool:
    """Create the unit's forum of this kind if it is missing; True when created."""
    found = await session.scalar(select(Forum).where(Forum.org_unit_id == unit.id, Forum.kind == kind.value))
    observances = SECTOR_OBSERVANCES.get(unit.sector or "", [])
    if found is not None:
        if found.settings.get("observances") != observances:
            found.settings = {**found.settings, "observances": observances}
        return False
    session.add(
        Forum(
            code=forum_code(unit.code, kind),
            org_unit_id=unit.id,
            kind=kind.value,
            cadence=Tier(unit.tier).default_cadence.value,
            settings={"observances": observances},
            created_at=now,
        )
    )
    await session.flush()
    return True


async def create_forum(session: AsyncSession, unit_code: str, kind: ForumKind, *, now: datetime) -> Forum:
    from bot.domain.tiers import KINDS_BY_TIER

    unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
    if unit is None:
        raise NotFound(N_("There is no unit with the code {code}."), code=unit_code)
    if kind not in KINDS_BY_TIER[Tier(unit.tier)]:
        raise Refused(N_("A {tier} unit cannot hold a forum of this kind."), tier=unit.tier)
    await ensure_forum(session, unit, kind, now=now)
    forum = await session.scalar(select(Forum).where(Forum.org_unit_id == unit.id, Forum.kind == kind.value))
    assert forum is not None
    return forum

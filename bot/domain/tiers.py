"""The four tiers of the partnerships framework and the kinds of forum they hold."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    HQ = "hq"
    DISTRICT = "district"
    AUTHORITY = "authority"
    SCHOOL = "school"

    @property
    def parent(self) -> Tier | None:
        return _PARENT[self]

    @property
    def default_cadence(self) -> Cadence:
        return Cadence.WEEKLY if self is Tier.HQ else Cadence.MONTHLY


class Cadence(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class ForumKind(StrEnum):
    MAIN = "main"  # the unit's partners forum (פורום שותפים)
    CROSSCUT = "crosscut"  # a district's forum of education-department heads and supervisors
    PARTNERSHIP = "partnership"  # a tri-sector partnership (KeShet) at authority level


_PARENT: dict[Tier, Tier | None] = {
    Tier.HQ: None,
    Tier.DISTRICT: Tier.HQ,
    Tier.AUTHORITY: Tier.DISTRICT,
    Tier.SCHOOL: Tier.AUTHORITY,
}

# Which kinds of forum a tier may hold besides its main forum.
KINDS_BY_TIER: dict[Tier, tuple[ForumKind, ...]] = {
    Tier.HQ: (ForumKind.MAIN,),
    Tier.DISTRICT: (ForumKind.MAIN, ForumKind.CROSSCUT),
    Tier.AUTHORITY: (ForumKind.MAIN, ForumKind.PARTNERSHIP),
    Tier.SCHOOL: (ForumKind.MAIN,),
}

TIER_NAMES: dict[Tier, dict[str, str]] = {
    Tier.HQ: {"he": "מטה משרד החינוך", "en": "Ministry HQ", "ar": "مقرّ وزارة التربية والتعليم"},
    Tier.DISTRICT: {"he": "מחוז", "en": "District", "ar": "لواء"},
    Tier.AUTHORITY: {"he": "רשות מקומית", "en": "Local authority", "ar": "سلطة محلية"},
    Tier.SCHOOL: {"he": "בית ספר", "en": "School", "ar": "مدرسة"},
}


def forum_code(unit_code: str, kind: ForumKind) -> str:
    """A unit's main forum shares its code; other kinds add a suffix."""
    return unit_code if kind is ForumKind.MAIN else f"{unit_code}-{kind.value}"

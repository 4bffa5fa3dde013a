"""Small presentation helpers shared by the handlers."""

from __future__ import annotations

from bot.domain.roles import UnknownRole, get_role
from bot.domain.text import gendered
from bot.domain.tiers import ForumKind, Tier
from bot.i18n import N_, Translator
from bot.storage.models import Forum, OrgUnit

FORUM_TITLES = {
    ForumKind.MAIN: N_("the partners forum of {unit}"),
    ForumKind.CROSSCUT: N_("the cross-cutting forum of {unit}"),
    ForumKind.PARTNERSHIP: N_("the tri-sector partnership of {unit}"),
}


def unit_name(t: Translator, unit: OrgUnit) -> str:
    if t.locale == "en" and unit.name_en:
        return unit.name_en
    return unit.name


def forum_title(t: Translator, forum: Forum, unit: OrgUnit) -> str:
    msgid = FORUM_TITLES.get(ForumKind(forum.kind), FORUM_TITLES[ForumKind.MAIN])
    return t._(msgid, unit=unit_name(t, unit))


def role_name(t: Translator, unit: OrgUnit, forum: Forum, role: str, form: str | None = None) -> str:
    """The role's name in the reader's language, gendered when it names the reader."""
    try:
        name = get_role(Tier(unit.tier), forum.kind, role).name(t.locale)
    except UnknownRole:
        return role
    return gendered(name, form) if form else name


def bullet_list(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)

"""The role catalogue: every partner the framework names, per tier and kind of forum.

Data, not code scattered in handlers. Hebrew names follow the seed's wording; ``leads`` marks
the roles that run a forum (open polls, accept agenda items, create invites); ``required``
marks the roles a meeting date must cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.tiers import ForumKind, Tier


@dataclass(frozen=True)
class Role:
    key: str
    he: str
    en: str
    ar: str
    leads: bool = False
    required: bool = False

    def name(self, locale: str) -> str:
        return {"he": self.he, "ar": self.ar}.get(locale, self.en)


# Roles that sit in more than one kind of forum: one definition, so that their names stay the same.
_GOVERNMENT_MINISTRY_REP = Role(
    "government_ministry_rep", "נציג/ת משרד ממשלתי", "Government ministry representative", "ممثّل/ة وزارة حكومية"
)
_DISTRICT_MANAGER = Role(
    "district_manager", "מנהל/ת המחוז", "District manager", "مدير/ة اللواء", leads=True, required=True
)
_INTEGRATING_SUPERVISOR = Role(
    "integrating_supervisor", "מפקח/ת מתכלל/ת", "Integrating supervisor", "مفتّش/ة مُركِّز/ة", required=True
)

_HQ = (
    Role(
        "hq_coordinator",
        "מרכז/ת פורום השותפים במטה",
        "HQ partners forum coordinator",
        "منسّق/ة منتدى الشركاء في المقرّ",
        leads=True,
        required=True,
    ),
    Role(
        "ministry_rep",
        "נציג/ת משרד החינוך",
        "Ministry of Education representative",
        "ممثّل/ة وزارة التربية والتعليم",
        required=True,
    ),
    _GOVERNMENT_MINISTRY_REP,
    Role("security_body_rep", "נציג/ת גוף ביטחון", "Security body representative", "ممثّل/ة جهة أمنية"),
    Role(
        "local_government_rep",
        "נציג/ת השלטון המקומי",
        "Local government representative",
        "ممثّل/ة الحكم المحلي",
        required=True,
    ),
    Role(
        "national_parents_rep",
        "נציג/ת הנהגת ההורים הארצית",
        "National parents' leadership representative",
        "ممثّل/ة قيادة الأهالي القطرية",
        required=True,
    ),
    Role("other_partner", "שותף/ה נוסף/ת", "Further partner", "شريك/ة إضافي/ة"),
)

_DISTRICT = (
    _DISTRICT_MANAGER,
    Role("district_management_rep", "נציג/ת הנהלת המחוז", "District management representative", "ممثّل/ة إدارة اللواء"),
    Role(
        "education_department_rep",
        "נציג/ת מחלקת חינוך",
        "Local education department representative",
        "ممثّل/ة قسم التربية والتعليم",
        required=True,
    ),
    Role("principals_rep", "נציג/ת מנהלים", "Principals' representative", "ممثّل/ة المديرين", required=True),
    Role("kindergarten_heads_rep", "נציגת מנהלות גנים", "Kindergarten heads' representative", "ممثّلة مديرات الروضات"),
    Role("school_network_rep", "נציג/ת רשת", "School network representative", "ممثّل/ة شبكة مدارس"),
    Role("parents_rep", "נציג/ת הורים", "Parents' representative", "ممثّل/ة الأهالي", required=True),
    _GOVERNMENT_MINISTRY_REP,
)

_DISTRICT_CROSSCUT = (
    _DISTRICT_MANAGER,
    Role(
        "education_department_head",
        "מנהל/ת אגף החינוך ברשות",
        "Head of an authority's education department",
        "مدير/ة قسم التربية في السلطة",
        required=True,
    ),
    _INTEGRATING_SUPERVISOR,
)

_AUTHORITY = (
    Role("authority_head", "ראש הרשות", "Head of the authority", "رئيس/ة السلطة"),
    _INTEGRATING_SUPERVISOR,
    Role(
        "education_department_head",
        "מנהל/ת מחלקת החינוך",
        "Head of the education department",
        "مدير/ة قسم التربية والتعليم",
        leads=True,
        required=True,
    ),
    Role("youth_unit_head", "מנהל/ת יחידת הנוער", "Head of the youth unit", "مدير/ة وحدة الشبيبة"),
    Role("youth_advancement_head", "מנהל/ת קידום נוער", "Head of youth advancement", "مدير/ة تقدّم الشبيبة"),
    Role(
        "welfare_department_head",
        "מנהל/ת מחלקת הרווחה",
        "Head of the welfare department",
        "مدير/ة قسم الرفاه",
        required=True,
    ),
    Role(
        "local_parents_committee",
        "נציג/ת ועד ההורים היישובי",
        "Local parents' committee representative",
        "ممثّل/ة لجنة الأهالي المحلية",
        required=True,
    ),
    Role(
        "principal", "מנהל/ת בית ספר או גן", "School or kindergarten principal", "مدير/ة مدرسة أو روضة", required=True
    ),
)

_PARTNERSHIP = (
    Role(
        "public_sector_rep",
        "נציג/ת המגזר הציבורי",
        "Public sector representative",
        "ممثّل/ة القطاع العام",
        leads=True,
        required=True,
    ),
    Role(
        "business_sector_rep",
        "נציג/ת המגזר העסקי",
        "Business sector representative",
        "ممثّل/ة قطاع الأعمال",
        required=True,
    ),
    Role(
        "third_sector_rep", "נציג/ת המגזר השלישי", "Third sector representative", "ممثّل/ة القطاع الثالث", required=True
    ),
)

_SCHOOL = (
    Role("principal", "מנהל/ת בית הספר", "School principal", "مدير/ة المدرسة", leads=True, required=True),
    Role("counsellor", "יועץ/ת בית הספר", "School counsellor", "مستشار/ة المدرسة", required=True),
    Role(
        "teachers_rep",
        "נציג/ת המורים והמחנכים",
        "Teachers' and homeroom educators' representative",
        "ممثّل/ة المعلّمين والمربّين",
        required=True,
    ),
    Role(
        "parents_committee",
        "נציג/ת ועד ההורים",
        "Parents' committee representative",
        "ممثّل/ة لجنة الأهالي",
        required=True,
    ),
    Role("parent", "הורה", "Parent", "وليّ/ة أمر"),
)

CATALOGUE: dict[tuple[Tier, ForumKind], tuple[Role, ...]] = {
    (Tier.HQ, ForumKind.MAIN): _HQ,
    (Tier.DISTRICT, ForumKind.MAIN): _DISTRICT,
    (Tier.DISTRICT, ForumKind.CROSSCUT): _DISTRICT_CROSSCUT,
    (Tier.AUTHORITY, ForumKind.MAIN): _AUTHORITY,
    (Tier.AUTHORITY, ForumKind.PARTNERSHIP): _PARTNERSHIP,
    (Tier.SCHOOL, ForumKind.MAIN): _SCHOOL,
}


class UnknownRole(LookupError):
    pass


def roles_for(tier: Tier | str, kind: ForumKind | str = ForumKind.MAIN) -> tuple[Role, ...]:
    return CATALOGUE.get((Tier(tier), ForumKind(kind)), ())


def get_role(tier: Tier | str, kind: ForumKind | str, key: str) -> Role:
    for role in roles_for(tier, kind):
        if role.key == key:
            return role
    raise UnknownRole(key)


def lead_roles(tier: Tier | str, kind: ForumKind | str = ForumKind.MAIN) -> frozenset[str]:
    return frozenset(r.key for r in roles_for(tier, kind) if r.leads)


def required_roles(tier: Tier | str, kind: ForumKind | str = ForumKind.MAIN) -> frozenset[str]:
    return frozenset(r.key for r in roles_for(tier, kind) if r.required)

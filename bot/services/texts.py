"""Words and layouts shared by the agenda, issue and meeting messages, the notices and the exports.

Everything here takes a translator: the same agenda reads in Hebrew to one member and in Arabic
to another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from bot.domain.agenda import IssueCategory, IssueKind, IssueStatus, ItemOrigin, ItemStatus
from bot.domain.roles import UnknownRole, get_role
from bot.domain.text import gendered
from bot.domain.tiers import ForumKind, Tier
from bot.i18n import N_, Ltr, Raw, Translator
from bot.storage.models import Forum, OrgUnit, Person
from bot.storage.models_agenda import AgendaItem, MeetingDecision, RaisedIssue

KIND_LABELS: dict[IssueKind, str] = {
    IssueKind.NEED: N_("Need"),
    IssueKind.DIFFICULTY: N_("Difficulty"),
    IssueKind.BLOCKER: N_("Blocker"),
}
CATEGORY_LABELS: dict[IssueCategory, str] = {
    IssueCategory.STAFFING: N_("Staffing"),
    IssueCategory.SAFETY: N_("Safety"),
    IssueCategory.TRANSPORT: N_("Transport"),
    IssueCategory.WELFARE: N_("Welfare"),
    IssueCategory.PEDAGOGY: N_("Pedagogy"),
    IssueCategory.INFRASTRUCTURE: N_("Infrastructure"),
    IssueCategory.BUDGET: N_("Budget"),
    IssueCategory.OTHER: N_("Other"),
}
ISSUE_STATUS_LABELS: dict[IssueStatus, str] = {
    IssueStatus.OPEN: N_("Open"),
    IssueStatus.DISCUSSED: N_("Discussed"),
    IssueStatus.IN_PROGRESS: N_("In progress"),
    IssueStatus.RESOLVED: N_("Resolved"),
    IssueStatus.DECLINED: N_("Declined"),
    IssueStatus.ESCALATED: N_("Escalated"),
}
ITEM_STATUS_LABELS: dict[ItemStatus, str] = {
    ItemStatus.PROPOSED: N_("Waiting for the lead"),
    ItemStatus.SUGGESTED: N_("Suggested"),
    ItemStatus.ACCEPTED: N_("On the agenda"),
    ItemStatus.DECLINED: N_("Declined"),
    ItemStatus.DONE: N_("Decided"),
}
FROM_TIER: dict[Tier, str] = {
    Tier.HQ: N_("from the Ministry HQ"),
    Tier.DISTRICT: N_("from the district"),
    Tier.AUTHORITY: N_("from the local authority"),
    Tier.SCHOOL: N_("from the school"),
}
FORUM_TITLES = {
    ForumKind.MAIN: N_("the partners forum of {unit}"),
    ForumKind.CROSSCUT: N_("the cross-cutting forum of {unit}"),
    ForumKind.PARTNERSHIP: N_("the tri-sector partnership of {unit}"),
}


def kind_label(t: Translator, kind: str) -> str:
    return t._(KIND_LABELS[IssueKind(kind)])


def category_label(t: Translator, category: str | None) -> str:
    return t._(CATEGORY_LABELS[IssueCategory(category)]) if category else ""


def status_label(t: Translator, status: str) -> str:
    return t._(ISSUE_STATUS_LABELS[IssueStatus(status)])


def item_status_label(t: Translator, status: str) -> str:
    return t._(ITEM_STATUS_LABELS[ItemStatus(status)])


def from_tier_label(t: Translator, tier: str | None) -> str:
    """'suggested from the district': how a topic pushed down from a higher tier is marked."""
    return t._("suggested {source}", source=Raw(t._(FROM_TIER[Tier(tier)]))) if tier else t._("Suggested")


def unit_name(t: Translator, unit: OrgUnit) -> str:
    return unit.name_en if t.locale == "en" and unit.name_en else unit.name


def forum_title(t: Translator, forum: Forum, unit: OrgUnit) -> str:
    msgid = FORUM_TITLES.get(ForumKind(forum.kind), FORUM_TITLES[ForumKind.MAIN])
    return t._(msgid, unit=unit_name(t, unit))


def role_label(t: Translator, unit: OrgUnit, forum: Forum, role: str | None, form: str | None = None) -> str:
    """A role's name in the reader's language (the neutral slash form unless ``form`` is given)."""
    if not role:
        return ""
    try:
        name = get_role(Tier(unit.tier), forum.kind, role).name(t.locale)
    except UnknownRole:
        return role
    return gendered(name, form) if form else name


def who(
    t: Translator, unit: OrgUnit, forum: Forum, role: str | None, person: Person | None, *, show_name: bool = True
) -> str:
    """'Dana Levi (School principal)', or only the role when the name is withheld or forgotten."""
    if person is None or not show_name or person.forgotten_at is not None:
        return role_label(t, unit, forum, role)
    return t._("{name} ({role})", name=person.display_name, role=role_label(t, unit, forum, role, person.address_form))


QUOTES = {"he": ('"', '"'), "ar": ("«", "»")}


def quoted(t: Translator, text: str) -> str:
    """A title in the reader's quotation marks, isolated from the text around it."""
    left, right = QUOTES.get(t.locale, ("“", "”"))
    return f"{left}{t.isolate(text)}{right}"


def button_label(text: str) -> str:
    """A button is one short line: it needs no isolation marks (and clients show them as-is)."""
    return text.translate(_ISOLATES)


_ISOLATES = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069"), None)


MAX_MESSAGE = 4000  # Telegram allows 4096 characters; keep a margin
AGENDA_ISSUES_SHOWN = 15


def fit(text: str, limit: int = MAX_MESSAGE) -> str:
    """Cut a long message at a line end, so that every channel accepts it."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1] + "\n…"


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when(t: Translator, at: datetime) -> str:
    return t._("{date} at {time}", date=t.date(at), time=t.time(at))


def day(t: Translator, d: date) -> str:
    return t.date(d, "long")


def issue_line(
    t: Translator, issue: RaisedIssue, unit: OrgUnit, forum: Forum, people: Mapping[int, Person],
    *, in_group: bool = False,
) -> str:
    """'#12 · Blocker · Title — raised by · In progress (owner, until date)'.

    ``in_group``: for the forum's group chat, where people are named only if the raiser chose to
    show their name to the group (``show_name_to_group``); whoever is in charge is named by role.
    """
    shown = issue.show_name_to_group if in_group else issue.show_name
    raiser = who(t, unit, forum, issue.raiser_role, people.get(issue.raiser_person_id or 0), show_name=shown)
    status = status_label(t, issue.status)
    if issue.status == IssueStatus.IN_PROGRESS and issue.due_date is not None:
        owner = who(t, unit, forum, issue.owner_role, people.get(issue.owner_person_id or 0), show_name=not in_group)
        status = t._("{status}: {owner}, by {date}", status=status, owner=owner, date=day(t, issue.due_date))
    parts = [t.ref(issue.id), kind_label(t, issue.kind), issue.title]
    line = " · ".join(parts) + " — " + raiser + " · " + status
    if issue.carried_count:
        line += " · " + t.n_("carried over once", "carried over {n} times", issue.carried_count)
    return line


def item_line(t: Translator, position: int, item: AgendaItem, origin_tier: str | None) -> str:
    line = f"{position}. {item.title}"
    notes = []
    if item.origin == ItemOrigin.ABOVE:
        notes.append(from_tier_label(t, origin_tier))
    if item.carried_from is not None:
        notes.append(t._("carried over from the meeting on {date}", date=t.date(item.carried_from, "long")))
    if notes:
        line += " (" + "; ".join(notes) + ")"
    return line


def agenda_text(
    t: Translator,
    forum: Forum,
    unit: OrgUnit,
    meeting_at: datetime | None,
    items: Sequence[tuple[AgendaItem, str | None]],
    issues: Sequence[RaisedIssue],
    people: Mapping[int, Person],
    *,
    intake_closes: datetime | None = None,
    in_group: bool = False,
) -> str:
    """The agenda of the coming meeting: the accepted items in order, then the open issues
    (``in_group``: as the forum's group chat may see it, see ``issue_line``)."""
    title = Raw(forum_title(t, forum, unit))
    if meeting_at is None:
        head = t._("The agenda of {forum} (the next meeting has no date yet):", forum=title)
    else:
        head = t._("The agenda of {forum} for the meeting on {when}:", forum=title, when=Raw(when(t, meeting_at)))
    lines = [head]
    if items:
        lines += [item_line(t, i, item, tier) for i, (item, tier) in enumerate(items, 1)]
    else:
        lines.append(t._("No items yet."))
    if issues:
        lines += ["", t._("Raised issues to follow up:")]
        lines += [
            "• " + issue_line(t, issue, unit, forum, people, in_group=in_group)
            for issue in issues[:AGENDA_ISSUES_SHOWN]
        ]
        if len(issues) > AGENDA_ISSUES_SHOWN:
            more = len(issues) - AGENDA_ISSUES_SHOWN
            lines.append(t.n_("…and one more: /issues", "…and {n} more: /issues", more))
    if intake_closes is not None:
        lines += ["", t._("Items can be proposed until {when}.", when=Raw(when(t, intake_closes)))]
    return fit("\n".join(lines))


def decision_line(
    t: Translator,
    decision: MeetingDecision,
    subject: str,
    unit: OrgUnit,
    forum: Forum,
    people: Mapping[int, Person],
) -> str:
    """'Title: the decision — owner, by date'."""
    text = subject
    if decision.status:
        text += " — " + status_label(t, decision.status)
    if decision.text:
        text += ": " + decision.text
    if decision.owner_role or decision.owner_person_id:
        owner = who(t, unit, forum, decision.owner_role, people.get(decision.owner_person_id or 0))
        if decision.due_date is not None:
            text += " (" + t._("{owner}, by {date}", owner=owner, date=day(t, decision.due_date)) + ")"
        else:
            text += " (" + owner + ")"
    return text


def ref(number: int) -> Ltr:
    """'#12', a number as a reference: a ``{ref}`` parameter, read left to right inside Hebrew or Arabic."""
    return Ltr(f"#{number}")

"""KeShet (קש"ת) — tri-sector partnerships in a local authority: the rules, without I/O.

A partnership is a forum of kind ``partnership`` at authority level. Its members sit in one of
three roles, and **the role is the sector**: the public sector (the municipality, which holds the
lead), the business sector and the third sector. A sector belongs to a seat, never to a person.

This module holds the process (the seed's nine stages plus pilot and evaluation), the choice of
the field of action (eight criteria, weighted, scored 1–5 by each partner), the inputs ledger and
the closing self-assessment "האם השותפות שהקמנו – אכן שותפות?". Texts are msgids (English);
their Hebrew is the seed's wording, in ``locales/*/LC_MESSAGES/keshet.po``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.i18n import N_

# --------------------------------------------------------------------------------------------
# Sectors: the role is the sector
# --------------------------------------------------------------------------------------------


class Sector(StrEnum):
    PUBLIC = "public"
    BUSINESS = "business"
    THIRD = "third"


SECTORS: tuple[Sector, ...] = tuple(Sector)

SECTOR_OF_ROLE: dict[str, Sector] = {
    "public_sector_rep": Sector.PUBLIC,
    "business_sector_rep": Sector.BUSINESS,
    "third_sector_rep": Sector.THIRD,
}

SECTOR_NAMES: dict[Sector, str] = {
    Sector.PUBLIC: N_("the public sector"),
    Sector.BUSINESS: N_("the business sector"),
    Sector.THIRD: N_("the third sector"),
}

LEAD_SECTOR = Sector.PUBLIC
PUBLIC_SECTOR_ROLE = "public_sector_rep"  # the seat an authority's lead takes when opening a partnership


def sector_of(role: str) -> Sector | None:
    """The sector a partnership seat represents (None for a role outside a partnership)."""
    return SECTOR_OF_ROLE.get(role)


def seat_order(role: str) -> int:
    """Public first, then business, then third: which seat speaks for a person holding two."""
    sector = sector_of(role)
    return SECTORS.index(sector) if sector is not None else len(SECTORS)


# --------------------------------------------------------------------------------------------
# The process (התהליך)
# --------------------------------------------------------------------------------------------


class Stage(StrEnum):
    HARNESS = "harness"
    MECHANISM = "mechanism"
    FIELD = "field"
    INVITE = "invite"
    MAPPING = "mapping"
    GOALS = "goals"
    INPUTS = "inputs"
    WORKPLAN = "workplan"
    LAUNCH = "launch"
    PILOT = "pilot"
    EVALUATION = "evaluation"


STAGES: tuple[Stage, ...] = tuple(Stage)

STAGE_NAMES: dict[Stage, str] = {
    Stage.HARNESS: N_("Harnessing the partners"),
    Stage.MECHANISM: N_("Deciding on the working mechanism"),
    Stage.FIELD: N_("Choosing the field of action"),
    Stage.INVITE: N_("Inviting further relevant partners"),
    Stage.MAPPING: N_("Mapping the field of action"),
    Stage.GOALS: N_("Defining the partnership's goals and operational targets"),
    Stage.INPUTS: N_("Defining each side's inputs to the partnership"),
    Stage.WORKPLAN: N_("Building a work plan"),
    Stage.LAUNCH: N_("Setting out"),
    Stage.PILOT: N_("Pilot"),
    Stage.EVALUATION: N_("Systematic evaluation of the pilot"),
}


class Precision(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class When:
    """A date the lead gave: a day, or only a month (the seed's chronology is by month)."""

    day: date
    precision: Precision = Precision.DAY

    def key(self, month_only: bool) -> tuple[int, ...]:
        return (self.day.year, self.day.month) if month_only else (self.day.year, self.day.month, self.day.day)

    def not_before(self, other: When) -> bool:
        coarse = Precision.MONTH in (self.precision, other.precision)
        return self.key(coarse) >= other.key(coarse)


@dataclass(frozen=True)
class StageEntry:
    stage: Stage
    when: When
    note: str
    seq: int = 0  # the order it was recorded in, to break ties


EARLIEST_YEAR = 1990
NOTE_MAX = 500

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("ינואר", "january", "jan", "كانون الثاني", "يناير"),
        ("פברואר", "february", "feb", "شباط", "فبراير"),
        ("מרץ", "march", "mar", "آذار", "مارس", "מרס"),
        ("אפריל", "april", "apr", "نيسان", "أبريل"),
        ("מאי", "may", "أيار", "مايو"),
        ("יוני", "june", "jun", "حزيران", "يونيو"),
        ("יולי", "july", "jul", "تموز", "يوليو"),
        ("אוגוסט", "august", "aug", "آب", "أغسطس"),
        ("ספטמבר", "september", "sep", "sept", "أيلول", "سبتمبر"),
        ("אוקטובר", "october", "oct", "تشرين الأول", "أكتوبر"),
        ("נובמבר", "november", "nov", "تشرين الثاني", "نوفمبر"),
        ("דצמבר", "december", "dec", "كانون الأول", "ديسمبر"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

_NUMERIC = re.compile(r"^(?:(\d{1,2})[./-])?(\d{1,2})[./-](\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")
_NAMED = re.compile(r"^(?:(\d{1,2})\s+)?(\D+?)\s*['׳’]?\s*(\d{2}|\d{4})$")


def _year(text: str) -> int:
    value = int(text)
    return 2000 + value if len(text) == 2 else value


def parse_when(text: str, today: date) -> When | None:
    """Read "15.05.2007", "05/2007", "5.07", "2007-05", "מאי 2007", "מאי '07"; None if unreadable.

    A date after ``today`` or before 1990 is not accepted (None): progress is recorded when it
    has happened, and the seed's chronology starts in May 2007.
    """
    text = text.strip().casefold()
    day: int | None
    match = _ISO.match(text)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3]) if match[3] else None
    elif match := _NUMERIC.match(text):
        day, month, year = (int(match[1]) if match[1] else None), int(match[2]), _year(match[3])
    elif match := _NAMED.match(text):
        name = match[2].strip(" -'׳’")
        if name not in _MONTHS:
            return None
        day, month, year = (int(match[1]) if match[1] else None), _MONTHS[name], _year(match[3])
    else:
        return None
    try:
        when = When(date(year, month, day or 1), Precision.DAY if day else Precision.MONTH)
    except ValueError:
        return None
    if year < EARLIEST_YEAR or not When(today).not_before(when):
        return None
    return when


def current_stage(entries: Iterable[StageEntry]) -> Stage | None:
    """The furthest stage reached (stages are never undone)."""
    reached = [STAGES.index(e.stage) for e in entries]
    return STAGES[max(reached)] if reached else None


def reached_on(entries: Iterable[StageEntry], stage: Stage) -> When | None:
    dates = [e.when for e in entries if e.stage is stage]
    return min(dates, key=lambda w: w.key(False)) if dates else None


def timeline(entries: Iterable[StageEntry]) -> list[StageEntry]:
    """Entries in process order: by stage, then by date within a stage, then as recorded. (The
    rules below keep dates running forward with the stages, so this is also the order they happened.)"""
    return sorted(entries, key=lambda e: (STAGES.index(e.stage), e.when.key(False), e.seq))


def latest(entries: Iterable[StageEntry]) -> When | None:
    """The latest date recorded for any stage."""
    dates = [e.when for e in entries]
    return max(dates, key=lambda w: w.key(False)) if dates else None


class StageProblem(StrEnum):
    BACKWARDS = "backwards"  # a stage before the current one
    BEFORE_CURRENT = "before_current"  # dated before the current stage was reached
    BEFORE_PREVIOUS = "before_previous"  # a later stage dated before progress already recorded


def stage_problem(entries: Sequence[StageEntry], stage: Stage, when: When) -> StageProblem | None:
    """Why an entry cannot be recorded, or None.

    The lead may add a note to the current stage or move to any later one (a partnership can
    skip a stage, as Tirat Carmel did); it cannot go back, and time runs forward with the stages.
    """
    current = current_stage(entries)
    if current is None:
        return None
    if STAGES.index(stage) < STAGES.index(current):
        return StageProblem.BACKWARDS
    since = reached_on(entries, current)
    if since is not None and not when.not_before(since):
        return StageProblem.BEFORE_CURRENT
    last = latest(entries)
    if stage is not current and last is not None and not when.not_before(last):
        return StageProblem.BEFORE_PREVIOUS  # e.g. a note on the current stage in June, the next stage in May
    return None


def stages_open_to(entries: Sequence[StageEntry]) -> tuple[Stage, ...]:
    """The stages an entry may be recorded for: the current one and every later one."""
    current = current_stage(entries)
    return STAGES if current is None else STAGES[STAGES.index(current) :]


# --------------------------------------------------------------------------------------------
# Choosing the field of action (בחירת תחום הפעולה)
# --------------------------------------------------------------------------------------------


class Criterion(StrEnum):
    STRENGTHENS = "strengthens"
    NEED = "need"
    ANSWER = "answer"
    POOLING = "pooling"
    RELEVANCE = "relevance"
    STRENGTHS = "strengths"
    BUDGET = "budget"
    UNIQUE = "unique"


CRITERIA: tuple[Criterion, ...] = tuple(Criterion)

CRITERION_NAMES: dict[Criterion, str] = {
    Criterion.STRENGTHENS: N_("Strengthening the town and the authority"),
    Criterion.NEED: N_("The nature of the social need and municipal priorities"),
    Criterion.ANSWER: N_("A meaningful answer to the need is possible"),
    Criterion.POOLING: N_("A venture that needs and enables pooling all the partners' strengths and resources"),
    Criterion.RELEVANCE: N_("The field's relevance to each of the partners"),
    Criterion.STRENGTHS: N_(
        "A venture that brings out the partners' strengths at their best (management, volunteering, money, "
        "money's worth)"
    ),
    Criterion.BUDGET: N_("The budget required (a higher score: within the partners' reach)"),
    Criterion.UNIQUE: N_("A unique and focused venture"),
}

SUGGESTED_FIELDS: dict[str, str] = {
    "environment": N_("Environment"),
    "employment": N_("Employment"),
    "welfare": N_("Welfare"),
    "integration": N_("Integrating different populations in community life"),
    "education": N_("Education"),
    "culture": N_("Culture and leisure"),
    "volunteering": N_("Volunteering"),
    "emergency": N_("Preparing the town for emergencies"),
}

MIN_SCORE, MAX_SCORE = 1, 5
DEFAULT_WEIGHT, MAX_WEIGHT = 1, 5
FIELD_TITLE_MAX = 120

# A field "stands out" as one-sided when the sectors that scored it disagree:
SPLIT_GAP = 1.5  # the highest and lowest sector means are at least this far apart, or
WANTS = 4.0  # exactly one sector's mean is at least this high while every other is SPLIT_GAP below it.


def valid_weights(weights: Mapping[str, int]) -> dict[Criterion, int]:
    """Every criterion with its weight (default 1); unknown keys and bad values are dropped."""
    result = dict.fromkeys(CRITERIA, DEFAULT_WEIGHT)
    for key, value in weights.items():
        if key in result and isinstance(value, int) and 0 <= value <= MAX_WEIGHT:
            result[Criterion(key)] = value
    return result


@dataclass(frozen=True)
class FieldScore:
    candidate: int
    partner: int  # a seat (membership id), not a person
    sector: Sector
    criterion: Criterion
    value: int


class SectorStatus(StrEnum):
    ABSENT = "absent"  # the partnership has no seat of this sector
    NOT_SCORED = "not_scored"  # it has, but none of them scored this field
    SCORED = "scored"


@dataclass(frozen=True)
class SectorSpread:
    sector: Sector
    status: SectorStatus
    mean: float | None = None
    partners: int = 0


@dataclass(frozen=True)
class RankedField:
    candidate: int
    mean: float | None  # None: nobody scored it (or every scored criterion weighs 0)
    partners: int  # how many partners scored it
    spread: tuple[SectorSpread, ...]
    gap: float | None  # highest minus lowest sector mean, when two sectors or more scored
    wanted_only_by: Sector | None
    split: bool

    @property
    def stands_out(self) -> bool:
        return self.split


def partner_mean(values: Mapping[Criterion, int], weights: Mapping[Criterion, int]) -> float | None:
    """One partner's weighted mean over the criteria they scored (partial scores are fine)."""
    total = sum(weights[c] for c in values)
    if total == 0:
        return None
    return sum(weights[c] * v for c, v in values.items()) / total


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rank_fields(
    candidates: Sequence[int],
    scores: Iterable[FieldScore],
    weights: Mapping[Criterion, int],
    present: Collection[Sector],
) -> list[RankedField]:
    """Rank candidate fields by coverage (how many partners scored each), then by the mean, over
    the partners who scored it, of their weighted means; then in the order they were listed.

    ``present`` is the set of sectors with a seat in the partnership; a sector without one is
    reported as absent in the spread and never counts in the gap.
    """
    per_partner: dict[tuple[int, int], dict[Criterion, int]] = {}
    sector_of_partner: dict[int, Sector] = {}
    for score in scores:
        if score.candidate not in candidates or not MIN_SCORE <= score.value <= MAX_SCORE:
            continue
        per_partner.setdefault((score.candidate, score.partner), {})[score.criterion] = score.value
        sector_of_partner[score.partner] = score.sector
    ranked: list[RankedField] = []
    for candidate in candidates:
        means: dict[int, float] = {}
        for (cand, partner), values in per_partner.items():
            if cand == candidate:
                mean = partner_mean(values, weights)
                if mean is not None:
                    means[partner] = mean
        spread: list[SectorSpread] = []
        for sector in SECTORS:
            mine = [m for p, m in means.items() if sector_of_partner[p] is sector]
            if mine:
                spread.append(SectorSpread(sector, SectorStatus.SCORED, _mean(mine), len(mine)))
            elif sector in present:
                spread.append(SectorSpread(sector, SectorStatus.NOT_SCORED))
            else:
                spread.append(SectorSpread(sector, SectorStatus.ABSENT))
        scored = {s.sector: s.mean for s in spread if s.mean is not None}
        gap = max(scored.values()) - min(scored.values()) if len(scored) >= 2 else None
        wanted_only_by = None
        if gap is not None:
            top = max(scored, key=lambda s: scored[s])
            others = [m for s, m in scored.items() if s is not top]
            if scored[top] >= WANTS and all(m <= scored[top] - SPLIT_GAP for m in others):
                wanted_only_by = top
        ranked.append(
            RankedField(
                candidate=candidate,
                mean=_mean(list(means.values())),
                partners=len(means),
                spread=tuple(spread),
                gap=gap,
                wanted_only_by=wanted_only_by,
                split=gap is not None and gap >= SPLIT_GAP,
            )
        )
    order = {c: i for i, c in enumerate(candidates)}
    # Coverage first: a field one partner loved must not outrank one that every partner weighed.
    ranked.sort(key=lambda r: (r.mean is None, -r.partners, -(r.mean or 0.0), order[r.candidate]))
    return ranked


# --------------------------------------------------------------------------------------------
# The inputs ledger (תשומות): what each side brings
# --------------------------------------------------------------------------------------------


class InputKind(StrEnum):
    MANAGEMENT = "management"
    VOLUNTEERING = "volunteering"
    MONEY = "money"
    IN_KIND = "in_kind"


INPUT_KINDS: tuple[InputKind, ...] = tuple(InputKind)

INPUT_NAMES: dict[InputKind, str] = {
    InputKind.MANAGEMENT: N_("Management"),
    InputKind.VOLUNTEERING: N_("Volunteering"),
    InputKind.MONEY: N_("Money"),
    InputKind.IN_KIND: N_("Money's worth"),
}


class Unit(StrEnum):
    HOURS = "hours"  # hours a month
    SHEKELS = "ils"


INPUT_UNITS: dict[InputKind, Unit] = {
    InputKind.MANAGEMENT: Unit.HOURS,
    InputKind.VOLUNTEERING: Unit.HOURS,
    InputKind.MONEY: Unit.SHEKELS,
    InputKind.IN_KIND: Unit.SHEKELS,
}

INPUT_TEXT_MAX = 300
AMOUNT_MAX = 1_000_000_000


def parse_amount(text: str) -> int | None:
    """A whole, non-negative amount: "50,000", "50 000", "₪50000", "120"; None if unreadable."""
    cleaned = re.sub(r"[\s,'’₪]|ש\"ח|ש״ח|nis|ils", "", text.strip().casefold())
    if not cleaned.isdigit():
        return None
    value = int(cleaned)
    return value if value <= AMOUNT_MAX else None


@dataclass(frozen=True)
class PartnerInput:
    sector: Sector
    kind: InputKind
    amount: int | None


@dataclass(frozen=True)
class SectorInputs:
    sector: Sector
    status: SectorStatus  # ABSENT, NOT_SCORED (no inputs yet), SCORED (has inputs)
    counts: dict[InputKind, int]
    totals: dict[Unit, int]


def summarise_inputs(entries: Iterable[PartnerInput], present: Collection[Sector]) -> tuple[SectorInputs, ...]:
    """Per sector: how many inputs of each kind, and the hours and shekels they add up to."""
    listed = list(entries)
    result: list[SectorInputs] = []
    for sector in SECTORS:
        mine = [e for e in listed if e.sector is sector]
        counts = {k: sum(1 for e in mine if e.kind is k) for k in INPUT_KINDS}
        totals = {u: sum(e.amount or 0 for e in mine if INPUT_UNITS[e.kind] is u) for u in Unit}
        status = SectorStatus.SCORED if mine else SectorStatus.NOT_SCORED if sector in present else SectorStatus.ABSENT
        result.append(SectorInputs(sector, status, counts, totals))
    return tuple(result)


# --------------------------------------------------------------------------------------------
# The self-assessment: "האם השותפות שהקמנו – אכן שותפות?"
# --------------------------------------------------------------------------------------------

ASSESSMENT_TITLE = N_("Is the partnership we built really a partnership?")

QUESTIONS: dict[int, str] = {
    1: N_("Does the partnership have a fixed, continuing organisational framework?"),
    2: N_("Do the partners recognise that they are part of a partnership, and declare it?"),
    3: N_("Are at least two sectors present?"),
    4: N_("Does the partnership pool resources from all the sectors involved?"),
    5: N_("Does its conduct show the involvement and influence of all the partners?"),
    6: N_("Does the partnership act for a public, community goal, beyond advancing the goals of the parties involved?"),
}

# Question 3 is a fact about the seats, not an opinion: it is computed, never asked.
COMPUTED_QUESTION = 3
ASKED_QUESTIONS: tuple[int, ...] = tuple(q for q in QUESTIONS if q != COMPUTED_QUESTION)
MIN_SECTORS = 2
DEFAULT_EVERY_MONTHS = 6
EVERY_MONTHS_CHOICES = (3, 6, 12)


@dataclass(frozen=True)
class AssessmentAnswer:
    partner: int  # a seat
    question: int
    yes: bool


@dataclass(frozen=True)
class SectorTally:
    sector: Sector
    status: SectorStatus  # ABSENT / NOT_SCORED (no answers) / SCORED
    yes: int = 0
    answered: int = 0


@dataclass(frozen=True)
class QuestionResult:
    question: int
    computed: bool
    passes: bool
    yes: int  # for the computed question: 1 when it passes
    answered: int
    partners: int
    by_sector: tuple[SectorTally, ...]

    @property
    def share(self) -> float | None:
        """The share of partners who said yes (1.0 / 0.0 for the computed question)."""
        if self.computed:
            return 1.0 if self.passes else 0.0
        return self.yes / self.partners if self.partners else None


@dataclass(frozen=True)
class AssessmentResult:
    partners: int
    responded: int
    sectors_present: tuple[Sector, ...]
    questions: tuple[QuestionResult, ...]

    @property
    def failing(self) -> tuple[int, ...]:
        return tuple(q.question for q in self.questions if not q.passes)

    @property
    def passes(self) -> bool:
        return not self.failing


def assess(
    answers: Iterable[AssessmentAnswer], partners: Mapping[int, Sector], sectors_present: Collection[Sector]
) -> AssessmentResult:
    """Results per question and per sector, and which questions fail.

    An asked question fails when fewer than half of the round's partners answer yes (a partner
    who did not answer has not said yes). Question 3 fails when fewer than two sectors hold a
    seat, whatever anyone answers.
    """
    latest: dict[tuple[int, int], bool] = {}
    for answer in answers:
        if answer.partner in partners and answer.question in ASKED_QUESTIONS:
            latest[(answer.partner, answer.question)] = answer.yes
    present = tuple(s for s in SECTORS if s in sectors_present)
    results: list[QuestionResult] = []
    for question in QUESTIONS:
        if question == COMPUTED_QUESTION:
            ok = len(present) >= MIN_SECTORS
            tallies = tuple(
                SectorTally(s, SectorStatus.SCORED if s in present else SectorStatus.ABSENT) for s in SECTORS
            )
            results.append(QuestionResult(question, True, ok, int(ok), 0, len(partners), tallies))
            continue
        given = {p: yes for (p, q), yes in latest.items() if q == question}
        yes = sum(given.values())
        by_sector = []
        for sector in SECTORS:
            seats = [p for p, s in partners.items() if s is sector]
            mine = [given[p] for p in seats if p in given]
            if mine:
                by_sector.append(SectorTally(sector, SectorStatus.SCORED, sum(mine), len(mine)))
            else:
                status = SectorStatus.NOT_SCORED if seats or sector in present else SectorStatus.ABSENT
                by_sector.append(SectorTally(sector, status))
        results.append(
            QuestionResult(
                question=question,
                computed=False,
                passes=2 * yes >= len(partners) and len(partners) > 0,
                yes=yes,
                answered=len(given),
                partners=len(partners),
                by_sector=tuple(by_sector),
            )
        )
    responded = len({p for p, _ in latest})
    return AssessmentResult(len(partners), responded, present, tuple(results))


class Trend(StrEnum):
    UP = "up"
    DOWN = "down"
    SAME = "same"
    NEW = "new"  # only one round so far


TREND_EPSILON = 1e-9


def trend(rounds: Sequence[AssessmentResult]) -> dict[int, tuple[tuple[float | None, ...], Trend]]:
    """Per question: the share of yes in each round (oldest first) and the direction of the last step."""
    result: dict[int, tuple[tuple[float | None, ...], Trend]] = {}
    for question in QUESTIONS:
        shares = tuple(r.questions[question - 1].share for r in rounds)
        direction = Trend.NEW
        known = [s for s in shares if s is not None]
        if len(known) >= 2:
            step = known[-1] - known[-2]
            direction = Trend.UP if step > TREND_EPSILON else Trend.DOWN if step < -TREND_EPSILON else Trend.SAME
        result[question] = (shares, direction)
    return result


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later (the last day of a shorter month)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(moment)  # pragma: no cover


def next_due(due: datetime, now: datetime, every_months: int) -> datetime:
    """The first due time after ``now`` on the schedule through ``due`` (a missed round is not repeated)."""
    step = 1
    nxt = add_months(due, every_months)
    while nxt <= now:
        step += 1
        nxt = add_months(due, every_months * step)
    return nxt

"""The KeShet rules and the survey engine, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain import keshet as k
from bot.domain import surveys as d
from bot.domain.permissions import Action, Standing, allowed
from bot.domain.roles import lead_roles, roles_for

TODAY = date(2026, 11, 22)
P, B, T = k.Sector.PUBLIC, k.Sector.BUSINESS, k.Sector.THIRD


def test_the_role_is_the_sector_and_the_public_sector_leads() -> None:
    keys = [r.key for r in roles_for("authority", "partnership")]
    assert [k.sector_of(key) for key in keys] == [P, B, T]
    assert lead_roles("authority", "partnership") == {"public_sector_rep"}
    assert k.sector_of("principal") is None
    assert k.LEAD_SECTOR is P


def test_permissions_of_partners_and_leads() -> None:
    assert allowed(Action.MANAGE_PARTNERSHIP, {Standing.LEAD})
    assert not allowed(Action.MANAGE_PARTNERSHIP, {Standing.MEMBER})
    assert allowed(Action.CONTRIBUTE_PARTNERSHIP, {Standing.MEMBER})
    assert not allowed(Action.CONTRIBUTE_PARTNERSHIP, {Standing.ADMIN})  # an admin holds no seat, no sector
    assert allowed(Action.ANSWER_SURVEY, {Standing.MEMBER}) and not allowed(Action.MANAGE_SURVEYS, {Standing.MEMBER})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.05.2007", k.When(date(2007, 5, 15))),
        ("15/5/07", k.When(date(2007, 5, 15))),
        ("2007-05-15", k.When(date(2007, 5, 15))),
        ("05/2007", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("5.07", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("2007-05", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("מאי 2007", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("מאי '07", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("ספטמבר 07", k.When(date(2007, 9, 1), k.Precision.MONTH)),
        ("May 2007", k.When(date(2007, 5, 1), k.Precision.MONTH)),
        ("3 March 2009", k.When(date(2009, 3, 3))),
        ("أيار 2008", k.When(date(2008, 5, 1), k.Precision.MONTH)),
        ("22.11.2026", k.When(date(2026, 11, 22))),
        ("11/2026", k.When(date(2026, 11, 1), k.Precision.MONTH)),
    ],
)
def test_dates_a_lead_may_type(text: str, expected: k.When) -> None:
    assert k.parse_when(text, TODAY) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "31.02.2008", "13/2008", "23.11.2026", "12/2026", "1.1.1985", "פלוני 2008"]
)
def test_dates_that_are_refused(text: str) -> None:
    assert k.parse_when(text, TODAY) is None


# Tirat Carmel's chronology (the seed), as a lead would record it: each stage reached, with what
# happened in it month by month.
SEED_STAGES = {
    k.Stage.HARNESS: [
        ("05/2007", "מוקם פורום חברות"),
        ("07/2007", "מפגש עם מנהלי מחלקות"),
        ("09/2007", "למידה על הקואליציה בנצרת עילית"),
        ("11/2007", 'בדיקת אפשרות להצטרפות לתכנית קש"ת'),
    ],
    k.Stage.MECHANISM: [("01/2008", 'אישור כלל השותפים על הצטרפות לתכנית קש"ת ועיצוב השותפות.')],
    k.Stage.FIELD: [("02/2008", 'בחירת התחום יחד עם ראש העיר. מינוי מזכיר העירייה כיו"ר השותפות.')],
    k.Stage.MAPPING: [("04/2008", "מיפוי מצב קיים"), ("06/2008", "הצגת המיפוי וקבלת אור ירוק להתקדמות מראש העיר")],
    k.Stage.GOALS: [("07/2008", "הכרות עם מודלים ותכניות רלוונטיות"), ("10/2008", '"הפוגה" בשל הבחירות')],
    k.Stage.WORKPLAN: [("01/2009", "מפגש קבלת החלטות")],
    k.Stage.PILOT: [("03/2009", "תחילת פיילוט")],
    k.Stage.EVALUATION: [("07/2009", "הערכה שיטתית של הפיילוט וקבלת החלטות להמשך.")],
}
# The same, in the order it is recorded: (month, stage, note).
CHRONOLOGY = [(month, stage, note) for stage, events in SEED_STAGES.items() for month, note in events]


def test_the_seed_chronology_makes_the_right_timeline() -> None:
    entries: list[k.StageEntry] = []
    for seq, (month, stage, note) in enumerate(CHRONOLOGY):
        when = k.parse_when(month, TODAY)
        assert when is not None
        assert k.stage_problem(entries, stage, when) is None, month
        entries.append(k.StageEntry(stage, when, note, seq))
    assert k.current_stage(entries) is k.Stage.EVALUATION
    assert [e.note for e in k.timeline(reversed(entries))] == [n for _, _, n in CHRONOLOGY]
    assert k.reached_on(entries, k.Stage.MAPPING) == k.When(date(2008, 4, 1), k.Precision.MONTH)
    assert k.reached_on(entries, k.Stage.INVITE) is None  # skipped, as in Tirat Carmel
    assert k.stages_open_to(entries) == (k.Stage.EVALUATION,)


def test_the_process_runs_forward() -> None:
    may = k.When(date(2007, 5, 1), k.Precision.MONTH)
    entries = [k.StageEntry(k.Stage.FIELD, k.When(date(2008, 2, 10)), "", 1)]
    assert k.stage_problem(entries, k.Stage.HARNESS, k.When(date(2008, 3, 1))) is k.StageProblem.BACKWARDS
    assert k.stage_problem(entries, k.Stage.MAPPING, may) is k.StageProblem.BEFORE_CURRENT
    # a month-only date in the same month as a dated entry is not "before" it
    assert k.stage_problem(entries, k.Stage.FIELD, k.When(date(2008, 2, 1), k.Precision.MONTH)) is None
    assert k.stages_open_to([])[0] is k.Stage.HARNESS and len(k.STAGES) == 11


def s(candidate: int, partner: int, sector: k.Sector, values: dict[k.Criterion, int]) -> list[k.FieldScore]:
    return [k.FieldScore(candidate, partner, sector, c, v) for c, v in values.items()]


ALL = dict.fromkeys(k.CRITERIA, 1)


def test_ranking_by_the_mean_of_the_partners_weighted_means() -> None:
    weights = k.valid_weights({"budget": 0, "need": 3})
    scores = (
        s(1, 10, P, {k.Criterion.NEED: 5, k.Criterion.BUDGET: 1})  # budget weighs nothing: 5
        + s(1, 20, B, {k.Criterion.NEED: 3, k.Criterion.UNIQUE: 5})  # (3*3 + 5) / 4 = 3.5
        + s(2, 10, P, {k.Criterion.NEED: 4})
        + s(2, 20, B, {k.Criterion.NEED: 4})
        + s(2, 30, T, {k.Criterion.NEED: 4})
    )
    ranked = k.rank_fields([1, 2, 3], scores, weights, {P, B, T})
    assert [r.candidate for r in ranked] == [2, 1, 3]  # coverage first: all three partners scored field 2
    assert ranked[1].mean == pytest.approx(4.25) and ranked[1].partners == 2
    assert ranked[0].mean == 4 and ranked[0].partners == 3
    assert ranked[2].mean is None and ranked[2].partners == 0
    third = ranked[1].spread[2]
    assert third.sector is T and third.status is k.SectorStatus.NOT_SCORED


def test_a_partner_who_scores_only_some_candidates() -> None:
    scores = (
        s(1, 10, P, {k.Criterion.NEED: 5}) + s(1, 20, B, {k.Criterion.NEED: 3}) + s(2, 10, P, {k.Criterion.NEED: 4})
    )
    ranked = {r.candidate: r for r in k.rank_fields([1, 2], scores, k.valid_weights({}), {P, B})}
    assert ranked[1].mean == 4 and ranked[1].partners == 2
    assert ranked[2].mean == 4 and ranked[2].partners == 1  # only the partner who scored it counts
    assert [r.candidate for r in k.rank_fields([2, 1], scores, k.valid_weights({}), {P, B})] == [
        1,
        2,
    ]  # tie: more partners


def test_a_field_only_one_sector_wants_stands_out() -> None:
    scores = (
        s(1, 10, P, ALL | {k.Criterion.NEED: 5})  # (7 + 5) / 8 = 1.5
        + s(1, 20, B, dict.fromkeys(k.CRITERIA, 5))
        + s(1, 30, T, dict.fromkeys(k.CRITERIA, 2))
        + s(1, 31, T, dict.fromkeys(k.CRITERIA, 1))
    )
    (field,) = k.rank_fields([1], scores, k.valid_weights({}), {P, B, T})
    assert field.wanted_only_by is B and field.split and field.stands_out
    assert field.gap == pytest.approx(5 - 1.5)
    agreed = s(2, 10, P, {k.Criterion.NEED: 5}) + s(2, 20, B, {k.Criterion.NEED: 4})
    (calm,) = k.rank_fields([2], agreed, k.valid_weights({}), {P, B, T})
    assert calm.gap is not None and calm.gap < k.SPLIT_GAP and not calm.stands_out and calm.wanted_only_by is None


def test_two_sectors_only_the_missing_one_is_absent_not_a_gap() -> None:
    scores = s(1, 10, P, {k.Criterion.NEED: 5}) + s(1, 20, B, {k.Criterion.NEED: 2})
    (field,) = k.rank_fields([1], scores, k.valid_weights({}), {P, B})
    assert [x.status for x in field.spread] == [k.SectorStatus.SCORED, k.SectorStatus.SCORED, k.SectorStatus.ABSENT]
    assert field.gap == 3 and field.wanted_only_by is P
    lonely = k.rank_fields([1], s(1, 10, P, {k.Criterion.NEED: 5}), k.valid_weights({}), {P, B})[0]
    assert lonely.gap is None and not lonely.stands_out  # one sector alone: nothing to compare yet
    assert lonely.spread[1].status is k.SectorStatus.NOT_SCORED


def test_weights_are_bounded() -> None:
    assert k.valid_weights({"need": 9, "budget": -1, "nonsense": 3, "unique": 0}) == ALL | {k.Criterion.UNIQUE: 0}


def test_inputs_ledger_summary_by_sector() -> None:
    entries = [
        k.PartnerInput(P, k.InputKind.MANAGEMENT, 20),
        k.PartnerInput(P, k.InputKind.MONEY, 50_000),
        k.PartnerInput(B, k.InputKind.IN_KIND, 12_000),
        k.PartnerInput(B, k.InputKind.VOLUNTEERING, None),
    ]
    public, business, third = k.summarise_inputs(entries, {P, B})
    assert public.counts[k.InputKind.MONEY] == 1 and public.totals == {k.Unit.HOURS: 20, k.Unit.SHEKELS: 50_000}
    assert business.totals == {k.Unit.HOURS: 0, k.Unit.SHEKELS: 12_000}
    assert third.status is k.SectorStatus.ABSENT
    assert k.parse_amount("50,000 ₪") == 50_000 and k.parse_amount('12 000 ש"ח') == 12_000
    assert k.parse_amount("a lot") is None and k.parse_amount("-5") is None


def answers(partner: int, yes_to: set[int]) -> list[k.AssessmentAnswer]:
    return [k.AssessmentAnswer(partner, q, q in yes_to) for q in k.ASKED_QUESTIONS]


def test_self_assessment_verdict_per_question_and_sector() -> None:
    partners = {1: P, 2: B, 3: T}
    result = k.assess(
        answers(1, {1, 2, 4, 5, 6}) + answers(2, {1, 2, 6}) + answers(3, {1, 6}), partners, set(partners.values())
    )
    assert result.responded == 3 and result.partners == 3
    assert result.failing == (4, 5)  # 1 of 3 said yes: fewer than half
    q2 = result.questions[1]
    assert q2.passes and q2.yes == 2  # 2 of 3: at least half
    assert [(t.sector, t.yes, t.answered) for t in q2.by_sector] == [(P, 1, 1), (B, 1, 1), (T, 0, 1)]
    assert result.questions[2].computed and result.questions[2].passes
    assert not result.passes


def test_question_three_comes_from_the_seats_not_from_answers() -> None:
    one_sector = k.assess(answers(1, set(k.QUESTIONS)) + answers(2, set(k.QUESTIONS)), {1: P, 2: P}, {P})
    assert one_sector.failing == (3,)
    two_sectors = k.assess(answers(1, set(k.QUESTIONS)) + answers(2, set(k.QUESTIONS)), {1: P, 2: B}, {P, B})
    assert two_sectors.passes  # two sectors are enough
    assert two_sectors.questions[0].by_sector[2].status is k.SectorStatus.ABSENT


def test_a_partner_who_did_not_answer_has_not_said_yes() -> None:
    result = k.assess(answers(1, set(k.QUESTIONS)), {1: P, 2: B, 3: T}, {P, B, T})
    assert result.failing == (1, 2, 4, 5, 6) and result.responded == 1
    half = k.assess(answers(1, set(k.QUESTIONS)) + answers(2, set()), {1: P, 2: B}, {P, B})
    assert half.passes  # exactly half is not "fewer than half"


def test_trend_over_two_rounds() -> None:
    partners = {1: P, 2: B}
    first = k.assess(answers(1, {1}) + answers(2, {2}), partners, {P, B})
    second = k.assess(answers(1, {1, 2, 4}) + answers(2, {1, 2}), partners, {P, B})
    trend = k.trend([first, second])
    assert trend[1] == ((0.5, 1.0), k.Trend.UP)
    assert trend[2] == ((0.5, 1.0), k.Trend.UP)
    assert trend[5] == ((0.0, 0.0), k.Trend.SAME)
    assert trend[3] == ((1.0, 1.0), k.Trend.SAME)
    assert k.trend([first])[1][1] is k.Trend.NEW


def test_the_schedule_every_six_months() -> None:
    start = datetime(2026, 8, 31, 7, tzinfo=UTC)
    assert k.add_months(start, 6) == datetime(2027, 2, 28, 7, tzinfo=UTC)
    assert k.next_due(start, start, 6) == datetime(2027, 2, 28, 7, tzinfo=UTC)
    # after a long outage one round is held, not every missed one
    assert k.next_due(start, datetime(2028, 1, 1, tzinfo=UTC), 6) == datetime(2028, 2, 29, 7, tzinfo=UTC)


# -- surveys -------------------------------------------------------------------------------------


def test_templates_are_well_formed() -> None:
    mapping = d.TEMPLATES[d.MAPPING]
    kinds = {q.kind for q in mapping.questions}
    assert kinds == set(d.QuestionKind)  # the mapping survey uses every kind of question
    assert len(mapping.questions) == 8
    for template in d.TEMPLATES.values():
        for q in template.questions:
            assert bool(q.options) == (q.kind in (d.QuestionKind.SINGLE, d.QuestionKind.MULTI))
            assert len(q.options) <= d.MAX_OPTIONS


def test_answers_are_checked_and_toggles_are_idempotent() -> None:
    assert d.normalise_answer(d.QuestionKind.SINGLE, 3, {"choice": 2}) == {"choice": 2}
    assert d.normalise_answer(d.QuestionKind.MULTI, 3, {"choices": [2, 0, 2]}) == {"choices": [0, 2]}
    for kind, value in [
        (d.QuestionKind.SINGLE, {"choice": 3}),
        (d.QuestionKind.SCALE, {"scale": 6}),
        (d.QuestionKind.TEXT, {"text": ""}),
        (d.QuestionKind.MULTI, {"choices": [7]}),
    ]:
        with pytest.raises(d.BadAnswer):
            d.normalise_answer(kind, 3, value)
    once = d.toggle(None, 1, True)
    assert d.toggle(once, 1, True) == once == {"choices": [1]}  # a double press changes nothing
    assert d.toggle(once, 1, False) == {"choices": []}


def test_summaries_and_cells() -> None:
    summary = d.summarise(d.QuestionKind.SCALE, 0, [{"scale": 5}, {"scale": 4}, {}])
    assert summary.answered == 2 and summary.mean == 4.5 and summary.counts == (0, 0, 0, 1, 1)
    multi = d.summarise(d.QuestionKind.MULTI, 3, [{"choices": [0, 2]}, {"choices": [2]}, {"choices": []}])
    assert multi.answered == 2 and multi.counts == (1, 0, 2)
    assert d.percent(1, 3) == 33 and d.percent(2, 3) == 67 and d.percent(0, 0) == 0
    assert d.answer_cells(d.QuestionKind.MULTI, {"choices": [0, 2]}, ["a", "b", "c"]) == "a; c"


def test_the_needs_survey_goes_out_late_in_august() -> None:
    from bot.domain.calendar import IsraeliCalendar
    from bot.i18n import Translator

    working = IsraeliCalendar().is_working_day
    tz = Translator().tz
    # 25 August 2029 is a Saturday: the survey waits for Sunday the 26th, 09:00
    assert not d.needs_due(datetime(2029, 8, 25, 12, tzinfo=tz), working)
    assert not d.needs_due(datetime(2029, 8, 26, 8, 59, tzinfo=tz), working)
    assert d.needs_due(datetime(2029, 8, 26, 9, tzinfo=tz), working)
    assert d.needs_due(datetime(2029, 8, 31, 23, tzinfo=tz), working)
    assert not d.needs_due(datetime(2029, 9, 1, 9, tzinfo=tz), working)
    assert not d.needs_due(datetime(2029, 7, 26, 9, tzinfo=tz), working)
    assert d.needs_key(date(2029, 8, 26)) == "needs:2029"


def test_a_later_stage_is_never_dated_before_progress_already_recorded() -> None:
    entries = [
        k.StageEntry(k.Stage.HARNESS, k.When(date(2007, 5, 1), k.Precision.MONTH), "", 1),
        k.StageEntry(k.Stage.HARNESS, k.When(date(2007, 11, 1), k.Precision.MONTH), "a note", 2),
    ]
    september = k.When(date(2007, 9, 1), k.Precision.MONTH)
    assert k.stage_problem(entries, k.Stage.MECHANISM, september) is k.StageProblem.BEFORE_PREVIOUS
    assert k.stage_problem(entries, k.Stage.HARNESS, september) is None  # a note on the current stage
    assert k.stage_problem(entries, k.Stage.MECHANISM, k.When(date(2007, 11, 20))) is None  # same month
    # The timeline is in process order, even for entries recorded before this rule.
    old = [*entries, k.StageEntry(k.Stage.MECHANISM, september, "", 3)]
    assert [e.seq for e in k.timeline(reversed(old))] == [1, 2, 3]

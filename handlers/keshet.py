"""/partnership: a tri-sector (KeShet) partnership's process, field choice, inputs and self-assessment.

In the shape of handlers/agenda.py: the buttons are declared actions (bot/services/keshet/actions.py,
shared with the notices the service sends), the multi-step input declared flows, one module-level
function per command, step and action, all registered in :func:`build`. Thin: every press re-checks
the person's standing in the service; rules live in bot.domain.keshet.
"""

from __future__ import annotations

from datetime import date

from bot.conversation import Context, Router
from bot.core.messages import Button
from bot.core.states import FlowState, StaleConversation
from bot.domain import keshet as k
from bot.domain.permissions import Action as Permission
from bot.domain.permissions import allowed
from bot.domain.text import clean_text
from bot.i18n import N_, Ltr, Raw, Translator
from bot.services.agenda import items as agenda
from bot.services.errors import Refused
from bot.services.forums import people
from bot.services.keshet import process as keshet
from bot.services.keshet.actions import (
    AddField,
    AddSuggestedField,
    AnnounceFields,
    AnswerQuestion,
    AnswerRound,
    AskFrequency,
    AskInputKind,
    AskRemoveField,
    AskRemoveInput,
    AskWeight,
    ChooseStage,
    InputKindChosen,
    OpenPartnership,
    OpenRound,
    RemoveField,
    RemoveInput,
    ScoreField,
    ScoreFields,
    SetFrequency,
    SetScore,
    SetWeight,
    ShowAssessment,
    ShowFields,
    ShowHub,
    ShowInputs,
    ShowTimeline,
    ShowWeights,
    StageChosen,
    TypeField,
)
from bot.storage.models import Forum
from bot.storage.models_keshet import KeshetAssessmentRound, KeshetPartnership
from handlers.common import forum_title, not_typed, on_actions, on_steps
from handlers.forum_pick import choose_seat

# -- what the conversations carry (flow and field names as stored before the declared shape) ----------


class StageProgress(FlowState, flow="kstage", steps=("date", "note")):
    """The lead records progress: the stage, then when (the date step), then a note."""

    forum: int
    stage: k.Stage
    day: date | None = None  # known from the note step on
    precision: k.Precision | None = None


class FieldTitle(FlowState, flow="kfield", steps=("title",)):
    """The lead types a candidate field of their own."""

    forum: int


class InputDraft(FlowState, flow="kinput", steps=("description", "amount")):
    """A partner records what they bring: the kind, a description, then an amount."""

    forum: int
    kind: k.InputKind
    description: str | None = None  # known from the amount step on


# -- the command ---------------------------------------------------------------------------------


async def partnership_command(ctx: Context) -> None:
    assert ctx.person is not None
    seats = await keshet.partnerships_of(ctx.session, ctx.person)
    if not seats:
        await no_partnership(ctx)
        return
    seat = await choose_seat(ctx, seats, ShowHub, N_("Which partnership?"))
    if seat is not None:
        await hub(ctx, seat.forum)


async def open_partnership(ctx: Context, value: OpenPartnership) -> None:
    assert ctx.person is not None
    forum = await keshet.open_partnership(ctx.session, forum_id=value.forum_id, person=ctx.person, now=ctx.now)
    await ctx.reply(
        ctx.t._(
            "The partnership of {unit} is open, and you hold the public sector's seat. Invite the business "
            "and third sector partners with {command}.",
            unit=forum.org_unit.name_en if ctx.t.locale == "en" and forum.org_unit.name_en else forum.org_unit.name,
            command=Ltr("/invite"),
        )
    )
    await hub(ctx, forum)


async def open_hub(ctx: Context, value: ShowHub) -> None:
    await hub(ctx, await visible_forum(ctx, value.forum_id))


# -- the process ---------------------------------------------------------------------------------


async def timeline(ctx: Context, value: ShowTimeline) -> None:
    await show_timeline(ctx, await visible_forum(ctx, value.forum_id))


async def choose_stage(ctx: Context, value: ChooseStage) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    entries = await keshet.stage_entries(ctx.session, partnership)
    current = k.current_stage(entries)
    rows = []
    for stage in k.stages_open_to(entries):
        name = ctx.t._(k.STAGE_NAMES[stage])
        label = ctx.t._("{stage} (a note on the current stage)", stage=name) if stage is current else name
        rows.append([ctx.button(label, StageChosen(forum.id, stage.value))])
    await ctx.reply(ctx.t._("Which stage is the progress in?"), rows)


async def stage_chosen(ctx: Context, value: StageChosen) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    chosen = k.Stage(value.stage)
    await ctx.enter(StageProgress(forum=forum.id, stage=chosen), "date")
    await ctx.reply(
        ctx.t._(
            "{stage}: when did it happen? Type a date such as 15.05.2007, or only a month: 05/2007.",
            stage=ctx.t._(k.STAGE_NAMES[chosen]),
        ),
        [[ctx.step_button(ctx.t._("Today"), StageProgress.flow, "date", "today")]],
    )


async def stage_date_step(ctx: Context) -> None:
    today = ctx.now.astimezone(ctx.app.settings.tz).date()
    when = k.When(today) if ctx.value == "today" else k.parse_when(ctx.text, today)
    if when is None:
        await ctx.reply(
            ctx.t._("I could not read that date. Type for example 15.05.2007 or 05/2007 (not a future date).")
        )
        return
    draft = ctx.flow(StageProgress)
    forum = await visible_forum(ctx, draft.forum)
    await keshet.check_stage(
        ctx.session, forum=forum, person=ctx.person, stage=draft.stage, when=when, now=ctx.now
    )
    await ctx.enter(draft.model_copy(update={"day": when.day, "precision": when.precision}), "note")
    await ctx.reply(
        ctx.t._("A short note on what happened?"),
        [[ctx.step_button(ctx.t._("No note"), StageProgress.flow, "note", "none")]],
    )


async def stage_note_step(ctx: Context) -> None:
    draft = ctx.flow(StageProgress)
    if draft.day is None or draft.precision is None:
        raise StaleConversation(f"{StageProgress.flow}: a note without its date")
    forum = await visible_forum(ctx, draft.forum)
    when = k.When(draft.day, draft.precision)
    note = "" if ctx.value == "none" else ctx.text
    try:
        await keshet.record_stage(
            ctx.session, forum=forum, person=ctx.person, stage=draft.stage, when=when, note=note, now=ctx.now
        )
    except Refused:
        await ctx.clear_state()
        raise
    await ctx.clear_state()
    await ctx.reply(
        ctx.t._("Recorded: {stage}, {date}.", stage=ctx.t._(k.STAGE_NAMES[draft.stage]), date=when_text(ctx.t, when)),
        [
            [ctx.button(ctx.t._("Record more progress"), ChooseStage(forum.id))],
            [ctx.button(ctx.t._("The process and its timeline"), ShowTimeline(forum.id))],
        ],
    )


# -- choosing the field of action ----------------------------------------------------------------


async def fields(ctx: Context, value: ShowFields) -> None:
    await show_fields(ctx, await visible_forum(ctx, value.forum_id))


async def add_field(ctx: Context, value: AddField) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    listed = {c.suggested for c in await keshet.candidates(ctx.session, partnership)}
    rows = [
        [ctx.button(ctx.t._(title), AddSuggestedField(forum.id, key))]
        for key, title in k.SUGGESTED_FIELDS.items()
        if key not in listed
    ]
    rows.append([ctx.button(ctx.t._("Another field (type it)"), TypeField(forum.id))])
    await ctx.reply(ctx.t._("Which field should the partners consider?"), rows)


async def add_suggested(ctx: Context, value: AddSuggestedField) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    await keshet.add_candidate(ctx.session, forum=forum, person=ctx.person, now=ctx.now, suggested=value.key)
    await ctx.reply(ctx.t._("Added: {field}.", field=ctx.t._(k.SUGGESTED_FIELDS[value.key])))
    await show_fields(ctx, forum)


async def type_field(ctx: Context, value: TypeField) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    await ctx.enter(FieldTitle(forum=forum.id), "title")
    await ctx.reply(ctx.t._("Type the field's name (up to 120 characters)."))


async def field_title_step(ctx: Context) -> None:
    forum = await visible_forum(ctx, ctx.flow(FieldTitle).forum)
    row, _ = await keshet.add_candidate(ctx.session, forum=forum, person=ctx.person, now=ctx.now, title=ctx.text)
    await ctx.clear_state()
    await ctx.reply(ctx.t._("Added: {field}.", field=field_title(ctx.t, row)))
    await show_fields(ctx, forum)


async def ask_remove_field(ctx: Context, value: AskRemoveField) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    listed = await keshet.candidates(ctx.session, partnership)
    rows = [[ctx.button(field_title(ctx.t, c), RemoveField(c.id))] for c in listed]
    await ctx.reply(ctx.t._("Which field should be removed from the list?"), rows)


async def remove_field(ctx: Context, value: RemoveField) -> None:
    candidate, forum = await keshet.candidate_in(ctx.session, value.candidate_id)
    await keshet.remove_candidate(ctx.session, candidate_id=candidate.id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("Removed: {field}.", field=field_title(ctx.t, candidate)), edit=True)
    await show_fields(ctx, forum)


async def weights(ctx: Context, value: ShowWeights) -> None:
    await show_weights(ctx, await visible_forum(ctx, value.forum_id))


async def ask_weight(ctx: Context, value: AskWeight) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    chosen = k.Criterion(value.criterion)
    await ctx.reply(
        ctx.t._("The weight of “{criterion}”:", criterion=ctx.t._(k.CRITERION_NAMES[chosen])),
        [[ctx.button(ctx.t.number(w), SetWeight(forum.id, chosen.value, w)) for w in range(0, k.MAX_WEIGHT + 1)]],
        edit=True,
    )


async def set_weight(ctx: Context, value: SetWeight) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    await keshet.set_weight(
        ctx.session,
        forum=forum,
        person=ctx.person,
        criterion=k.Criterion(value.criterion),
        weight=value.weight,
        now=ctx.now,
    )
    await show_weights(ctx, forum, edit=True)


async def announce_fields(ctx: Context, value: AnnounceFields) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    told = await keshet.announce_fields(ctx.session, forum=forum, person=ctx.person, now=ctx.now)
    if told:
        await ctx.reply(
            ctx.t.n_(
                "I told the partner that the fields are ready to score.",
                "I told the {n} partners that the fields are ready to score.",
                told,
            ),
            [back(ctx, forum)],
        )
    else:
        await ctx.reply(ctx.t._("The partners were already told about these fields."), [back(ctx, forum)])


async def score_fields(ctx: Context, value: ScoreFields) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    rows = []
    for candidate in await keshet.candidates(ctx.session, partnership):
        done = len(await keshet.my_scores(ctx.session, candidate.id, seat.membership_id))
        label = ctx.t._(
            "{field} ({done}/{total})", field=field_title(ctx.t, candidate), done=done, total=len(k.CRITERIA)
        )
        rows.append([ctx.button(label, ScoreField(candidate.id))])
    if not rows:
        await ctx.reply(ctx.t._("No candidate fields yet. The partnership's lead lists them."))
        return
    await ctx.reply(
        ctx.t._(
            "Which field will you score? You score each field on eight criteria, from 1 (not at all) to 5 "
            "(very well); you may skip a criterion."
        ),
        rows,
    )


async def score_field(ctx: Context, value: ScoreField) -> None:
    await ask_criterion(ctx, value.candidate_id, 0, edit=False)


async def set_score(ctx: Context, value: SetScore) -> None:
    if value.score and 0 <= value.index < len(k.CRITERIA):
        await keshet.set_score(
            ctx.session,
            candidate_id=value.candidate_id,
            person=ctx.person,
            criterion=k.CRITERIA[value.index],
            score=value.score,
            now=ctx.now,
        )
    await ask_criterion(ctx, value.candidate_id, min(value.index + 1, len(k.CRITERIA)), edit=True)


# -- the inputs ledger ---------------------------------------------------------------------------


async def inputs(ctx: Context, value: ShowInputs) -> None:
    await show_ledger(ctx, await visible_forum(ctx, value.forum_id))


async def ask_input_kind(ctx: Context, value: AskInputKind) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    await keshet.partner_seat(ctx.session, ctx.person, forum)
    await ctx.reply(
        ctx.t._("What do you bring to the partnership?"),
        [kind_buttons(ctx, forum, k.INPUT_KINDS[:2]), kind_buttons(ctx, forum, k.INPUT_KINDS[2:])],
    )


async def input_kind_chosen(ctx: Context, value: InputKindChosen) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    await keshet.partner_seat(ctx.session, ctx.person, forum)
    chosen = k.InputKind(value.kind)
    await ctx.enter(InputDraft(forum=forum.id, kind=chosen), "description")
    await ctx.reply(
        ctx.t._(
            "{kind}: describe in a sentence what you bring (for example: a coordinator from the education "
            "administration).",
            kind=ctx.t._(k.INPUT_NAMES[chosen]),
        )
    )


async def input_description_step(ctx: Context) -> None:
    if await not_typed(ctx, N_("Please type a short description.")):
        return
    description = clean_text(ctx.text, max_length=k.INPUT_TEXT_MAX, min_length=2)
    draft = ctx.flow(InputDraft)
    await ctx.enter(draft.model_copy(update={"description": description}), "amount")
    question = (
        ctx.t._("How much, in shekels? (a whole number)")
        if k.INPUT_UNITS[draft.kind] is k.Unit.SHEKELS
        else ctx.t._("How many hours a month? (a whole number)")
    )
    await ctx.reply(question, [[ctx.step_button(ctx.t._("Skip"), InputDraft.flow, "amount", "skip")]])


async def input_amount_step(ctx: Context) -> None:
    amount = None
    if ctx.value != "skip":
        amount = k.parse_amount(ctx.text)
        if amount is None:
            await ctx.reply(ctx.t._("Please type a whole number."))
            return
    draft = ctx.flow(InputDraft)
    if draft.description is None:
        raise StaleConversation(f"{InputDraft.flow}: an amount without its description")
    forum = await visible_forum(ctx, draft.forum)
    try:
        await keshet.record_input(
            ctx.session,
            forum=forum,
            person=ctx.person,
            kind=draft.kind,
            description=draft.description,
            amount=amount,
            now=ctx.now,
        )
    finally:
        await ctx.clear_state()
    await ctx.reply(ctx.t._("Recorded in the inputs ledger."))
    await show_ledger(ctx, forum)


async def ask_remove_input(ctx: Context, value: AskRemoveInput) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
    ledger = await keshet.ledger(ctx.session, forum, now=ctx.now)
    rows = [
        [ctx.button(f"{ctx.t._(k.INPUT_NAMES[line.kind])}: {line.description}"[:60], RemoveInput(line.id))]
        for line in ledger.lines
        if line.membership_id == seat.membership_id
    ]
    await ctx.reply(ctx.t._("Which input should be removed?"), rows)


async def remove_input(ctx: Context, value: RemoveInput) -> None:
    await keshet.remove_input(ctx.session, input_id=value.input_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("Removed from the inputs ledger."), edit=True)


# -- the self-assessment -------------------------------------------------------------------------


async def assessment(ctx: Context, value: ShowAssessment) -> None:
    await show_assessment(ctx, await visible_forum(ctx, value.forum_id))


async def open_round(ctx: Context, value: OpenRound) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    opened = await keshet.open_round(
        ctx.session, forum=forum, now=ctx.now, trigger="lead", by_person=ctx.person, after_number=value.after_number
    )
    if opened is None:
        await ctx.reply(ctx.t._("A new round was already opened."))
        return
    reached = await keshet.send_round(ctx.session, opened, now=ctx.now, tz=ctx.app.settings.tz)
    await ctx.reply(
        ctx.t.n_(
            "Round {round} is open: the questions went to one partner.",
            "Round {round} is open: the questions went to {n} partners.",
            reached,
            round=opened.number,
        ),
        edit=True,
    )


async def ask_frequency(ctx: Context, value: AskFrequency) -> None:
    forum = await managed_forum(ctx, value.forum_id)
    await ctx.reply(
        ctx.t._("How often should the partners be asked?"),
        [
            [
                ctx.button(ctx.t.n_("Every month", "Every {n} months", m), SetFrequency(forum.id, m))
                for m in k.EVERY_MONTHS_CHOICES
            ]
        ],
    )


async def set_frequency(ctx: Context, value: SetFrequency) -> None:
    forum = await visible_forum(ctx, value.forum_id)
    partnership = await keshet.set_every_months(
        ctx.session, forum=forum, person=ctx.person, months=value.months, now=ctx.now
    )
    await ctx.reply(
        ctx.t._("Saved. The next round: {date}.", date=ctx.t.date(partnership.next_assessment_at, "long")),
        edit=True,
    )


async def answer_round(ctx: Context, value: AnswerRound) -> None:
    found = await ctx.session.get(KeshetAssessmentRound, value.round_id)
    if found is None:
        raise Refused(N_("This self-assessment round has closed."))
    await keshet.partner_seat(ctx.session, ctx.person, await forum_of_round(ctx, found.partnership_id))
    await ask_question(ctx, found.id, found.number, k.ASKED_QUESTIONS[0], edit=False)


async def answer(ctx: Context, value: AnswerQuestion) -> None:
    answered, nxt = await keshet.answer_question(
        ctx.session, round_id=value.round_id, person=ctx.person, question=value.question, yes=value.yes, now=ctx.now
    )
    if nxt is not None:
        await ask_question(ctx, answered.id, answered.number, nxt)
        return
    forum = await forum_of_round(ctx, answered.partnership_id)
    await ctx.reply(
        ctx.t._("Thank you! Your answers were recorded. You can change them until the next round opens."),
        [[ctx.button(ctx.t._("See the results"), ShowAssessment(forum.id))]],
        edit=True,
    )
    await keshet.tell_verdict_when_complete(ctx.session, forum, answered.id, now=ctx.now, tz=ctx.app.settings.tz)


def build() -> Router:
    """Every command, step and action of /partnership, in one place."""
    router = Router("keshet")
    router.command(
        "partnership", N_("The tri-sector partnership: process, field, inputs, self-assessment"), audience="registered"
    )(partnership_command)
    on_actions(router, open_partnership, open_hub)
    # the process
    on_actions(router, timeline, choose_stage, stage_chosen)
    on_steps(router, StageProgress, date=stage_date_step, note=stage_note_step)
    # choosing the field of action
    on_actions(router, fields, add_field, add_suggested, type_field, ask_remove_field, remove_field, weights,
               ask_weight, set_weight, announce_fields, score_fields, score_field, set_score)
    on_steps(router, FieldTitle, title=field_title_step)
    # the inputs ledger
    on_actions(router, inputs, ask_input_kind, input_kind_chosen, ask_remove_input, remove_input)
    on_steps(router, InputDraft, description=input_description_step, amount=input_amount_step)
    # the self-assessment
    on_actions(router, assessment, open_round, ask_frequency, set_frequency, answer_round, answer)
    return router


# -- who may see and manage ----------------------------------------------------------------------


async def is_manager(ctx: Context, forum: Forum) -> bool:
    return allowed(Permission.MANAGE_PARTNERSHIP, await people.standings(ctx.session, ctx.person, forum))


async def visible_forum(ctx: Context, forum_id: int) -> Forum:
    forum = await keshet.partnership_forum(ctx.session, forum_id)
    await keshet.require(ctx.session, ctx.person, forum, Permission.VIEW_FORUM, keshet.PARTNERS_ONLY)
    return forum


async def managed_forum(ctx: Context, forum_id: int) -> Forum:
    """The partnership's forum, for its lead only."""
    forum = await visible_forum(ctx, forum_id)
    await keshet.require(ctx.session, ctx.person, forum, Permission.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
    return forum


def back(ctx: Context, forum: Forum) -> list[Button]:
    return [ctx.button(ctx.t._("Back to the partnership"), ShowHub(forum.id))]


# -- the views -----------------------------------------------------------------------------------


async def hub(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    seat_list = await keshet.seats(ctx.session, forum.id)
    found = await agenda.people_by_id(ctx.session, [s.person_id for s in seat_list])
    names = {person_id: p.display_name for person_id, p in found.items()}
    lines = [forum_title(t, forum, forum.org_unit), ""]
    for sector in k.SECTORS:
        mine = [names.get(s.person_id, "") for s in seat_list if s.sector is sector]
        lines.append(
            t._("{sector}: {names}", sector=sector_name(t, sector), names=t.join(mine))
            if mine
            else t._("{sector}: not at the table", sector=sector_name(t, sector))
        )
    lines += ["", stage_line(t, await keshet.stage_entries(ctx.session, partnership))]
    buttons = [
        [ctx.button(t._("The process and its timeline"), ShowTimeline(forum.id))],
        [ctx.button(t._("Choosing the field of action"), ShowFields(forum.id))],
        [ctx.button(t._("What each partner brings"), ShowInputs(forum.id))],
        [ctx.button(t._(k.ASSESSMENT_TITLE), ShowAssessment(forum.id))],
    ]
    if await is_manager(ctx, forum):
        buttons.insert(1, [ctx.button(t._("Record progress in the process"), ChooseStage(forum.id))])
    await ctx.reply("\n".join(lines), buttons, edit=edit)


async def no_partnership(ctx: Context) -> None:
    """Not in a partnership: an authority's lead may open theirs; anyone else is told how to join."""
    assert ctx.person is not None
    led = await keshet.authorities_led(ctx.session, ctx.person)
    if not led:
        await ctx.reply(
            ctx.t._(
                "You do not sit in a tri-sector partnership. A partnership is opened by the lead of a local "
                "authority's partners forum; to join one, ask its lead for an invite."
            )
        )
        return
    rows = []
    for seat in led:
        name = seat.unit.name_en if ctx.t.locale == "en" and seat.unit.name_en else seat.unit.name
        rows.append(
            [ctx.button(ctx.t._("Open the partnership of {unit}", unit=name), OpenPartnership(seat.forum.id))]
        )
    await ctx.reply(
        ctx.t._(
            "You do not sit in a tri-sector partnership yet. As the lead of your authority's forum you can open "
            "its partnership (KeShet): you take the public sector's seat, then invite the business and third "
            "sector partners."
        ),
        rows,
    )


async def show_timeline(ctx: Context, forum: Forum) -> None:
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    entries = await keshet.stage_entries(ctx.session, partnership)
    buttons = [back(ctx, forum)]
    if await is_manager(ctx, forum):
        buttons.insert(0, [ctx.button(ctx.t._("Record progress in the process"), ChooseStage(forum.id))])
    await ctx.reply(timeline_text(ctx.t, entries), buttons)


async def show_fields(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    ranking = await keshet.ranking(ctx.session, forum, now=ctx.now)
    buttons = []
    if await keshet.my_seat(ctx.session, ctx.person, forum.id) is not None and ranking.candidates:
        buttons.append([ctx.button(t._("Score the fields"), ScoreFields(forum.id))])
    if await is_manager(ctx, forum):
        buttons.append([ctx.button(t._("Add a candidate field"), AddField(forum.id))])
        buttons.append([ctx.button(t._("Weigh the criteria"), ShowWeights(forum.id))])
        if ranking.candidates:
            buttons.append([ctx.button(t._("Remove a field"), AskRemoveField(forum.id))])
            buttons.append([ctx.button(t._("📣 Tell the partners the fields are ready"), AnnounceFields(forum.id))])
    buttons.append(back(ctx, forum))
    await ctx.reply(ranking_text(t, ranking), buttons, edit=edit)


async def show_weights(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    await keshet.require(ctx.session, ctx.person, forum, Permission.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    current = k.valid_weights(partnership.weights)
    lines = [ctx.t._("The criteria and their weights (0 = ignore, 5 = most important):")]
    rows = []
    for index, criterion in enumerate(k.CRITERIA, 1):
        lines.append(f"{index}. {ctx.t._(k.CRITERION_NAMES[criterion])} — {ctx.t.number(current[criterion])}")
        rows.append(
            ctx.button(
                ctx.t._("{n}: weight {weight}", n=index, weight=current[criterion]),
                AskWeight(forum.id, criterion.value),
            )
        )
    grid = [rows[i : i + 2] for i in range(0, len(rows), 2)]
    grid.append([ctx.button(ctx.t._("Done"), ShowFields(forum.id))])
    await ctx.reply("\n".join(lines), grid, edit=edit)


async def ask_criterion(ctx: Context, candidate_id: int, index: int, *, edit: bool) -> None:
    """One criterion of a field to score, or (past the last one) the partner's scores for it."""
    candidate, forum = await keshet.candidate_in(ctx.session, candidate_id)
    seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
    mine = await keshet.my_scores(ctx.session, candidate.id, seat.membership_id)
    title = field_title(ctx.t, candidate)
    if index >= len(k.CRITERIA):
        await ctx.reply(
            scores_text(ctx.t, title, mine),
            [
                [ctx.button(ctx.t._("Score another field"), ScoreFields(forum.id))],
                [ctx.button(ctx.t._("See the ranking"), ShowFields(forum.id))],
            ],
            edit=edit,
        )
        return
    criterion = k.CRITERIA[index]
    current = mine.get(criterion)
    scores = [
        ctx.button(("✓" if current == s else "") + ctx.t.number(s), SetScore(candidate.id, index, s))
        for s in range(k.MIN_SCORE, k.MAX_SCORE + 1)
    ]
    await ctx.reply(
        criterion_text(ctx.t, title, index),
        [
            scores,
            [
                ctx.button(ctx.t._("Skip"), SetScore(candidate.id, index, 0)),
                ctx.button(ctx.t._("Finish"), SetScore(candidate.id, len(k.CRITERIA), 0)),
            ],
        ],
        edit=edit,
    )


def kind_buttons(ctx: Context, forum: Forum, kinds: tuple[k.InputKind, ...]) -> list[Button]:
    return [ctx.button(ctx.t._(k.INPUT_NAMES[kind]), InputKindChosen(forum.id, kind.value)) for kind in kinds]


async def show_ledger(ctx: Context, forum: Forum) -> None:
    ledger = await keshet.ledger(ctx.session, forum, now=ctx.now)
    seat = await keshet.my_seat(ctx.session, ctx.person, forum.id)
    buttons = []
    if seat is not None:
        buttons.append([ctx.button(ctx.t._("Record what we bring"), AskInputKind(forum.id))])
        if any(line.membership_id == seat.membership_id for line in ledger.lines):
            buttons.append([ctx.button(ctx.t._("Remove an input I recorded"), AskRemoveInput(forum.id))])
    buttons.append(back(ctx, forum))
    await ctx.reply(ledger_text(ctx.t, ledger), buttons)


async def show_assessment(ctx: Context, forum: Forum) -> None:
    views = await keshet.assessment_rounds(ctx.session, forum, now=ctx.now)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    buttons = []
    seat = await keshet.my_seat(ctx.session, ctx.person, forum.id)
    if views and seat is not None:
        buttons.append([ctx.button(ctx.t._("Answer the questions"), AnswerRound(views[-1].round.id))])
    if await is_manager(ctx, forum):
        last = views[-1].round.number if views else 0
        buttons.append([ctx.button(ctx.t._("Send a round to the partners now"), OpenRound(forum.id, last))])
        buttons.append([ctx.button(ctx.t._("How often"), AskFrequency(forum.id))])
    buttons.append(back(ctx, forum))
    text = assessment_text(ctx.t, views)
    text += "\n\n" + ctx.t.n_(
        "The next scheduled round: {date} (every month).",
        "The next scheduled round: {date} (every {n} months).",
        partnership.assessment_every_months,
        date=ctx.t.date(partnership.next_assessment_at, "long"),
    )
    await ctx.reply(text, buttons)


async def ask_question(ctx: Context, assessment_id: int, number: int, question: int, *, edit: bool = True) -> None:
    buttons = [[ctx.button(ctx.t._(label), value) for label, value in keshet.answer_actions(assessment_id, question)]]
    await ctx.reply(keshet.question_text(ctx.t, number, question), buttons, edit=edit)


async def forum_of_round(ctx: Context, partnership_id: int) -> Forum:
    partnership = await ctx.session.get(KeshetPartnership, partnership_id)
    assert partnership is not None
    return await keshet.partnership_forum(ctx.session, partnership.forum_id)


# -- the texts -----------------------------------------------------------------------------------


def when_text(t: Translator, when: k.When) -> str:
    return t.date(when.day, "LLLL y" if when.precision is k.Precision.MONTH else "long")


def mean_text(t: Translator, value: float | None) -> str:
    return "—" if value is None else t.number(round(value, 1))


def sector_name(t: Translator, sector: k.Sector) -> str:
    return t._(k.SECTOR_NAMES[sector])


def field_title(t: Translator, candidate: object) -> str:
    suggested = getattr(candidate, "suggested", None)
    return t._(k.SUGGESTED_FIELDS[suggested]) if suggested else str(getattr(candidate, "title", ""))


def amount_text(t: Translator, kind: k.InputKind, amount: int | None) -> str:
    if amount is None:
        return ""
    if k.INPUT_UNITS[kind] is k.Unit.SHEKELS:
        return t._("{amount} ₪", amount=Raw(t.number(amount)))
    return t.n_("one hour a month", "{n} hours a month", amount)


def stage_line(t: Translator, entries: list[k.StageEntry]) -> str:
    current = k.current_stage(entries)
    if current is None:
        return t._("No stage of the process has been recorded yet.")
    since = k.reached_on(entries, current)
    assert since is not None
    return t._("Current stage: {stage} (since {date})", stage=t._(k.STAGE_NAMES[current]), date=when_text(t, since))


def timeline_text(t: Translator, entries: list[k.StageEntry]) -> str:
    current = k.current_stage(entries)
    current_index = k.STAGES.index(current) if current else -1
    lines = [t._("The process:")]
    for index, stage in enumerate(k.STAGES):
        since = k.reached_on(entries, stage)
        name = t._(k.STAGE_NAMES[stage])
        if since is not None:
            mark = "📍" if stage is current else "✅"
            lines.append(f"{mark} {name} — {when_text(t, since)}")
        elif index < current_index:
            lines.append("⏭️ " + t._("{stage} (skipped)", stage=name))
        else:
            lines.append(f"⬜ {name}")
    ordered = k.timeline(entries)
    if ordered:
        lines += ["", t._("Timeline:")]
        for entry in ordered:
            line = f"{when_text(t, entry.when)} · {t._(k.STAGE_NAMES[entry.stage])}"
            lines.append(f"• {line}" + (f": {entry.note}" if entry.note else ""))
    return "\n".join(lines)


def ranking_text(t: Translator, ranking: keshet.Ranking) -> str:
    lines = [t._("Choosing the field of action"), ""]
    if not ranking.fields:
        lines.append(t._("No candidate fields yet. The partnership's lead lists them."))
        return "\n".join(lines)
    lines.append(
        t._(
            "The ranking: first by how many partners scored the field, then by the weighted mean of their "
            "scores (1–5):"
        )
    )
    for place, field in enumerate(ranking.fields, 1):
        lines += ranked_field_lines(t, place, field_title(t, ranking.candidates[field.candidate]), field, ranking)
    return "\n".join(lines)


def ranked_field_lines(
    t: Translator, place: int, title: str, field: k.RankedField, ranking: keshet.Ranking
) -> list[str]:
    """One field of the ranking: its place and mean, each sector's mean, and a warning if they differ."""
    if field.mean is None:
        return [t._("{place}. {field} — not scored yet", place=place, field=title)]
    lines = [
        t.n_(
            "{place}. {field} — {score} · scored by {scored} of the one partner",
            "{place}. {field} — {score} · scored by {scored} of {n} partners",
            max(ranking.partners, field.partners),
            place=place,
            field=title,
            score=mean_text(t, field.mean),
            scored=field.partners,
        ),
        "   " + " · ".join(spread_text(t, spread) for spread in field.spread),
    ]
    if field.wanted_only_by is not None:
        lines.append("   ⚠️ " + t._("Only {sector} wants this field.", sector=sector_name(t, field.wanted_only_by)))
    elif field.split:
        lines.append(
            "   ⚠️ " + t._("The sectors are far apart on this field (a gap of {gap}).", gap=mean_text(t, field.gap))
        )
    return lines


def spread_text(t: Translator, spread: k.SectorSpread) -> str:
    name = sector_name(t, spread.sector)
    if spread.status is k.SectorStatus.SCORED:
        return t._("{sector}: {score}", sector=name, score=mean_text(t, spread.mean))
    if spread.status is k.SectorStatus.NOT_SCORED:
        return t._("{sector}: not scored", sector=name)
    return t._("{sector}: not at the table", sector=name)


def scores_text(t: Translator, title: str, mine: dict[k.Criterion, int]) -> str:
    lines = [t._("Your scores for {field}:", field=title)]
    for n, criterion in enumerate(k.CRITERIA, 1):
        value = mine.get(criterion)
        shown = t.number(value) if value else "—"
        lines.append(f"{n}. {t._(k.CRITERION_NAMES[criterion])}: {shown}")
    return "\n".join(lines)


def criterion_text(t: Translator, title: str, index: int) -> str:
    criterion = k.CRITERIA[index]
    text = t._(
        "{field} · criterion {n} of {total}:\n{criterion}\nHow well does the field meet it? "
        "1 = not at all, 5 = very well.",
        field=title,
        n=index + 1,
        total=len(k.CRITERIA),
        criterion=t._(k.CRITERION_NAMES[criterion]),
    )
    if criterion is k.Criterion.BUDGET:
        text += "\n" + t._("(5 = the budget it requires is within the partners' reach)")
    return text


def ledger_text(t: Translator, ledger: keshet.Ledger) -> str:
    lines = [t._("What each partner brings (management, volunteering, money, money's worth):")]
    for summary in ledger.summary:
        name = sector_name(t, summary.sector)
        lines.append("")
        if summary.status is k.SectorStatus.ABSENT:
            lines.append(t._("{sector}: not at the table", sector=name))
            continue
        if summary.status is k.SectorStatus.NOT_SCORED:
            lines.append(t._("{sector}: nothing recorded yet", sector=name))
            continue
        lines.append(f"{name}: " + sector_inputs_text(t, summary))
        for line in ledger.lines:
            if line.sector is summary.sector:
                amount = amount_text(t, line.kind, line.amount)
                text = f"{t._(k.INPUT_NAMES[line.kind])}: {line.description}" + (f" — {amount}" if amount else "")
                lines.append(f"  • {text}")
    return "\n".join(lines)


def sector_inputs_text(t: Translator, summary: k.SectorInputs) -> str:
    """How many inputs of each kind a sector brings, and what they add up to."""
    kinds = [f"{t._(k.INPUT_NAMES[kind])} ×{t.number(count)}" for kind, count in summary.counts.items() if count]
    totals = []
    if summary.totals[k.Unit.SHEKELS]:
        totals.append(t._("{amount} ₪", amount=Raw(t.number(summary.totals[k.Unit.SHEKELS]))))
    if summary.totals[k.Unit.HOURS]:
        totals.append(t.n_("one hour a month", "{n} hours a month", summary.totals[k.Unit.HOURS]))
    return " · ".join(kinds) + (f" ({', '.join(totals)})" if totals else "")


def tally_text(t: Translator, question: k.QuestionResult) -> str:
    parts = []
    for tally in question.by_sector:
        name = sector_name(t, tally.sector)
        if tally.status is k.SectorStatus.SCORED:
            parts.append(t._("{sector}: {yes} of {answered}", sector=name, yes=tally.yes, answered=tally.answered))
        elif tally.status is k.SectorStatus.NOT_SCORED:
            parts.append(t._("{sector}: no answer", sector=name))
    return " · ".join(parts)


def arrow(direction: k.Trend) -> str:
    return {k.Trend.UP: "↑", k.Trend.DOWN: "↓", k.Trend.SAME: "=", k.Trend.NEW: ""}[direction]


def assessment_text(t: Translator, views: list[keshet.RoundView]) -> str:
    lines = [t._(k.ASSESSMENT_TITLE), ""]
    if not views:
        lines.append(t._("No round of the self-assessment has been held yet."))
        return "\n".join(lines)
    latest = views[-1]
    result = latest.result
    lines.append(
        t._(
            "Round {round}, opened {date}: {responded} of {partners} partners answered.",
            round=latest.round.number,
            date=t.date(latest.round.opened_at, "long"),
            responded=result.responded,
            partners=result.partners,
        )
    )
    lines += [question_line(t, question, result) for question in result.questions]
    if len(views) > 1:
        lines += ["", t._("The trend (share of yes, round by round):"), *trend_lines(views[-4:])]
    lines.append("")
    lines += keshet.verdict_lines(t, result)
    return "\n".join(lines)


def question_line(t: Translator, question: k.QuestionResult, result: k.AssessmentResult) -> str:
    """A question of the latest round: passes or not, and how the partners (or the seats) answered it."""
    mark = "✅" if question.passes else "❌"
    text = t._(k.QUESTIONS[question.question])
    if question.computed:
        detail = t.n_(
            "from the seats: one sector sits at the table",
            "from the seats: {n} sectors sit at the table",
            len(result.sectors_present),
        )
    else:
        detail = t._("yes: {yes} of {partners}", yes=question.yes, partners=question.partners)
        tallies = tally_text(t, question)
        if tallies:
            detail += f" ({tallies})"
    return f"{mark} {question.question}. {text}\n   {detail}"


def trend_lines(shown: list[keshet.RoundView]) -> list[str]:
    """Each question's share of yes over the rounds shown, with its direction."""
    lines = []
    for number, (shares, direction) in k.trend([v.result for v in shown]).items():
        steps = " → ".join("—" if s is None else f"{round(100 * s)}%" for s in shares)
        lines.append(f"{number}. {steps} {arrow(direction)}".rstrip())
    return lines

"""/partnership: a tri-sector (KeShet) partnership's process, field choice, inputs and self-assessment.

Thin: every press re-checks the person's standing in the service; rules live in bot.domain.keshet.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import Context, Router
from bot.core.messages import Button
from bot.domain import keshet as k
from bot.domain.permissions import Action, allowed
from bot.i18n import N_, Ltr, Raw, Translator
from bot.services import keshet, people
from bot.services.errors import Refused
from bot.storage.models import Forum, Person
from handlers.common import forum_title

STAGE_FLOW = "kstage"
FIELD_FLOW = "kfield"
INPUT_FLOW = "kinput"


# --------------------------------------------------------------------------------------------
# Presentation helpers
# --------------------------------------------------------------------------------------------


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


async def is_manager(ctx: Context, forum: Forum) -> bool:
    return allowed(Action.MANAGE_PARTNERSHIP, await people.standings(ctx.session, ctx.person, forum))


async def visible_forum(ctx: Context, forum_id: int) -> Forum:
    forum = await keshet.partnership_forum(ctx.session, forum_id)
    await keshet.require(ctx.session, ctx.person, forum, Action.VIEW_FORUM, keshet.PARTNERS_ONLY)
    return forum


def back(ctx: Context, forum: Forum) -> list[Button]:
    return [ctx.button(ctx.t._("Back to the partnership"), f"ksh:{forum.id}")]


# --------------------------------------------------------------------------------------------
# The views
# --------------------------------------------------------------------------------------------


async def hub(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    seat_list = await keshet.seats(ctx.session, forum.id)
    names = {p.id: p.display_name for p in await _people(ctx, [s.person_id for s in seat_list])}
    lines = [forum_title(t, forum, forum.org_unit), ""]
    for sector in k.SECTORS:
        mine = [names.get(s.person_id, "") for s in seat_list if s.sector is sector]
        lines.append(
            t._("{sector}: {names}", sector=sector_name(t, sector), names=t.join(mine))
            if mine
            else t._("{sector}: not at the table", sector=sector_name(t, sector))
        )
    entries = await keshet.stage_entries(ctx.session, partnership)
    current = k.current_stage(entries)
    lines.append("")
    if current is None:
        lines.append(t._("No stage of the process has been recorded yet."))
    else:
        since = k.reached_on(entries, current)
        assert since is not None
        lines.append(
            t._(
                "Current stage: {stage} (since {date})",
                stage=t._(k.STAGE_NAMES[current]),
                date=when_text(t, since),
            )
        )
    buttons = [
        [ctx.button(t._("The process and its timeline"), f"kstl:{forum.id}")],
        [ctx.button(t._("Choosing the field of action"), f"ksf:{forum.id}")],
        [ctx.button(t._("What each partner brings"), f"ksi:{forum.id}")],
        [ctx.button(t._(k.ASSESSMENT_TITLE), f"ksa:{forum.id}")],
    ]
    if await is_manager(ctx, forum):
        buttons.insert(1, [ctx.button(t._("Record progress in the process"), f"kss:{forum.id}")])
    await ctx.reply("\n".join(lines), buttons, edit=edit)


async def _people(ctx: Context, ids: list[int]) -> list[Person]:
    if not ids:
        return []
    return list((await ctx.session.scalars(select(Person).where(Person.id.in_(ids)))).all())


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


async def show_timeline(ctx: Context, forum: Forum) -> None:
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    entries = await keshet.stage_entries(ctx.session, partnership)
    buttons = [back(ctx, forum)]
    if await is_manager(ctx, forum):
        buttons.insert(0, [ctx.button(ctx.t._("Record progress in the process"), f"kss:{forum.id}")])
    await ctx.reply(timeline_text(ctx.t, entries), buttons)


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
        title = field_title(t, ranking.candidates[field.candidate])
        if field.mean is None:
            lines.append(t._("{place}. {field} — not scored yet", place=place, field=title))
            continue
        lines.append(
            t.n_(
                "{place}. {field} — {score} · scored by {scored} of the one partner",
                "{place}. {field} — {score} · scored by {scored} of {n} partners",
                max(ranking.partners, field.partners),
                place=place,
                field=title,
                score=mean_text(t, field.mean),
                scored=field.partners,
            )
        )
        parts = []
        for spread in field.spread:
            name = sector_name(t, spread.sector)
            if spread.status is k.SectorStatus.SCORED:
                parts.append(t._("{sector}: {score}", sector=name, score=mean_text(t, spread.mean)))
            elif spread.status is k.SectorStatus.NOT_SCORED:
                parts.append(t._("{sector}: not scored", sector=name))
            else:
                parts.append(t._("{sector}: not at the table", sector=name))
        lines.append("   " + " · ".join(parts))
        if field.wanted_only_by is not None:
            lines.append("   ⚠️ " + t._("Only {sector} wants this field.", sector=sector_name(t, field.wanted_only_by)))
        elif field.split:
            lines.append(
                "   ⚠️ " + t._("The sectors are far apart on this field (a gap of {gap}).", gap=mean_text(t, field.gap))
            )
    return "\n".join(lines)


async def show_fields(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
    t = ctx.t
    ranking = await keshet.ranking(ctx.session, forum, now=ctx.now)
    buttons = []
    if await keshet.my_seat(ctx.session, ctx.person, forum.id) is not None and ranking.candidates:
        buttons.append([ctx.button(t._("Score the fields"), f"ksfs:{forum.id}")])
    if await is_manager(ctx, forum):
        buttons.append([ctx.button(t._("Add a candidate field"), f"ksfa:{forum.id}")])
        buttons.append([ctx.button(t._("Weigh the criteria"), f"ksfw:{forum.id}")])
        if ranking.candidates:
            buttons.append([ctx.button(t._("Remove a field"), f"ksfr:{forum.id}")])
            buttons.append([ctx.button(t._("📣 Tell the partners the fields are ready"), f"ksfn:{forum.id}")])
    buttons.append(back(ctx, forum))
    await ctx.reply(ranking_text(t, ranking), buttons, edit=edit)


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
        kinds = [f"{t._(k.INPUT_NAMES[kind])} ×{t.number(count)}" for kind, count in summary.counts.items() if count]
        totals = []
        if summary.totals[k.Unit.SHEKELS]:
            totals.append(t._("{amount} ₪", amount=Raw(t.number(summary.totals[k.Unit.SHEKELS]))))
        if summary.totals[k.Unit.HOURS]:
            totals.append(t.n_("one hour a month", "{n} hours a month", summary.totals[k.Unit.HOURS]))
        head = f"{name}: " + " · ".join(kinds)
        lines.append(head + (f" ({', '.join(totals)})" if totals else ""))
        for line in ledger.lines:
            if line.sector is summary.sector:
                amount = amount_text(t, line.kind, line.amount)
                text = f"{t._(k.INPUT_NAMES[line.kind])}: {line.description}" + (f" — {amount}" if amount else "")
                lines.append(f"  • {text}")
    return "\n".join(lines)


async def show_ledger(ctx: Context, forum: Forum) -> None:
    ledger = await keshet.ledger(ctx.session, forum, now=ctx.now)
    seat = await keshet.my_seat(ctx.session, ctx.person, forum.id)
    buttons = []
    if seat is not None:
        buttons.append([ctx.button(ctx.t._("Record what we bring"), f"ksin:{forum.id}")])
        if any(line.membership_id == seat.membership_id for line in ledger.lines):
            buttons.append([ctx.button(ctx.t._("Remove an input I recorded"), f"ksix:{forum.id}")])
    buttons.append(back(ctx, forum))
    await ctx.reply(ledger_text(ctx.t, ledger), buttons)


def verdict_lines(t: Translator, result: k.AssessmentResult) -> list[str]:
    if result.responded == 0:
        return [t._("No partner has answered yet.")]
    if result.passes:
        return [t._("The verdict: yes — the partnership passes all six questions.")]
    lines = [t._("The verdict: not yet. These questions fail:")]
    for question in result.questions:
        if question.passes:
            continue
        if question.computed:
            reason = t._("fewer than two sectors sit at the table")
        else:
            reason = t.n_(
                "one of {total} partners said yes",
                "{n} of {total} partners said yes",
                question.yes,
                total=question.partners,
            )
        lines.append(f"• {question.question}. {t._(k.QUESTIONS[question.question])} ({reason})")
    return lines


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
    for question in result.questions:
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
        lines.append(f"{mark} {question.question}. {text}\n   {detail}")
    if len(views) > 1:
        shown = views[-4:]
        lines += ["", t._("The trend (share of yes, round by round):")]
        trend = k.trend([v.result for v in shown])
        for number, (shares, direction) in trend.items():
            steps = " → ".join("—" if s is None else f"{round(100 * s)}%" for s in shares)
            lines.append(f"{number}. {steps} {arrow(direction)}".rstrip())
    lines.append("")
    lines += verdict_lines(t, result)
    return "\n".join(lines)


async def show_assessment(ctx: Context, forum: Forum) -> None:
    views = await keshet.assessment_rounds(ctx.session, forum, now=ctx.now)
    partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
    buttons = []
    seat = await keshet.my_seat(ctx.session, ctx.person, forum.id)
    if views and seat is not None:
        buttons.append([ctx.button(ctx.t._("Answer the questions"), f"ksaq:{views[-1].round.id}")])
    if await is_manager(ctx, forum):
        last = views[-1].round.number if views else 0
        buttons.append([ctx.button(ctx.t._("Send a round to the partners now"), f"ksan:{forum.id}:{last}")])
        buttons.append([ctx.button(ctx.t._("How often"), f"ksaf:{forum.id}")])
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
    buttons = [
        [ctx.button(ctx.t._(label), payload) for label, payload in keshet.answer_payloads(assessment_id, question)]
    ]
    await ctx.reply(keshet.question_text(ctx.t, number, question), buttons, edit=edit)


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
        rows.append([ctx.button(ctx.t._("Open the partnership of {unit}", unit=name), f"kso:{seat.forum.id}")])
    await ctx.reply(
        ctx.t._(
            "You do not sit in a tri-sector partnership yet. As the lead of your authority's forum you can open "
            "its partnership (KeShet): you take the public sector's seat, then invite the business and third "
            "sector partners."
        ),
        rows,
    )


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


def build() -> Router:
    router = Router("keshet")

    @router.command(
        "partnership", N_("The tri-sector partnership: process, field, inputs, self-assessment"), audience="registered"
    )
    async def partnership(ctx: Context) -> None:
        assert ctx.person is not None
        seats = await keshet.partnerships_of(ctx.session, ctx.person)
        if not seats:
            await no_partnership(ctx)
            return
        if len(seats) == 1:
            await hub(ctx, seats[0].forum)
            return
        await ctx.reply(
            ctx.t._("Which partnership?"),
            [[ctx.button(forum_title(ctx.t, s.forum, s.unit), f"ksh:{s.forum.id}")] for s in seats],
        )

    @router.action("kso")
    async def open_partnership(ctx: Context) -> None:
        assert ctx.person is not None
        forum = await keshet.open_partnership(ctx.session, forum_id=int(ctx.value), person=ctx.person, now=ctx.now)
        await ctx.reply(
            ctx.t._(
                "The partnership of {unit} is open, and you hold the public sector's seat. Invite the business "
                "and third sector partners with {command}.",
                unit=forum.org_unit.name_en if ctx.t.locale == "en" and forum.org_unit.name_en else forum.org_unit.name,
                command=Ltr("/invite"),
            )
        )
        await hub(ctx, forum)

    @router.action("ksh")
    async def open_hub(ctx: Context) -> None:
        await hub(ctx, await visible_forum(ctx, int(ctx.value)))

    # -- the process ---------------------------------------------------------------------------

    @router.action("kstl")
    async def timeline(ctx: Context) -> None:
        await show_timeline(ctx, await visible_forum(ctx, int(ctx.value)))

    @router.action("kss")
    async def choose_stage(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
        entries = await keshet.stage_entries(ctx.session, partnership)
        current = k.current_stage(entries)
        rows = []
        for stage in k.stages_open_to(entries):
            name = ctx.t._(k.STAGE_NAMES[stage])
            label = ctx.t._("{stage} (a note on the current stage)", stage=name) if stage is current else name
            rows.append([ctx.button(label, f"kssg:{forum.id}:{stage.value}")])
        await ctx.reply(ctx.t._("Which stage is the progress in?"), rows)

    @router.action("kssg")
    async def stage_chosen(ctx: Context) -> None:
        forum_id, _, stage = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        chosen = k.Stage(stage)
        await ctx.set_state(STAGE_FLOW, "date", forum=forum.id, stage=chosen.value)
        await ctx.reply(
            ctx.t._(
                "{stage}: when did it happen? Type a date such as 15.05.2007, or only a month: 05/2007.",
                stage=ctx.t._(k.STAGE_NAMES[chosen]),
            ),
            [[ctx.step_button(ctx.t._("Today"), STAGE_FLOW, "date", "today")]],
        )

    @router.step(STAGE_FLOW, "date")
    async def stage_date(ctx: Context) -> None:
        today = ctx.now.astimezone(ctx.app.settings.tz).date()
        when = k.When(today) if ctx.value == "today" else k.parse_when(ctx.text, today)
        if when is None:
            await ctx.reply(
                ctx.t._("I could not read that date. Type for example 15.05.2007 or 05/2007 (not a future date).")
            )
            return
        assert ctx.state is not None
        forum = await visible_forum(ctx, int(ctx.state.data["forum"]))
        await keshet.check_stage(
            ctx.session, forum=forum, person=ctx.person, stage=k.Stage(ctx.state.data["stage"]), when=when, now=ctx.now
        )
        await ctx.set_state(STAGE_FLOW, "note", day=when.day.isoformat(), precision=when.precision.value)
        await ctx.reply(
            ctx.t._("A short note on what happened?"),
            [[ctx.step_button(ctx.t._("No note"), STAGE_FLOW, "note", "none")]],
        )

    @router.step(STAGE_FLOW, "note")
    async def stage_note(ctx: Context) -> None:
        from datetime import date

        assert ctx.state is not None
        data = dict(ctx.state.data)
        forum = await visible_forum(ctx, int(data["forum"]))
        when = k.When(date.fromisoformat(data["day"]), k.Precision(data["precision"]))
        note = "" if ctx.value == "none" else ctx.text
        try:
            await keshet.record_stage(
                ctx.session,
                forum=forum,
                person=ctx.person,
                stage=k.Stage(data["stage"]),
                when=when,
                note=note,
                now=ctx.now,
            )
        except Refused:
            await ctx.clear_state()
            raise
        await ctx.clear_state()
        await ctx.reply(
            ctx.t._(
                "Recorded: {stage}, {date}.",
                stage=ctx.t._(k.STAGE_NAMES[k.Stage(data["stage"])]),
                date=when_text(ctx.t, when),
            ),
            [
                [ctx.button(ctx.t._("Record more progress"), f"kss:{forum.id}")],
                [ctx.button(ctx.t._("The process and its timeline"), f"kstl:{forum.id}")],
            ],
        )

    # -- choosing the field ------------------------------------------------------------------

    @router.action("ksf")
    async def fields(ctx: Context) -> None:
        await show_fields(ctx, await visible_forum(ctx, int(ctx.value)))

    @router.action("ksfa")
    async def add_field(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
        listed = {c.suggested for c in await keshet.candidates(ctx.session, partnership)}
        rows = [
            [ctx.button(ctx.t._(title), f"ksfad:{forum.id}:{key}")]
            for key, title in k.SUGGESTED_FIELDS.items()
            if key not in listed
        ]
        rows.append([ctx.button(ctx.t._("Another field (type it)"), f"ksft:{forum.id}")])
        await ctx.reply(ctx.t._("Which field should the partners consider?"), rows)

    @router.action("ksfad")
    async def add_suggested(ctx: Context) -> None:
        forum_id, _, key = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        await keshet.add_candidate(ctx.session, forum=forum, person=ctx.person, now=ctx.now, suggested=key)
        await ctx.reply(ctx.t._("Added: {field}.", field=ctx.t._(k.SUGGESTED_FIELDS[key])))
        await show_fields(ctx, forum)

    @router.action("ksft")
    async def field_typed(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        await ctx.set_state(FIELD_FLOW, "title", forum=forum.id)
        await ctx.reply(ctx.t._("Type the field's name (up to 120 characters)."))

    @router.step(FIELD_FLOW, "title")
    async def field_title_step(ctx: Context) -> None:
        assert ctx.state is not None
        forum = await visible_forum(ctx, int(ctx.state.data["forum"]))
        row, _ = await keshet.add_candidate(ctx.session, forum=forum, person=ctx.person, now=ctx.now, title=ctx.text)
        await ctx.clear_state()
        await ctx.reply(ctx.t._("Added: {field}.", field=field_title(ctx.t, row)))
        await show_fields(ctx, forum)

    @router.action("ksfr")
    async def remove_field(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
        rows = [
            [ctx.button(field_title(ctx.t, c), f"ksfrd:{c.id}")]
            for c in await keshet.candidates(ctx.session, partnership)
        ]
        await ctx.reply(ctx.t._("Which field should be removed from the list?"), rows)

    @router.action("ksfrd")
    async def remove_field_done(ctx: Context) -> None:
        candidate, forum = await keshet.candidate_in(ctx.session, int(ctx.value))
        await keshet.remove_candidate(ctx.session, candidate_id=candidate.id, person=ctx.person, now=ctx.now)
        await ctx.reply(ctx.t._("Removed: {field}.", field=field_title(ctx.t, candidate)), edit=True)
        await show_fields(ctx, forum)

    @router.action("ksfw")
    async def weights(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await show_weights(ctx, forum)

    async def show_weights(ctx: Context, forum: Forum, *, edit: bool = False) -> None:
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
        current = k.valid_weights(partnership.weights)
        lines = [ctx.t._("The criteria and their weights (0 = ignore, 5 = most important):")]
        rows = []
        for index, criterion in enumerate(k.CRITERIA, 1):
            lines.append(f"{index}. {ctx.t._(k.CRITERION_NAMES[criterion])} — {ctx.t.number(current[criterion])}")
            rows.append(
                ctx.button(
                    ctx.t._("{n}: weight {weight}", n=index, weight=current[criterion]),
                    f"ksfwc:{forum.id}:{criterion.value}",
                )
            )
        grid = [rows[i : i + 2] for i in range(0, len(rows), 2)]
        grid.append([ctx.button(ctx.t._("Done"), f"ksf:{forum.id}")])
        await ctx.reply("\n".join(lines), grid, edit=edit)

    @router.action("ksfwc")
    async def weight_of(ctx: Context) -> None:
        forum_id, _, criterion = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        chosen = k.Criterion(criterion)
        await ctx.reply(
            ctx.t._("The weight of “{criterion}”:", criterion=ctx.t._(k.CRITERION_NAMES[chosen])),
            [[ctx.button(ctx.t.number(w), f"ksfws:{forum.id}:{chosen.value}:{w}") for w in range(0, k.MAX_WEIGHT + 1)]],
            edit=True,
        )

    @router.action("ksfws")
    async def weight_set(ctx: Context) -> None:
        forum_id, criterion, weight = ctx.value.split(":")
        forum = await visible_forum(ctx, int(forum_id))
        await keshet.set_weight(
            ctx.session,
            forum=forum,
            person=ctx.person,
            criterion=k.Criterion(criterion),
            weight=int(weight),
            now=ctx.now,
        )
        await show_weights(ctx, forum, edit=True)

    @router.action("ksfn")
    async def fields_ready(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
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

    @router.action("ksfs")
    async def score_which(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
        partnership = await keshet.partnership_of(ctx.session, forum, now=ctx.now)
        rows = []
        for candidate in await keshet.candidates(ctx.session, partnership):
            done = len(await keshet.my_scores(ctx.session, candidate.id, seat.membership_id))
            label = ctx.t._(
                "{field} ({done}/{total})", field=field_title(ctx.t, candidate), done=done, total=len(k.CRITERIA)
            )
            rows.append([ctx.button(label, f"ksc:{candidate.id}")])
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

    async def ask_criterion(ctx: Context, candidate_id: int, index: int, *, edit: bool) -> None:
        candidate, forum = await keshet.candidate_in(ctx.session, candidate_id)
        seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
        mine = await keshet.my_scores(ctx.session, candidate.id, seat.membership_id)
        if index >= len(k.CRITERIA):
            lines = [ctx.t._("Your scores for {field}:", field=field_title(ctx.t, candidate))]
            for n, criterion in enumerate(k.CRITERIA, 1):
                value = mine.get(criterion)
                shown = ctx.t.number(value) if value else "—"
                lines.append(f"{n}. {ctx.t._(k.CRITERION_NAMES[criterion])}: {shown}")
            await ctx.reply(
                "\n".join(lines),
                [
                    [ctx.button(ctx.t._("Score another field"), f"ksfs:{forum.id}")],
                    [ctx.button(ctx.t._("See the ranking"), f"ksf:{forum.id}")],
                ],
                edit=edit,
            )
            return
        criterion = k.CRITERIA[index]
        text = ctx.t._(
            "{field} · criterion {n} of {total}:\n{criterion}\nHow well does the field meet it? "
            "1 = not at all, 5 = very well.",
            field=field_title(ctx.t, candidate),
            n=index + 1,
            total=len(k.CRITERIA),
            criterion=ctx.t._(k.CRITERION_NAMES[criterion]),
        )
        if criterion is k.Criterion.BUDGET:
            text += "\n" + ctx.t._("(5 = the budget it requires is within the partners' reach)")
        current = mine.get(criterion)
        scores = [
            ctx.button(("✓" if current == s else "") + ctx.t.number(s), f"kscs:{candidate.id}:{index}:{s}")
            for s in range(k.MIN_SCORE, k.MAX_SCORE + 1)
        ]
        await ctx.reply(
            text,
            [
                scores,
                [
                    ctx.button(ctx.t._("Skip"), f"kscs:{candidate.id}:{index}:0"),
                    ctx.button(ctx.t._("Finish"), f"kscs:{candidate.id}:{len(k.CRITERIA)}:0"),
                ],
            ],
            edit=edit,
        )

    @router.action("ksc")
    async def score_candidate(ctx: Context) -> None:
        await ask_criterion(ctx, int(ctx.value), 0, edit=False)

    @router.action("kscs")
    async def score_set(ctx: Context) -> None:
        candidate_id, index, score = (int(x) for x in ctx.value.split(":"))
        if score and 0 <= index < len(k.CRITERIA):
            await keshet.set_score(
                ctx.session,
                candidate_id=candidate_id,
                person=ctx.person,
                criterion=k.CRITERIA[index],
                score=score,
                now=ctx.now,
            )
        await ask_criterion(ctx, candidate_id, min(index + 1, len(k.CRITERIA)), edit=True)

    # -- the inputs ledger ---------------------------------------------------------------------

    @router.action("ksi")
    async def inputs(ctx: Context) -> None:
        await show_ledger(ctx, await visible_forum(ctx, int(ctx.value)))

    @router.action("ksin")
    async def input_kind(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.partner_seat(ctx.session, ctx.person, forum)
        await ctx.reply(
            ctx.t._("What do you bring to the partnership?"),
            [
                [
                    ctx.button(ctx.t._(k.INPUT_NAMES[kind]), f"ksik:{forum.id}:{kind.value}")
                    for kind in k.INPUT_KINDS[:2]
                ],
                [
                    ctx.button(ctx.t._(k.INPUT_NAMES[kind]), f"ksik:{forum.id}:{kind.value}")
                    for kind in k.INPUT_KINDS[2:]
                ],
            ],
        )

    @router.action("ksik")
    async def input_kind_chosen(ctx: Context) -> None:
        forum_id, _, kind = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        await keshet.partner_seat(ctx.session, ctx.person, forum)
        chosen = k.InputKind(kind)
        await ctx.set_state(INPUT_FLOW, "description", forum=forum.id, kind=chosen.value)
        await ctx.reply(
            ctx.t._(
                "{kind}: describe in a sentence what you bring (for example: a coordinator from the education "
                "administration).",
                kind=ctx.t._(k.INPUT_NAMES[chosen]),
            )
        )

    @router.step(INPUT_FLOW, "description")
    async def input_description(ctx: Context) -> None:
        from bot.domain.text import clean_text

        if ctx.value:
            await ctx.reply(ctx.t._("Please type a short description."))
            return
        description = clean_text(ctx.text, max_length=k.INPUT_TEXT_MAX, min_length=2)
        assert ctx.state is not None
        kind = k.InputKind(ctx.state.data["kind"])
        await ctx.set_state(INPUT_FLOW, "amount", description=description)
        question = (
            ctx.t._("How much, in shekels? (a whole number)")
            if k.INPUT_UNITS[kind] is k.Unit.SHEKELS
            else ctx.t._("How many hours a month? (a whole number)")
        )
        await ctx.reply(question, [[ctx.step_button(ctx.t._("Skip"), INPUT_FLOW, "amount", "skip")]])

    @router.step(INPUT_FLOW, "amount")
    async def input_amount(ctx: Context) -> None:
        assert ctx.state is not None
        amount = None
        if ctx.value != "skip":
            amount = k.parse_amount(ctx.text)
            if amount is None:
                await ctx.reply(ctx.t._("Please type a whole number."))
                return
        data = dict(ctx.state.data)
        forum = await visible_forum(ctx, int(data["forum"]))
        try:
            await keshet.record_input(
                ctx.session,
                forum=forum,
                person=ctx.person,
                kind=k.InputKind(data["kind"]),
                description=data["description"],
                amount=amount,
                now=ctx.now,
            )
        finally:
            await ctx.clear_state()
        await ctx.reply(ctx.t._("Recorded in the inputs ledger."))
        await show_ledger(ctx, forum)

    @router.action("ksix")
    async def input_remove(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        seat = await keshet.partner_seat(ctx.session, ctx.person, forum)
        ledger = await keshet.ledger(ctx.session, forum, now=ctx.now)
        rows = [
            [ctx.button(f"{ctx.t._(k.INPUT_NAMES[line.kind])}: {line.description}"[:60], f"ksixd:{line.id}")]
            for line in ledger.lines
            if line.membership_id == seat.membership_id
        ]
        await ctx.reply(ctx.t._("Which input should be removed?"), rows)

    @router.action("ksixd")
    async def input_removed(ctx: Context) -> None:
        await keshet.remove_input(ctx.session, input_id=int(ctx.value), person=ctx.person, now=ctx.now)
        await ctx.reply(ctx.t._("Removed from the inputs ledger."), edit=True)

    # -- the self-assessment ---------------------------------------------------------------------

    @router.action("ksa")
    async def assessment(ctx: Context) -> None:
        await show_assessment(ctx, await visible_forum(ctx, int(ctx.value)))

    @router.action("ksan")
    async def assessment_now(ctx: Context) -> None:
        forum_id, _, last = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        opened = await keshet.open_round(
            ctx.session, forum=forum, now=ctx.now, trigger="lead", by_person=ctx.person, after_number=int(last)
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

    @router.action("ksaf")
    async def assessment_every(ctx: Context) -> None:
        forum = await visible_forum(ctx, int(ctx.value))
        await keshet.require(ctx.session, ctx.person, forum, Action.MANAGE_PARTNERSHIP, keshet.LEADS_ONLY)
        await ctx.reply(
            ctx.t._("How often should the partners be asked?"),
            [
                [
                    ctx.button(ctx.t.n_("Every month", "Every {n} months", m), f"ksafs:{forum.id}:{m}")
                    for m in k.EVERY_MONTHS_CHOICES
                ]
            ],
        )

    @router.action("ksafs")
    async def assessment_every_set(ctx: Context) -> None:
        forum_id, _, months = ctx.value.partition(":")
        forum = await visible_forum(ctx, int(forum_id))
        partnership = await keshet.set_every_months(
            ctx.session, forum=forum, person=ctx.person, months=int(months), now=ctx.now
        )
        await ctx.reply(
            ctx.t._("Saved. The next round: {date}.", date=ctx.t.date(partnership.next_assessment_at, "long")),
            edit=True,
        )

    @router.action("ksaq")
    async def assessment_answer_again(ctx: Context) -> None:
        from bot.storage.models_keshet import KeshetAssessmentRound

        assessment = await ctx.session.get(KeshetAssessmentRound, int(ctx.value))
        if assessment is None:
            raise Refused(N_("This self-assessment round has closed."))
        await keshet.partner_seat(ctx.session, ctx.person, await _forum_of_round(ctx, assessment.partnership_id))
        await ask_question(ctx, assessment.id, assessment.number, k.ASKED_QUESTIONS[0], edit=False)

    @router.action("kasa")
    async def assessment_answer(ctx: Context) -> None:
        round_id, question, yes = (int(x) for x in ctx.value.split(":"))
        assessment, nxt = await keshet.answer_question(
            ctx.session, round_id=round_id, person=ctx.person, question=question, yes=bool(yes), now=ctx.now
        )
        if nxt is not None:
            await ask_question(ctx, assessment.id, assessment.number, nxt)
            return
        partnership_forum = await _forum_of_round(ctx, assessment.partnership_id)
        await ctx.reply(
            ctx.t._("Thank you! Your answers were recorded. You can change them until the next round opens."),
            [[ctx.button(ctx.t._("See the results"), f"ksa:{partnership_forum.id}")]],
            edit=True,
        )
        await notify_when_complete(ctx, partnership_forum, assessment.id)

    return router


async def _forum_of_round(ctx: Context, partnership_id: int) -> Forum:
    from bot.storage.models_keshet import KeshetPartnership

    partnership = await ctx.session.get(KeshetPartnership, partnership_id)
    assert partnership is not None
    return await keshet.partnership_forum(ctx.session, partnership.forum_id)


async def notify_when_complete(ctx: Context, forum: Forum, round_id: int) -> None:
    """When every partner of the round has answered every question, each of them gets the verdict (once)."""
    from bot.services import notify

    views = await keshet.assessment_rounds(ctx.session, forum, now=ctx.now)
    view = next((v for v in views if v.round.id == round_id), None)
    if view is None:
        return
    result = view.result
    asked = [q for q in result.questions if not q.computed]
    if result.partners == 0 or any(q.answered < result.partners for q in asked):
        return
    seats = await keshet.seats(ctx.session, forum.id)
    for r in await notify.recipients(ctx.session, [s.person_id for s in seats], now=ctx.now, tz=ctx.app.settings.tz):
        text = "\n".join(
            [
                r.t._(k.ASSESSMENT_TITLE),
                r.t._("Every partner has answered round {round}.", round=view.round.number),
                "",
                *verdict_lines(r.t, result),
            ]
        )
        await r.send(
            r.message(text, [[r.button(r.t._("See the results"), f"ksa:{forum.id}")]]),
            dedup_key=f"keshet:verdict:{round_id}:p{r.person.id}",
        )

"""/surveys: answer a forum's survey, send one from a template, see and export the results.

Every answer is saved the moment it is given; answering again replaces it (the later answer counts).
In the shape of handlers/agenda.py: declared actions (bot.services.surveys.actions), declared flows,
one module-level function per command, step and action, all registered in :func:`build`.
"""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.core.states import FlowState
from bot.domain import surveys as d
from bot.i18n import N_, Raw, Translator
from bot.services.delivery import notify
from bot.services.errors import Forbidden
from bot.services.forums import people
from bot.services.surveys import answers as surveys
from bot.services.surveys.actions import (
    AnswerChoice,
    ChooseTemplate,
    CloseSurvey,
    ExportResults,
    NewSurvey,
    NewSurveyFor,
    NextQuestion,
    OpenSurvey,
    PromoteAnswer,
    ShowResults,
    ShowWrittenAnswers,
    ToggleChoice,
)
from bot.services.texts import quoted
from bot.storage.models import Forum
from bot.storage.models_keshet import Survey, SurveyQuestion
from handlers.common import forum_title, on_actions, on_steps
from handlers.forum_pick import led_seat

KIND_HINTS = {
    d.QuestionKind.SINGLE: N_("(choose one)"),
    d.QuestionKind.MULTI: N_("(choose all that apply, then press “Next”)"),
    d.QuestionKind.SCALE: N_("(1 to 5)"),
    d.QuestionKind.TEXT: N_("(type your answer)"),
}

# -- what the conversations carry --------------------------------------------------------------


class TextAnswer(FlowState, flow="svtext", steps=("answer",)):
    """A text question waiting for the person to type their answer."""

    question: int


class SurveyDraft(FlowState, flow="svnew", steps=("confirm",)):
    """A lead about to send a survey from a template."""

    forum: int
    template: str  # bot.domain.surveys.TEMPLATES
    request: str  # one survey however often "Send" is pressed


# -- the command ---------------------------------------------------------------------------------


async def surveys_command(ctx: Context) -> None:
    assert ctx.person is not None
    t = ctx.t
    open_ones = await surveys.open_surveys_for(ctx.session, ctx.person)
    lines, buttons = [], []
    if open_ones:
        lines.append(t._("Open surveys:"))
        for item in open_ones:
            title = label(t, item.survey, item.survey.title)
            where = forum_title(t, item.forum, item.unit)
            lines.append(
                "• "
                + t._(
                    "{title} — {forum} (you answered {done} of {total})",
                    title=title,
                    forum=Raw(where),
                    done=item.answered,
                    total=item.questions,
                )
            )
            buttons.append([ctx.button(t._("Answer: {title}", title=title), OpenSurvey(item.survey.id))])
    else:
        lines.append(t._("There is no open survey for you."))
    seats = [s for s in await people.seats_of(ctx.session, ctx.person.id) if s.is_lead]
    if seats:
        led = await surveys.surveys_led_by(ctx.session, ctx.person)
        if led:
            lines += ["", t._("Surveys of the forums you lead:")]
            for survey, forum, unit in led[:8]:
                title = label(t, survey, survey.title)
                lines.append("• " + t._("{title} — {forum}", title=title, forum=Raw(forum_title(t, forum, unit))))
                buttons.append([ctx.button(t._("Results: {title}", title=title), ShowResults(survey.id))])
        buttons.append([ctx.button(t._("Send a new survey"), NewSurvey())])
    await ctx.reply("\n".join(lines), buttons)


# -- answering -----------------------------------------------------------------------------------


async def open_survey(ctx: Context, value: OpenSurvey) -> None:
    survey, forum = await surveys.get_survey(ctx.session, value.survey_id)
    await surveys.respondent_seat(ctx.session, ctx.person, forum)
    if survey.status != "open":
        await ctx.reply(ctx.t._(surveys.CLOSED))
        return
    first = await surveys.next_question(ctx.session, survey.id, 0)
    if first is None:
        return
    await show_question(ctx, survey, first, edit=False)


async def answer_choice(ctx: Context, value: AnswerChoice) -> None:
    question = await ctx.session.get(SurveyQuestion, value.question_id)
    if question is None:
        raise Forbidden(surveys.MEMBERS_ONLY)
    key = "scale" if question.kind == d.QuestionKind.SCALE.value else "choice"
    at = await surveys.answer(
        ctx.session, question_id=question.id, person=ctx.person, value={key: value.value}, now=ctx.now
    )
    await after(ctx, at.question, edit=True)


async def toggle_choice(ctx: Context, value: ToggleChoice) -> None:
    at = await surveys.set_choice(
        ctx.session, question_id=value.question_id, person=ctx.person, option=value.option, on=value.on,
        now=ctx.now,
    )
    await show_question(ctx, at.survey, at.question, edit=True)


async def next_question(ctx: Context, value: NextQuestion) -> None:
    at = await surveys.question_for(ctx.session, value.question_id, ctx.person)
    await after(ctx, at.question, edit=True)


async def text_step(ctx: Context) -> None:
    state = ctx.flow(TextAnswer)
    at = await surveys.answer(
        ctx.session, question_id=state.question, person=ctx.person, value={"text": ctx.text}, now=ctx.now
    )
    await ctx.clear_state()
    await after(ctx, at.question, edit=False)


# -- sending -------------------------------------------------------------------------------------


async def new_survey(ctx: Context, value: NewSurvey) -> None:
    seat = await led_seat(ctx, NewSurveyFor, question=N_("Which forum is the survey for?"), refusal=surveys.LEADS_ONLY)
    if seat is not None:
        await choose_template(ctx, seat.forum)


async def new_survey_forum(ctx: Context, value: NewSurveyFor) -> None:
    forum = await ctx.session.get(Forum, value.forum_id)
    if forum is None:
        raise Forbidden(surveys.LEADS_ONLY)
    await choose_template(ctx, forum)


async def new_survey_template(ctx: Context, value: ChooseTemplate) -> None:
    forum = await ctx.session.get(Forum, value.forum_id)
    if forum is None or value.key not in d.TEMPLATES:
        raise Forbidden(surveys.LEADS_ONLY)
    await ctx.session.refresh(forum, ["org_unit"])
    await surveys.require_lead(ctx.session, ctx.person, forum)
    template = d.TEMPLATES[value.key]
    members = len(await notify.member_ids(ctx.session, forum.id))
    await ctx.enter(SurveyDraft(forum=forum.id, template=value.key, request=surveys.new_request_key()), "confirm")
    text = "\n".join(
        [
            ctx.t._(template.title),
            ctx.t._(template.intro),
            "",
            *(f"{n}. {ctx.t._(q.text)}" for n, q in enumerate(template.questions, 1)),
            "",
            ctx.t.n_(
                "Send it to the one member of {forum}?",
                "Send it to the {n} members of {forum}?",
                members,
                forum=Raw(forum_title(ctx.t, forum, forum.org_unit)),
            ),
        ]
    )
    flow = SurveyDraft.flow
    await ctx.reply(
        text,
        [[ctx.step_button(ctx.t._("Send"), flow, "confirm", "yes"),
          ctx.step_button(ctx.t._("Cancel"), flow, "confirm", "no")]],
    )


async def confirm_step(ctx: Context) -> None:
    draft = ctx.flow(SurveyDraft)
    if ctx.value != "yes":
        await ctx.clear_state()
        if ctx.value == "no":
            await ctx.reply(ctx.t._("Cancelled."), edit=True)
        else:
            await ctx.reply(ctx.t._("Nothing was sent."))
        return
    forum = await ctx.session.get(Forum, draft.forum)
    assert forum is not None
    await ctx.clear_state()
    survey = await surveys.create_from_template(
        ctx.session, forum=forum, template=draft.template, now=ctx.now, request_key=draft.request,
        by_person=ctx.person,
    )
    if survey is None:
        await ctx.reply(ctx.t._("This survey was already sent."), edit=True)
        return
    reached = await surveys.send_survey(ctx.session, survey, now=ctx.now, tz=ctx.app.settings.tz)
    await ctx.reply(
        ctx.t.n_("Sent to one member.", "Sent to {n} members.", reached),
        [[ctx.button(ctx.t._("Results: {title}", title=label(ctx.t, survey, survey.title)), ShowResults(survey.id))]],
        edit=True,
    )


# -- results -------------------------------------------------------------------------------------


async def results(ctx: Context, value: ShowResults) -> None:
    await show_results(ctx, value.survey_id)


async def export(ctx: Context, value: ExportResults) -> None:
    made = await surveys.export(ctx.session, survey_id=value.survey_id, fmt=value.fmt, t=ctx.t, person=ctx.person)
    await ctx.reply_file(
        made.name, made.mime, made.data, ctx.t._("The survey's answers, one row per respondent."), made.ascii_name
    )


async def close(ctx: Context, value: CloseSurvey) -> None:
    await surveys.close_survey(ctx.session, survey_id=value.survey_id, person=ctx.person, now=ctx.now)
    await ctx.reply(ctx.t._("The survey is closed; it no longer accepts answers."))
    await show_results(ctx, value.survey_id)


async def written_answers(ctx: Context, value: ShowWrittenAnswers) -> None:
    listed, total = await surveys.text_answers(ctx.session, survey_id=value.survey_id, person=ctx.person)
    if not listed:
        await ctx.reply(ctx.t._("No answers yet."))
        return
    survey = await ctx.session.get(Survey, value.survey_id)
    assert survey is not None
    if total > len(listed):
        await ctx.reply(ctx.t._("The {shown} newest of {total} written answers:", shown=len(listed), total=total))
    for answer, question in listed:
        await ctx.reply(
            f"{quoted(ctx.t, answer.value['text'])}\n— {label(ctx.t, survey, question.text)}",
            [[ctx.button(ctx.t._("To the agenda"), PromoteAnswer(answer.id, "agenda")),
              ctx.button(ctx.t._("Raise as an issue"), PromoteAnswer(answer.id, "issue"))]],
        )


async def promote(ctx: Context, value: PromoteAnswer) -> None:
    target = value.target
    promotion, created = await surveys.promote_answer(ctx.session, value.answer_id, target, ctx.person, ctx.now)
    if not created:
        text = (
            ctx.t._("This answer was already sent to the agenda.")
            if target == "agenda"
            else ctx.t._("This answer was already raised as an issue.")
        )
    elif promotion.status == "delivered":
        text = (
            ctx.t._("Added to the forum's agenda.") if target == "agenda" else ctx.t._("Raised as the forum's issue.")
        )
    else:
        text = (
            ctx.t._("Saved for the agenda: it will be added as soon as the agenda can take it.")
            if target == "agenda"
            else ctx.t._("Saved as an issue: it will be raised as soon as the issues list can take it.")
        )
    await ctx.reply(f"{quoted(ctx.t, promotion.text)}\n\n{text}", edit=True)


def build() -> Router:
    """Every command, step and action of /surveys, in one place."""
    router = Router("surveys")
    router.command("surveys", N_("Surveys: answer, send, see the results"), audience="registered")(surveys_command)
    on_actions(router, open_survey, answer_choice, toggle_choice, next_question, new_survey, new_survey_forum,
               new_survey_template, results, export, close, written_answers, promote)
    on_steps(router, TextAnswer, answer=text_step)
    on_steps(router, SurveyDraft, confirm=confirm_step)
    return router


def label(t: Translator, survey: Survey, text: str) -> str:
    return surveys.text_of(t, survey, text)


async def choose_template(ctx: Context, forum: Forum) -> None:
    await surveys.require_lead(ctx.session, ctx.person, forum)
    rows = [
        [ctx.button(ctx.t._(template.title), ChooseTemplate(forum.id, template.key))]
        for template in await surveys.templates_for(ctx.session, forum)
    ]
    if not rows:
        await ctx.reply(ctx.t._("There is no ready survey for this forum yet."))
        return
    await ctx.reply(ctx.t._("Which survey?"), rows)


async def show_question(ctx: Context, survey: Survey, question: SurveyQuestion, *, edit: bool) -> None:
    """One question with the person's current answer marked; a text question waits for typing."""
    t = ctx.t
    forum = await ctx.session.get(Forum, survey.forum_id)
    assert forum is not None
    membership = await surveys.respondent_seat(ctx.session, ctx.person, forum)
    current = (await surveys.answers_of(ctx.session, survey.id, membership.id)).get(question.id) or {}
    total = len(await surveys.questions_of(ctx.session, survey.id))
    kind = d.QuestionKind(question.kind)
    lines = [
        t._("{title} · question {n} of {total}", title=label(t, survey, survey.title), n=question.position,
            total=total),
        "",
        label(t, survey, question.text),
        t._(KIND_HINTS[kind]),
    ]
    options = [label(t, survey, o) for o in question.options]
    buttons = []
    if kind is d.QuestionKind.SINGLE:
        chosen = current.get("choice")
        buttons = [[ctx.button(("✓ " if chosen == i else "") + option, AnswerChoice(question.id, i))]
                   for i, option in enumerate(options)]
    elif kind is d.QuestionKind.MULTI:
        ticked = set(current.get("choices", []))
        buttons = [[ctx.button(("☑ " if i in ticked else "☐ ") + option, ToggleChoice(question.id, i, i not in ticked))]
                   for i, option in enumerate(options)]
    elif kind is d.QuestionKind.SCALE:
        point = current.get("scale")
        buttons = [[ctx.button(("✓" if point == n else "") + t.number(n), AnswerChoice(question.id, n))
                    for n in d.SCALE]]
    else:
        if current.get("text"):
            lines += ["", t._("Your answer so far: {answer}", answer=current["text"])]
        await ctx.enter(TextAnswer(question=question.id), "answer")
    if kind is not d.QuestionKind.TEXT and ctx.state is not None and ctx.state.flow == TextAnswer.flow:
        await ctx.clear_state()
    nav = t._("Next") if kind is d.QuestionKind.MULTI or current else t._("Skip")
    buttons.append([ctx.button(nav, NextQuestion(question.id))])
    await ctx.reply("\n".join(lines), buttons, edit=edit)


async def after(ctx: Context, question: SurveyQuestion, *, edit: bool) -> None:
    """Move on from ``question``: the next one, or the end of the survey."""
    survey = await ctx.session.get(Survey, question.survey_id)
    assert survey is not None
    nxt = await surveys.next_question(ctx.session, survey.id, question.position)
    if nxt is not None:
        await show_question(ctx, survey, nxt, edit=edit)
        return
    if ctx.state is not None and ctx.state.flow == TextAnswer.flow:
        await ctx.clear_state()
    forum = await ctx.session.get(Forum, survey.forum_id)
    assert forum is not None
    membership = await surveys.respondent_seat(ctx.session, ctx.person, forum)
    await surveys.complete(ctx.session, survey_id=survey.id, membership_id=membership.id, now=ctx.now)
    await ctx.reply(
        ctx.t._("Thank you! Your answers were saved. You can change them while the survey is open: send /surveys."),
        edit=edit,
    )


def results_text(t: Translator, res: surveys.Results) -> str:
    survey = res.survey
    lines = [
        t._("Results: {title}", title=label(t, survey, survey.title)),
        t._("{responded} of {members} members answered.", responded=res.responded, members=res.members),
    ]
    if survey.status != "open":
        lines.append(t._("The survey is closed."))
    for item in res.questions:
        q, summary = item.question, item.summary
        kind = d.QuestionKind(q.kind)
        lines += ["", f"{q.position}. {label(t, survey, q.text)}"]
        if summary.answered == 0:
            lines.append("   " + t._("No answers yet."))
            continue
        if kind in (d.QuestionKind.SINGLE, d.QuestionKind.MULTI):
            for option, count in zip(q.options, summary.counts, strict=True):
                share = d.percent(count, summary.answered)
                lines.append(f"   • {label(t, survey, option)} — {t.number(count)} ({t.number(share)}%)")
        elif kind is d.QuestionKind.SCALE:
            spread = " · ".join(f"{t.number(n)}: {t.number(c)}" for n, c in zip(d.SCALE, summary.counts, strict=True))
            mean = t.number(round(summary.mean or 0.0, 1))
            lines.append("   " + t._("Mean {mean} ({spread})", mean=mean, spread=Raw(spread)))
        else:
            lines.append("   " + t.n_("One written answer:", "{n} written answers:", summary.answered))
            for text in summary.texts[:5]:
                lines.append(f"   • {quoted(t, text)}")
            if summary.answered > 5:
                lines.append("   " + t.n_("…and one more", "…and {n} more", summary.answered - 5))
    return "\n".join(lines)


async def show_results(ctx: Context, survey_id: int, *, edit: bool = False) -> None:
    res = await surveys.results(ctx.session, survey_id=survey_id, person=ctx.person)
    t = ctx.t
    buttons = [[ctx.button(t._("Export CSV"), ExportResults(survey_id, "csv")),
                ctx.button(t._("Export Excel"), ExportResults(survey_id, "xlsx"))]]
    if any(d.QuestionKind(q.question.kind) is d.QuestionKind.TEXT and q.summary.answered for q in res.questions):
        buttons.append([ctx.button(t._("Answers to the agenda or as issues"), ShowWrittenAnswers(survey_id))])
    if res.survey.status == "open":
        buttons.append([ctx.button(t._("Close the survey"), CloseSurvey(survey_id))])
    await ctx.reply(results_text(t, res), buttons, edit=edit)

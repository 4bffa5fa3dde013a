"""/surveys: answer a forum's survey, send one from a template, see and export the results.

Every answer is saved the moment it is given; answering again replaces it (the later answer counts).
"""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.domain import surveys as d
from bot.i18n import N_, Raw, Translator
from bot.services import notify, people, surveys
from bot.services.agenda_text import quoted
from bot.services.errors import Forbidden
from bot.storage.models import Forum
from bot.storage.models_keshet import Survey, SurveyQuestion
from handlers.common import forum_title

TEXT_FLOW = "svtext"
NEW_FLOW = "svnew"
KIND_HINTS = {
    d.QuestionKind.SINGLE: N_("(choose one)"),
    d.QuestionKind.MULTI: N_("(choose all that apply, then press “Next”)"),
    d.QuestionKind.SCALE: N_("(1 to 5)"),
    d.QuestionKind.TEXT: N_("(type your answer)"),
}


def label(t: Translator, survey: Survey, text: str) -> str:
    return surveys.text_of(t, survey, text)


# --------------------------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------------------------


async def show_question(ctx: Context, survey: Survey, question: SurveyQuestion, *, edit: bool) -> None:
    """One question with the person's current answer marked; a text question waits for typing."""
    t = ctx.t
    forum = await ctx.session.get(Forum, survey.forum_id)
    assert forum is not None
    membership = await surveys.respondent_seat(ctx.session, ctx.person, forum)
    current = (await surveys.answers_of(ctx.session, survey.id, membership.id)).get(question.id)
    total = len(await surveys.questions_of(ctx.session, survey.id))
    kind = d.QuestionKind(question.kind)
    lines = [
        t._(
            "{title} · question {n} of {total}", title=label(t, survey, survey.title), n=question.position, total=total
        ),
        "",
        label(t, survey, question.text),
        t._(KIND_HINTS[kind]),
    ]
    options = [label(t, survey, o) for o in question.options]
    buttons = []
    if kind is d.QuestionKind.SINGLE:
        chosen = (current or {}).get("choice")
        buttons = [
            [ctx.button(("✓ " if chosen == i else "") + option, f"sva:{question.id}:{i}")]
            for i, option in enumerate(options)
        ]
    elif kind is d.QuestionKind.MULTI:
        chosen_set = set((current or {}).get("choices", []))
        buttons = [
            [
                ctx.button(
                    ("☑ " if i in chosen_set else "☐ ") + option, f"svm:{question.id}:{i}:{int(i not in chosen_set)}"
                )
            ]
            for i, option in enumerate(options)
        ]
    elif kind is d.QuestionKind.SCALE:
        point = (current or {}).get("scale")
        buttons = [[ctx.button(("✓" if point == n else "") + t.number(n), f"sva:{question.id}:{n}") for n in d.SCALE]]
    else:
        if current and current.get("text"):
            lines += ["", t._("Your answer so far: {answer}", answer=current["text"])]
        await ctx.set_state(TEXT_FLOW, "answer", question=question.id)
    if kind is not d.QuestionKind.TEXT and ctx.state is not None and ctx.state.flow == TEXT_FLOW:
        await ctx.clear_state()
    nav = t._("Next") if kind is d.QuestionKind.MULTI or current else t._("Skip")
    buttons.append([ctx.button(nav, f"svn:{question.id}")])
    await ctx.reply("\n".join(lines), buttons, edit=edit)


async def after(ctx: Context, question: SurveyQuestion, *, edit: bool) -> None:
    """Move on from ``question``: the next one, or the end of the survey."""
    survey = await ctx.session.get(Survey, question.survey_id)
    assert survey is not None
    nxt = await surveys.next_question(ctx.session, survey.id, question.position)
    if nxt is not None:
        await show_question(ctx, survey, nxt, edit=edit)
        return
    if ctx.state is not None and ctx.state.flow == TEXT_FLOW:
        await ctx.clear_state()
    forum = await ctx.session.get(Forum, survey.forum_id)
    assert forum is not None
    membership = await surveys.respondent_seat(ctx.session, ctx.person, forum)
    await surveys.complete(ctx.session, survey_id=survey.id, membership_id=membership.id, now=ctx.now)
    await ctx.reply(
        ctx.t._("Thank you! Your answers were saved. You can change them while the survey is open: send /surveys."),
        edit=edit,
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


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
    buttons = [
        [
            ctx.button(t._("Export CSV"), f"svx:{survey_id}:csv"),
            ctx.button(t._("Export Excel"), f"svx:{survey_id}:xlsx"),
        ]
    ]
    if any(d.QuestionKind(q.question.kind) is d.QuestionKind.TEXT and q.summary.answered for q in res.questions):
        buttons.append([ctx.button(t._("Answers to the agenda or as issues"), f"svp:{survey_id}")])
    if res.survey.status == "open":
        buttons.append([ctx.button(t._("Close the survey"), f"svc:{survey_id}")])
    await ctx.reply(results_text(t, res), buttons, edit=edit)


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


def build() -> Router:
    router = Router("surveys")

    @router.command("surveys", N_("Surveys: answer, send, see the results"), audience="registered")
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
                buttons.append([ctx.button(t._("Answer: {title}", title=title), f"svo:{item.survey.id}")])
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
                    buttons.append([ctx.button(t._("Results: {title}", title=title), f"svr:{survey.id}")])
            buttons.append([ctx.button(t._("Send a new survey"), "svnew:")])
        await ctx.reply("\n".join(lines), buttons)

    @router.action("svo")
    async def open_survey(ctx: Context) -> None:
        survey, forum = await surveys.get_survey(ctx.session, int(ctx.value))
        await surveys.respondent_seat(ctx.session, ctx.person, forum)
        if survey.status != "open":
            await ctx.reply(ctx.t._(surveys.CLOSED))
            return
        first = await surveys.next_question(ctx.session, survey.id, 0)
        if first is None:
            return
        await show_question(ctx, survey, first, edit=False)

    @router.action("sva")
    async def answer_choice(ctx: Context) -> None:
        question_id, _, value = ctx.value.partition(":")
        question = await ctx.session.get(SurveyQuestion, int(question_id))
        if question is None:
            raise Forbidden(surveys.MEMBERS_ONLY)
        key = "scale" if question.kind == d.QuestionKind.SCALE.value else "choice"
        at = await surveys.answer(
            ctx.session, question_id=question.id, person=ctx.person, value={key: int(value)}, now=ctx.now
        )
        await after(ctx, at.question, edit=True)

    @router.action("svm")
    async def answer_multi(ctx: Context) -> None:
        question_id, option, on = (int(x) for x in ctx.value.split(":"))
        at = await surveys.set_choice(
            ctx.session, question_id=question_id, person=ctx.person, option=option, on=bool(on), now=ctx.now
        )
        await show_question(ctx, at.survey, at.question, edit=True)

    @router.action("svn")
    async def next_(ctx: Context) -> None:
        at = await surveys.question_for(ctx.session, int(ctx.value), ctx.person)
        await after(ctx, at.question, edit=True)

    @router.step(TEXT_FLOW, "answer")
    async def answer_text(ctx: Context) -> None:
        assert ctx.state is not None
        at = await surveys.answer(
            ctx.session,
            question_id=int(ctx.state.data["question"]),
            person=ctx.person,
            value={"text": ctx.text},
            now=ctx.now,
        )
        await ctx.clear_state()
        await after(ctx, at.question, edit=False)

    # -- sending -------------------------------------------------------------------------------

    @router.action("svnew")
    async def new_survey(ctx: Context) -> None:
        assert ctx.person is not None
        seats = [s for s in await people.seats_of(ctx.session, ctx.person.id) if s.is_lead]
        if not seats:
            raise Forbidden(surveys.LEADS_ONLY)
        if len(seats) == 1:
            await choose_template(ctx, seats[0].forum)
            return
        await ctx.reply(
            ctx.t._("Which forum is the survey for?"),
            [[ctx.button(forum_title(ctx.t, s.forum, s.unit), f"svnf:{s.forum.id}")] for s in seats],
        )

    async def choose_template(ctx: Context, forum: Forum) -> None:
        await surveys.require_lead(ctx.session, ctx.person, forum)
        rows = [
            [ctx.button(ctx.t._(template.title), f"svnt:{forum.id}:{template.key}")]
            for template in await surveys.templates_for(ctx.session, forum)
        ]
        if not rows:
            await ctx.reply(ctx.t._("There is no ready survey for this forum yet."))
            return
        await ctx.reply(ctx.t._("Which survey?"), rows)

    @router.action("svnf")
    async def new_survey_forum(ctx: Context) -> None:
        forum = await ctx.session.get(Forum, int(ctx.value))
        if forum is None:
            raise Forbidden(surveys.LEADS_ONLY)
        await choose_template(ctx, forum)

    @router.action("svnt")
    async def new_survey_template(ctx: Context) -> None:
        forum_id, _, key = ctx.value.partition(":")
        forum = await ctx.session.get(Forum, int(forum_id))
        if forum is None or key not in d.TEMPLATES:
            raise Forbidden(surveys.LEADS_ONLY)
        await ctx.session.refresh(forum, ["org_unit"])
        await surveys.require_lead(ctx.session, ctx.person, forum)
        template = d.TEMPLATES[key]
        members = len(await notify.member_ids(ctx.session, forum.id))
        await ctx.set_state(NEW_FLOW, "confirm", forum=forum.id, template=key, request=surveys.new_request_key())
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
        await ctx.reply(
            text,
            [
                [
                    ctx.step_button(ctx.t._("Send"), NEW_FLOW, "confirm", "yes"),
                    ctx.step_button(ctx.t._("Cancel"), NEW_FLOW, "confirm", "no"),
                ]
            ],
        )

    @router.step(NEW_FLOW, "confirm")
    async def new_survey_confirm(ctx: Context) -> None:
        assert ctx.state is not None
        data = dict(ctx.state.data)
        if ctx.value != "yes":
            await ctx.clear_state()
            if ctx.value == "no":
                await ctx.reply(ctx.t._("Cancelled."), edit=True)
            else:
                await ctx.reply(ctx.t._("Nothing was sent."))
            return
        forum = await ctx.session.get(Forum, int(data["forum"]))
        assert forum is not None
        await ctx.clear_state()
        survey = await surveys.create_from_template(
            ctx.session,
            forum=forum,
            template=data["template"],
            now=ctx.now,
            request_key=data["request"],
            by_person=ctx.person,
        )
        if survey is None:
            await ctx.reply(ctx.t._("This survey was already sent."), edit=True)
            return
        reached = await surveys.send_survey(ctx.session, survey, now=ctx.now, tz=ctx.app.settings.tz)
        await ctx.reply(
            ctx.t.n_("Sent to one member.", "Sent to {n} members.", reached),
            [[ctx.button(ctx.t._("Results: {title}", title=label(ctx.t, survey, survey.title)), f"svr:{survey.id}")]],
            edit=True,
        )

    # -- results ------------------------------------------------------------------------------

    @router.action("svr")
    async def results(ctx: Context) -> None:
        await show_results(ctx, int(ctx.value))

    @router.action("svx")
    async def export(ctx: Context) -> None:
        survey_id, _, fmt = ctx.value.partition(":")
        made = await surveys.export(ctx.session, survey_id=int(survey_id), fmt=fmt, t=ctx.t, person=ctx.person)
        await ctx.reply_file(
            made.name, made.mime, made.data, ctx.t._("The survey's answers, one row per respondent."), made.ascii_name
        )

    @router.action("svc")
    async def close(ctx: Context) -> None:
        await surveys.close_survey(ctx.session, survey_id=int(ctx.value), person=ctx.person, now=ctx.now)
        await ctx.reply(ctx.t._("The survey is closed; it no longer accepts answers."))
        await show_results(ctx, int(ctx.value))

    @router.action("svp")
    async def promotable(ctx: Context) -> None:
        listed, total = await surveys.text_answers(ctx.session, survey_id=int(ctx.value), person=ctx.person)
        if not listed:
            await ctx.reply(ctx.t._("No answers yet."))
            return
        survey = await ctx.session.get(Survey, int(ctx.value))
        assert survey is not None
        if total > len(listed):
            await ctx.reply(ctx.t._("The {shown} newest of {total} written answers:", shown=len(listed), total=total))
        for answer, question in listed:
            await ctx.reply(
                f"{quoted(ctx.t, answer.value['text'])}\n— {label(ctx.t, survey, question.text)}",
                [
                    [
                        ctx.button(ctx.t._("To the agenda"), f"svpa:{answer.id}:agenda"),
                        ctx.button(ctx.t._("Raise as an issue"), f"svpa:{answer.id}:issue"),
                    ]
                ],
            )

    @router.action("svpa")
    async def promote(ctx: Context) -> None:
        answer_id, _, target = ctx.value.partition(":")
        promotion, created = await surveys.promote_answer(ctx.session, int(answer_id), target, ctx.person, ctx.now)
        if not created:
            text = (
                ctx.t._("This answer was already sent to the agenda.")
                if target == "agenda"
                else ctx.t._("This answer was already raised as an issue.")
            )
        elif promotion.status == "delivered":
            text = (
                ctx.t._("Added to the forum's agenda.")
                if target == "agenda"
                else ctx.t._("Raised as the forum's issue.")
            )
        else:
            text = (
                ctx.t._("Saved for the agenda: it will be added as soon as the agenda can take it.")
                if target == "agenda"
                else ctx.t._("Saved as an issue: it will be raised as soon as the issues list can take it.")
            )
        await ctx.reply(f"{quoted(ctx.t, promotion.text)}\n\n{text}", edit=True)

    return router

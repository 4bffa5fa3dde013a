"""What the surveys' buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the invitation (bot.services.surveys.answers) that carries "Answer the survey" to a member."""

from __future__ import annotations

from bot.core.actions import Action


class OpenSurvey(Action, name="surveys.open", was=("svo",)):
    """Start (or go on) answering a survey: its first question."""

    survey_id: int


class AnswerChoice(Action, name="surveys.answer"):
    """A single-choice option (its index) or a point on the scale."""

    question_id: int
    value: int


class ToggleChoice(Action, name="surveys.toggle"):
    """One option of a multiple-choice question, ticked (``on``) or unticked."""

    question_id: int
    option: int
    on: bool


class NextQuestion(Action, name="surveys.next"):
    """"Next" or "Skip": move on from a question."""

    question_id: int


class NewSurvey(Action, name="surveys.new"):
    """A lead sends a survey: which forum (if they lead several), then which template."""


class NewSurveyFor(Action, name="surveys.new_for"):
    """The forum picked for a new survey."""

    forum_id: int


class ChooseTemplate(Action, name="surveys.template"):
    """The template picked for the new survey: its preview, to confirm before it is sent."""

    forum_id: int
    key: str  # bot.domain.surveys.TEMPLATES


class ShowResults(Action, name="surveys.results"):
    """A lead's "Results: …" of a survey (from /surveys and after sending it)."""

    survey_id: int


class ExportResults(Action, name="surveys.export"):
    """"Export CSV" or "Export Excel" under the results: one row per respondent."""

    survey_id: int
    fmt: str  # "csv" or "xlsx"


class CloseSurvey(Action, name="surveys.close"):
    """The lead's "Close the survey": it accepts no more answers; the results follow."""

    survey_id: int


class ShowWrittenAnswers(Action, name="surveys.written"):
    """The written answers, each with buttons to send it to the agenda or raise it as an issue."""

    survey_id: int


class PromoteAnswer(Action, name="surveys.promote"):
    """A written answer's "To the agenda" or "Raise as an issue" (once per answer and target)."""

    answer_id: int
    target: str  # "agenda" or "issue"

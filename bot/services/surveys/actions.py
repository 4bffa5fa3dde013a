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
    forum_id: int
    key: str  # bot.domain.surveys.TEMPLATES


class ShowResults(Action, name="surveys.results"):
    survey_id: int


class ExportResults(Action, name="surveys.export"):
    survey_id: int
    fmt: str  # "csv" or "xlsx"


class CloseSurvey(Action, name="surveys.close"):
    survey_id: int


class ShowWrittenAnswers(Action, name="surveys.written"):
    """The written answers, each with buttons to send it to the agenda or raise it as an issue."""

    survey_id: int


class PromoteAnswer(Action, name="surveys.promote"):
    answer_id: int
    target: str  # "agenda" or "issue"

"""What the surveys' buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the invitation (bot.services.surveys.answers) that carries "Answer the survey" to a member."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("surveys.open", was=("svo",))
@dataclass(frozen=True)
class OpenSurvey(Action):
    """Start (or go on) answering a survey: its first question."""

    survey_id: int


@action("surveys.answer")
@dataclass(frozen=True)
class AnswerChoice(Action):
    """A single-choice option (its index) or a point on the scale."""

    question_id: int
    value: int


@action("surveys.toggle")
@dataclass(frozen=True)
class ToggleChoice(Action):
    """One option of a multiple-choice question, ticked (``on``) or unticked."""

    question_id: int
    option: int
    on: bool


@action("surveys.next")
@dataclass(frozen=True)
class NextQuestion(Action):
    """"Next" or "Skip": move on from a question."""

    question_id: int


@action("surveys.new")
@dataclass(frozen=True)
class NewSurvey(Action):
    """A lead sends a survey: which forum (if they lead several), then which template."""


@action("surveys.new_for")
@dataclass(frozen=True)
class NewSurveyFor(Action):
    """The forum picked for a new survey."""

    forum_id: int


@action("surveys.template")
@dataclass(frozen=True)
class ChooseTemplate(Action):
    forum_id: int
    key: str  # bot.domain.surveys.TEMPLATES


@action("surveys.results")
@dataclass(frozen=True)
class ShowResults(Action):
    survey_id: int


@action("surveys.export")
@dataclass(frozen=True)
class ExportResults(Action):
    survey_id: int
    fmt: str  # "csv" or "xlsx"


@action("surveys.close")
@dataclass(frozen=True)
class CloseSurvey(Action):
    survey_id: int


@action("surveys.written")
@dataclass(frozen=True)
class ShowWrittenAnswers(Action):
    """The written answers, each with buttons to send it to the agenda or raise it as an issue."""

    survey_id: int


@action("surveys.promote")
@dataclass(frozen=True)
class PromoteAnswer(Action):
    answer_id: int
    target: str  # "agenda" or "issue"

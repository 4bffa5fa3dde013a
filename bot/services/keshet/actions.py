"""What the partnership's (KeShet) buttons mean: declared actions (bot.core.actions), shared by the
handlers that answer them (handlers/keshet.py) and the notices that carry them to the partners
(bot.services.keshet.process: a stage recorded, the fields ready to score, a self-assessment question)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action

# -- the partnership -----------------------------------------------------------------------------


@action("keshet.open")
@dataclass(frozen=True)
class OpenPartnership(Action):
    """An authority's lead opens its partnership (the forum is the authority's partners forum)."""

    forum_id: int


@action("keshet.hub")
@dataclass(frozen=True)
class ShowHub(Action):
    """The partnership's front page (also "Back to the partnership")."""

    forum_id: int


# -- the process ---------------------------------------------------------------------------------


@action("keshet.timeline", was=("kstl",))
@dataclass(frozen=True)
class ShowTimeline(Action):
    forum_id: int


@action("keshet.choose_stage")
@dataclass(frozen=True)
class ChooseStage(Action):
    """The lead records progress: which stage."""

    forum_id: int


@action("keshet.stage")
@dataclass(frozen=True)
class StageChosen(Action):
    forum_id: int
    stage: str  # a k.Stage value


# -- choosing the field of action ----------------------------------------------------------------


@action("keshet.fields")
@dataclass(frozen=True)
class ShowFields(Action):
    forum_id: int


@action("keshet.add_field")
@dataclass(frozen=True)
class AddField(Action):
    forum_id: int


@action("keshet.add_suggested")
@dataclass(frozen=True)
class AddSuggestedField(Action):
    forum_id: int
    key: str  # a k.SUGGESTED_FIELDS key


@action("keshet.type_field")
@dataclass(frozen=True)
class TypeField(Action):
    forum_id: int


@action("keshet.ask_remove_field")
@dataclass(frozen=True)
class AskRemoveField(Action):
    forum_id: int


@action("keshet.remove_field")
@dataclass(frozen=True)
class RemoveField(Action):
    candidate_id: int


@action("keshet.weights")
@dataclass(frozen=True)
class ShowWeights(Action):
    forum_id: int


@action("keshet.ask_weight")
@dataclass(frozen=True)
class AskWeight(Action):
    forum_id: int
    criterion: str  # a k.Criterion value


@action("keshet.set_weight")
@dataclass(frozen=True)
class SetWeight(Action):
    forum_id: int
    criterion: str  # a k.Criterion value
    weight: int


@action("keshet.announce_fields")
@dataclass(frozen=True)
class AnnounceFields(Action):
    forum_id: int


@action("keshet.score_fields", was=("ksfs",))
@dataclass(frozen=True)
class ScoreFields(Action):
    """Which field will you score (from the hub's ranking and from the "fields are ready" notice)."""

    forum_id: int


@action("keshet.score_field")
@dataclass(frozen=True)
class ScoreField(Action):
    candidate_id: int


@action("keshet.set_score")
@dataclass(frozen=True)
class SetScore(Action):
    """One criterion's score (0: skipped), then the next criterion; index len(CRITERIA) finishes."""

    candidate_id: int
    index: int
    score: int


# -- the inputs ledger ---------------------------------------------------------------------------


@action("keshet.inputs")
@dataclass(frozen=True)
class ShowInputs(Action):
    forum_id: int


@action("keshet.ask_input_kind")
@dataclass(frozen=True)
class AskInputKind(Action):
    forum_id: int


@action("keshet.input_kind")
@dataclass(frozen=True)
class InputKindChosen(Action):
    forum_id: int
    kind: str  # a k.InputKind value


@action("keshet.ask_remove_input")
@dataclass(frozen=True)
class AskRemoveInput(Action):
    forum_id: int


@action("keshet.remove_input")
@dataclass(frozen=True)
class RemoveInput(Action):
    input_id: int


# -- the self-assessment -------------------------------------------------------------------------


@action("keshet.assessment")
@dataclass(frozen=True)
class ShowAssessment(Action):
    forum_id: int


@action("keshet.open_round")
@dataclass(frozen=True)
class OpenRound(Action):
    """Send a round now; ``after_number`` is the round the lead saw (a double press opens one)."""

    forum_id: int
    after_number: int


@action("keshet.ask_frequency")
@dataclass(frozen=True)
class AskFrequency(Action):
    forum_id: int


@action("keshet.set_frequency")
@dataclass(frozen=True)
class SetFrequency(Action):
    forum_id: int
    months: int


@action("keshet.answer_round")
@dataclass(frozen=True)
class AnswerRound(Action):
    """Answer (or change the answers of) a round, from its first question."""

    round_id: int


@action("keshet.answer", was=("kasa",))
@dataclass(frozen=True)
class AnswerQuestion(Action):
    round_id: int
    question: int
    yes: bool

"""What the partnership's (KeShet) buttons mean: declared actions (bot.core.actions), shared by the
handlers that answer them (handlers/keshet.py) and the notices that carry them to the partners
(bot.services.keshet.process: a stage recorded, the fields ready to score, a self-assessment question)."""

from __future__ import annotations

from bot.core.actions import Action

# -- the partnership -----------------------------------------------------------------------------


class OpenPartnership(Action, name="keshet.open"):
    """An authority's lead opens its partnership (the forum is the authority's partners forum)."""

    forum_id: int


class ShowHub(Action, name="keshet.hub"):
    """The partnership's front page (also "Back to the partnership")."""

    forum_id: int


# -- the process ---------------------------------------------------------------------------------


class ShowTimeline(Action, name="keshet.timeline", was=("kstl",)):
    """The hub's "The process and its timeline" (also in the notice of a stage recorded)."""

    forum_id: int


class ChooseStage(Action, name="keshet.choose_stage"):
    """The lead records progress: which stage."""

    forum_id: int


class StageChosen(Action, name="keshet.stage"):
    """The stage picked after "Record progress": asks when it happened."""

    forum_id: int
    stage: str  # a k.Stage value


# -- choosing the field of action ----------------------------------------------------------------


class ShowFields(Action, name="keshet.fields"):
    """The hub's "Choosing the field of action": the candidate fields, ranked, with what one may do."""

    forum_id: int


class AddField(Action, name="keshet.add_field"):
    """The lead adds a candidate field: the suggested ones not listed yet, or "Another field (type it)"."""

    forum_id: int


class AddSuggestedField(Action, name="keshet.add_suggested"):
    """One of those suggested fields, added."""

    forum_id: int
    key: str  # a k.SUGGESTED_FIELDS key


class TypeField(Action, name="keshet.type_field"):
    """"Another field (type it)": asks for its name in a message."""

    forum_id: int


class AskRemoveField(Action, name="keshet.ask_remove_field"):
    """The lead's "Remove a field": one button a listed candidate."""

    forum_id: int


class RemoveField(Action, name="keshet.remove_field"):
    """That candidate, removed from the list."""

    candidate_id: int


class ShowWeights(Action, name="keshet.weights"):
    """The lead's "Weigh the criteria": each criterion with its weight."""

    forum_id: int


class AskWeight(Action, name="keshet.ask_weight"):
    """One criterion picked: its weights 0 to k.MAX_WEIGHT, one button each."""

    forum_id: int
    criterion: str  # a k.Criterion value


class SetWeight(Action, name="keshet.set_weight"):
    """The weight picked for that criterion."""

    forum_id: int
    criterion: str  # a k.Criterion value
    weight: int


class AnnounceFields(Action, name="keshet.announce_fields"):
    """The lead tells the partners that the fields are ready to score (once for the same list)."""

    forum_id: int


class ScoreFields(Action, name="keshet.score_fields", was=("ksfs",)):
    """Which field will you score (from the hub's ranking and from the "fields are ready" notice)."""

    forum_id: int


class ScoreField(Action, name="keshet.score_field"):
    """The field picked to score: its first criterion."""

    candidate_id: int


class SetScore(Action, name="keshet.set_score"):
    """One criterion's score (0: skipped), then the next criterion; index len(CRITERIA) finishes."""

    candidate_id: int
    index: int
    score: int


# -- the inputs ledger ---------------------------------------------------------------------------


class ShowInputs(Action, name="keshet.inputs"):
    """The hub's "What each partner brings": the inputs ledger."""

    forum_id: int


class AskInputKind(Action, name="keshet.ask_input_kind"):
    """A partner's "Record what we bring": which kind of input."""

    forum_id: int


class InputKindChosen(Action, name="keshet.input_kind"):
    """The kind picked: asks to describe the input in a sentence."""

    forum_id: int
    kind: str  # a k.InputKind value


class AskRemoveInput(Action, name="keshet.ask_remove_input"):
    """A partner's "Remove an input I recorded": one button an input of their own."""

    forum_id: int


class RemoveInput(Action, name="keshet.remove_input"):
    """That input, removed from the ledger."""

    input_id: int


# -- the self-assessment -------------------------------------------------------------------------


class ShowAssessment(Action, name="keshet.assessment"):
    """The self-assessment page (from the hub, after one's last answer, and in the verdict notice)."""

    forum_id: int


class OpenRound(Action, name="keshet.open_round"):
    """Send a round now; ``after_number`` is the round the lead saw (a double press opens one)."""

    forum_id: int
    after_number: int


class AskFrequency(Action, name="keshet.ask_frequency"):
    """The lead's "How often" the rounds are sent: one button a choice of months."""

    forum_id: int


class SetFrequency(Action, name="keshet.set_frequency"):
    """The choice picked (k.EVERY_MONTHS_CHOICES); the next round's date follows from it."""

    forum_id: int
    months: int


class AnswerRound(Action, name="keshet.answer_round"):
    """Answer (or change the answers of) a round, from its first question."""

    round_id: int


class AnswerQuestion(Action, name="keshet.answer", was=("kasa",)):
    """A round's Yes or No to one question; then the next question, or thanks at the end."""

    round_id: int
    question: int
    yes: bool

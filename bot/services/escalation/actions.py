"""What the escalation buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices and digests (bot.services.escalation.forwarding, escalation_digest) that carry them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("escalation.escalate_issue", was=("escu",))
@dataclass(frozen=True)
class EscalateIssue(Action):
    """From an issue's card: send it to the forum above."""

    issue_id: int


@action("escalation.gap", was=("escg",))
@dataclass(frozen=True)
class ShowGap(Action):
    """A gap's card, from a digest or a notice."""

    gap_id: int


@action("escalation.acknowledge", was=("esca",))
@dataclass(frozen=True)
class AcknowledgeGap(Action):
    gap_id: int


@action("escalation.ask_owner", was=("esco",))
@dataclass(frozen=True)
class AskOwner(Action):
    gap_id: int


@action("escalation.set_owner", was=("escO",))
@dataclass(frozen=True)
class SetOwner(Action):
    gap_id: int
    person_id: int


@action("escalation.ask_answer", was=("escr",))
@dataclass(frozen=True)
class AskAnswer(Action):
    gap_id: int


@action("escalation.forward", was=("escf",))
@dataclass(frozen=True)
class ForwardGap(Action):
    gap_id: int


@action("escalation.announce_from", was=("anf",))
@dataclass(frozen=True)
class AnnounceFrom(Action):
    """/announce, the forum picked."""

    forum_id: int

"""What the escalation buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices and digests (bot.services.escalation.forwarding, escalation_digest) that carry them."""

from __future__ import annotations

from bot.core.actions import Action


class EscalateIssue(Action, name="escalation.escalate_issue", was=("escu",)):
    """From an issue's card: send it to the forum above."""

    issue_id: int


class ShowGap(Action, name="escalation.gap", was=("escg",)):
    """A gap's card, from a digest or a notice."""

    gap_id: int


class AcknowledgeGap(Action, name="escalation.acknowledge", was=("esca",)):
    """An open gap's "Acknowledge": the coordinators have seen it."""

    gap_id: int


class AskOwner(Action, name="escalation.ask_owner", was=("esco",)):
    """An open gap's "Put someone in charge": one button a member of the gap's forum."""

    gap_id: int


class SetOwner(Action, name="escalation.set_owner", was=("escO",)):
    """The member picked to be in charge of the gap."""

    gap_id: int
    person_id: int


class AskAnswer(Action, name="escalation.ask_answer", was=("escr",)):
    """An open gap's "Answer": asks for the text, which goes to the forums below and the raiser."""

    gap_id: int


class ForwardGap(Action, name="escalation.forward", was=("escf",)):
    """An open gap's "Escalate to …": on to the forum above the gap's own."""

    gap_id: int


class AnnounceFrom(Action, name="escalation.announce_from", was=("anf",)):
    """/announce, the forum picked."""

    forum_id: int

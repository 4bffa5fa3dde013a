"""What the agenda's buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices (bot.services.agenda.items) that carry them to a lead."""

from __future__ import annotations

from bot.core.actions import Action


class ShowAgenda(Action, name="agenda.show", was=("agf",)):
    """/agenda, the forum picked: the coming meeting's agenda, with what this person may do there."""

    forum_id: int


class ProposeItem(Action, name="agenda.propose", was=("agprop",)):
    """A member proposes an item (a lead's own goes straight onto the agenda): asks for its title."""

    forum_id: int


class ShowPending(Action, name="agenda.pending", was=("agpend",)):
    """The lead's "N proposals are waiting": each one, with Accept and Decline."""

    forum_id: int


class AcceptItem(Action, name="agenda.accept", was=("agacc",)):
    """The lead puts a proposal on the agenda (from the waiting list or the notice of a new one)."""

    item_id: int


class DeclineItem(Action, name="agenda.decline", was=("agdec",)):
    """The lead turns a proposal down: asks for the reason, which the proposer will see."""

    item_id: int


class ShowOrder(Action, name="agenda.order", was=("agord",)):
    """The lead's "Change the order": the items, each with ▲ and ▼."""

    forum_id: int


class MoveItem(Action, name="agenda.move"):
    """▲ or ▼ beside an item: one place up or down the agenda."""

    item_id: int
    delta: int  # -1 up, +1 down


class AskMeetingDate(Action, name="agenda.ask_date", was=("agdate",)):
    """The lead's "Set the meeting date": asks for the date and time in a message."""

    forum_id: int


class AskIntake(Action, name="agenda.ask_intake", was=("agcut",)):
    """The lead's "When intake closes": how long before the meeting, one button a choice."""

    forum_id: int


class SetIntake(Action, name="agenda.set_intake", was=("agcuth",)):
    """One of those choices (bot.domain.agenda.INTAKE_CHOICES)."""

    forum_id: int
    hours: int

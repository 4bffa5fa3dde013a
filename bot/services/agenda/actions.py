"""What the agenda's buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices (bot.services.agenda.items) that carry them to a lead."""

from __future__ import annotations

from bot.core.actions import Action


class ShowAgenda(Action, name="agenda.show", was=("agf",)):
    forum_id: int


class ProposeItem(Action, name="agenda.propose", was=("agprop",)):
    forum_id: int


class ShowPending(Action, name="agenda.pending", was=("agpend",)):
    forum_id: int


class AcceptItem(Action, name="agenda.accept", was=("agacc",)):
    item_id: int


class DeclineItem(Action, name="agenda.decline", was=("agdec",)):
    item_id: int


class ShowOrder(Action, name="agenda.order", was=("agord",)):
    forum_id: int


class MoveItem(Action, name="agenda.move"):
    item_id: int
    delta: int  # -1 up, +1 down


class AskMeetingDate(Action, name="agenda.ask_date", was=("agdate",)):
    forum_id: int


class AskIntake(Action, name="agenda.ask_intake", was=("agcut",)):
    forum_id: int


class SetIntake(Action, name="agenda.set_intake", was=("agcuth",)):
    forum_id: int
    hours: int

"""What the agenda's buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices (bot.services.agenda.items) that carry them to a lead."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("agenda.show", was=("agf",))
@dataclass(frozen=True)
class ShowAgenda(Action):
    forum_id: int


@action("agenda.propose", was=("agprop",))
@dataclass(frozen=True)
class ProposeItem(Action):
    forum_id: int


@action("agenda.pending", was=("agpend",))
@dataclass(frozen=True)
class ShowPending(Action):
    forum_id: int


@action("agenda.accept", was=("agacc",))
@dataclass(frozen=True)
class AcceptItem(Action):
    item_id: int


@action("agenda.decline", was=("agdec",))
@dataclass(frozen=True)
class DeclineItem(Action):
    item_id: int


@action("agenda.order", was=("agord",))
@dataclass(frozen=True)
class ShowOrder(Action):
    forum_id: int


@action("agenda.move")
@dataclass(frozen=True)
class MoveItem(Action):
    item_id: int
    delta: int  # -1 up, +1 down


@action("agenda.ask_date", was=("agdate",))
@dataclass(frozen=True)
class AskMeetingDate(Action):
    forum_id: int


@action("agenda.ask_intake", was=("agcut",))
@dataclass(frozen=True)
class AskIntake(Action):
    forum_id: int


@action("agenda.set_intake", was=("agcuth",))
@dataclass(frozen=True)
class SetIntake(Action):
    forum_id: int
    hours: int

"""What the agenda's buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them and the notices (bot.services.agenda) that carry them to a lead."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("agenda.show")
@dataclass(frozen=True)
class ShowAgenda(Action):
    forum_id: int


@action("agenda.propose")
@dataclass(frozen=True)
class ProposeItem(Action):
    forum_id: int


@action("agenda.pending")
@dataclass(frozen=True)
class ShowPending(Action):
    forum_id: int


@action("agenda.accept")
@dataclass(frozen=True)
class AcceptItem(Action):
    item_id: int


@action("agenda.decline")
@dataclass(frozen=True)
class DeclineItem(Action):
    item_id: int


@action("agenda.order")
@dataclass(frozen=True)
class ShowOrder(Action):
    forum_id: int


@action("agenda.move")
@dataclass(frozen=True)
class MoveItem(Action):
    item_id: int
    delta: int  # -1 up, +1 down


@action("agenda.ask_date")
@dataclass(frozen=True)
class AskMeetingDate(Action):
    forum_id: int


@action("agenda.ask_intake")
@dataclass(frozen=True)
class AskIntake(Action):
    forum_id: int


@action("agenda.set_intake")
@dataclass(frozen=True)
class SetIntake(Action):
    forum_id: int
    hours: int

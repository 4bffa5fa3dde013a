"""What the date polls' buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them (handlers/polls.py) and the messages that carry them (bot.services.meetings.polls: the ballot, the
lead's notices; bot.services.meetings.schedule: the nudge to open a poll). ``was`` names each one's earlier
payload prefix: ballots and notices already in people's chats keep working after a deploy."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions import Action, action


@action("polls.open", was=("dpn",))
@dataclass(frozen=True)
class OpenPoll(Action):
    """Start a date poll for this forum (the forum picked at /poll, or the lead's nudge)."""

    forum_id: int


@action("polls.vote", was=("dpv",))
@dataclass(frozen=True)
class Vote(Action):
    """A ballot button: choose (``want``) or take back one date; option NONE_OPTION is "none works"."""

    poll_id: int
    option_id: int
    want: bool


@action("polls.results", was=("dpr",))
@dataclass(frozen=True)
class ShowResults(Action):
    poll_id: int


@action("polls.close", was=("dpx",))
@dataclass(frozen=True)
class ClosePoll(Action):
    """Close the voting now (before the deadline)."""

    poll_id: int


@action("polls.confirm", was=("dpc",))
@dataclass(frozen=True)
class ConfirmDate(Action):
    """The lead's decision: the meeting is on this option's date."""

    poll_id: int
    option_id: int


@action("polls.other_date", was=("dpo",))
@dataclass(frozen=True)
class ChooseOtherDate(Action):
    """List every date still ahead, to confirm one other than the proposal."""

    poll_id: int


@action("polls.set_no_meeting", was=("dpd",))
@dataclass(frozen=True)
class SetNoMeeting(Action):
    poll_id: int

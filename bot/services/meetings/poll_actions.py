"""What the date polls' buttons mean: declared actions (bot.core.actions), shared by the handlers that
answer them (handlers/polls.py) and the messages that carry them (bot.services.meetings.polls: the ballot, the
lead's notices; bot.services.meetings.schedule: the nudge to open a poll). ``was`` names each one's earlier
payload prefix: ballots and notices already in people's chats keep working after a deploy."""

from __future__ import annotations

from bot.core.actions import Action


class OpenPoll(Action, name="polls.open", was=("dpn",)):
    """Start a date poll for this forum (the forum picked at /poll, or the lead's nudge)."""

    forum_id: int


class Vote(Action, name="polls.vote", was=("dpv",)):
    """A ballot button: choose (``want``) or take back one date; option NONE_OPTION is "none works"."""

    poll_id: int
    option_id: int
    want: bool


class ShowResults(Action, name="polls.results", was=("dpr",)):
    """The lead's "Results" of a poll, open or closed (with "Close the poll now" while it is open)."""

    poll_id: int


class ClosePoll(Action, name="polls.close", was=("dpx",)):
    """Close the voting now (before the deadline)."""

    poll_id: int


class ConfirmDate(Action, name="polls.confirm", was=("dpc",)):
    """The lead's decision: the meeting is on this option's date."""

    poll_id: int
    option_id: int


class ChooseOtherDate(Action, name="polls.other_date", was=("dpo",)):
    """List every date still ahead, to confirm one other than the proposal."""

    poll_id: int


class SetNoMeeting(Action, name="polls.set_no_meeting", was=("dpd",)):
    """"✖ Set no meeting" among the lead's decisions: the poll ends with no date set."""

    poll_id: int

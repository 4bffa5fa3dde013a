"""Permissions as data: which standing may take which action on a forum.

A person's standing toward a forum is one of: ``lead`` (holds a leading role in it), ``member``
(any other active role), ``coordinator`` (a lead of the forum one tier up, which sees what is
escalated to it), ``admin`` (a system administrator), or ``none``.

Every service that acts on a forum asks :func:`allowed` (usually through a ``require`` helper);
``tests/test_permissions.py`` walks every action for every standing and fails if one does not.
For ``ANNOUNCE_DOWN`` the standing is taken toward the *sending* (higher) forum.
"""

from __future__ import annotations

from enum import StrEnum


class Standing(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    MEMBER = "member"
    COORDINATOR = "coordinator"
    NONE = "none"


class Action(StrEnum):
    VIEW_FORUM = "view_forum"
    VIEW_MEMBERS = "view_members"
    CREATE_INVITE = "create_invite"
    REVOKE_MEMBERSHIP = "revoke_membership"
    LINK_GROUP = "link_group"
    OPEN_POLL = "open_poll"
    MANAGE_MEETINGS = "manage_meetings"
    VOTE = "vote"
    PROPOSE_AGENDA = "propose_agenda"
    MANAGE_AGENDA = "manage_agenda"
    RAISE_ISSUE = "raise_issue"
    VIEW_ISSUES = "view_issues"
    RECORD_OUTCOMES = "record_outcomes"
    EXPORT = "export"
    ANNOUNCE_DOWN = "announce_down"
    HANDLE_ESCALATED = "handle_escalated"
    # KeShet partnerships and surveys
    MANAGE_PARTNERSHIP = "manage_partnership"  # record stages, list fields, weigh criteria, open a self-assessment
    CONTRIBUTE_PARTNERSHIP = "contribute_partnership"  # score fields, record inputs, answer the self-assessment
    MANAGE_SURVEYS = "manage_surveys"  # send a survey, see its results, export them, promote an answer
    ANSWER_SURVEY = "answer_survey"


_L, _M, _C, _A = Standing.LEAD, Standing.MEMBER, Standing.COORDINATOR, Standing.ADMIN

TABLE: dict[Action, frozenset[Standing]] = {
    Action.VIEW_FORUM: frozenset({_L, _M, _A}),
    Action.VIEW_MEMBERS: frozenset({_L, _A}),
    Action.CREATE_INVITE: frozenset({_L, _A}),
    Action.REVOKE_MEMBERSHIP: frozenset({_L, _A}),
    Action.LINK_GROUP: frozenset({_L, _A}),
    Action.OPEN_POLL: frozenset({_L, _A}),
    Action.MANAGE_MEETINGS: frozenset({_L, _A}),
    Action.VOTE: frozenset({_L, _M}),
    Action.PROPOSE_AGENDA: frozenset({_L, _M}),
    Action.MANAGE_AGENDA: frozenset({_L, _A}),
    Action.RAISE_ISSUE: frozenset({_L, _M}),
    Action.VIEW_ISSUES: frozenset({_L, _M, _A}),
    Action.RECORD_OUTCOMES: frozenset({_L, _A}),
    Action.EXPORT: frozenset({_L, _A}),
    Action.ANNOUNCE_DOWN: frozenset({_L, _A}),
    Action.HANDLE_ESCALATED: frozenset({_L, _C, _A}),
    Action.MANAGE_PARTNERSHIP: frozenset({_L, _A}),
    Action.CONTRIBUTE_PARTNERSHIP: frozenset({_L, _M}),
    Action.MANAGE_SURVEYS: frozenset({_L, _A}),
    Action.ANSWER_SURVEY: frozenset({_L, _M}),
}


def allowed(action: Action, standings: frozenset[Standing] | set[Standing]) -> bool:
    return bool(TABLE[action] & set(standings))

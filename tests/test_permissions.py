"""Every action × every standing, across two forums and two tiers, through the real services.

The expected answer comes only from ``bot.domain.permissions.TABLE``: if a service skipped its
check, or checked leadership some other way, a cell of this walk fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.domain.permissions import TABLE, Action, Standing, allowed
from bot.services.agenda import issues
from bot.services.agenda import items as agenda
from bot.services.errors import Forbidden, Refused
from bot.services.forums import groups, membership, people
from bot.services.meetings import exports, outcomes, polls
from bot.services.meetings import schedule as meetings
from bot.storage.models import ChannelIdentity, Forum, Membership, Person
from bot.storage.models_polls import Meeting
from tests.helpers import ConsoleUser, import_demo, make_invite, register

SCHOOL, OTHER_SCHOOL, AUTHORITY = "S-DEMO-210101", "S-DEMO-210102", "A2100"

# Who each persona is toward each of the two forums walked (school, and the authority above it).
PERSONAS: dict[str, dict[str, Standing]] = {
    "lead": {SCHOOL: Standing.LEAD, AUTHORITY: Standing.NONE},
    "member": {SCHOOL: Standing.MEMBER, AUTHORITY: Standing.NONE},
    "coordinator": {SCHOOL: Standing.COORDINATOR, AUTHORITY: Standing.LEAD},
    "admin": {SCHOOL: Standing.ADMIN, AUTHORITY: Standing.ADMIN},
    "outsider": {SCHOOL: Standing.NONE, AUTHORITY: Standing.NONE},
    "stranger": {SCHOOL: Standing.NONE, AUTHORITY: Standing.NONE},  # not registered at all
    "authority_member": {SCHOOL: Standing.NONE, AUTHORITY: Standing.MEMBER},
}
# Actions no service performs yet: the escalation feature (another branch) adds the coordinator's.
PENDING: set[Action] = set()


@dataclass
class World:
    app: App
    forums: dict[str, int]
    people: dict[str, int | None]
    identities: dict[str, int]
    victims: dict[str, int]  # a membership to revoke in each forum
    polls: dict[str, int]  # an open date poll in each forum
    meetings: dict[str, int]  # a confirmed meeting in each forum


@dataclass
class Probe:
    session: AsyncSession
    world: World
    forum: Forum
    code: str
    person: Person | None
    identity: ChannelIdentity

    @property
    def now(self):  # type: ignore[no-untyped-def]
        return self.world.app.clock.now()

    @property
    def tz(self):  # type: ignore[no-untyped-def]
        return self.world.app.settings.tz


async def _view_forum(p: Probe) -> None:
    await agenda.view_agenda(p.session, forum=p.forum, person=p.person, now=p.now)  # type: ignore[arg-type]


async def _view_members(p: Probe) -> None:
    await membership.members(p.session, person=p.person, forum=p.forum)


async def _create_invite(p: Probe) -> None:
    role = "parent" if p.code == SCHOOL else "youth_unit_head"
    await membership.invite_as(p.session, person=p.person, forum=p.forum, role=role, now=p.now)


async def _revoke(p: Probe) -> None:
    await membership.revoke(p.session, person=p.person, membership_id=p.world.victims[p.code], now=p.now)


async def _link_group(p: Probe) -> None:
    await groups.create_link_code(p.session, identity=p.identity, forum=p.forum, now=p.now)


async def _open_poll(p: Probe) -> None:
    await polls.start_draft(p.session, p.forum, p.person, now=p.now, tz=p.tz)  # type: ignore[arg-type]


async def _manage_meetings(p: Probe) -> None:
    await meetings.cancel(p.session, p.world.meetings[p.code], person=p.person, now=p.now, tz=p.tz)


async def _vote(p: Probe) -> None:
    await polls.vote(
        p.session,
        p.world.polls[p.code],
        p.person,
        chosen=set(),
        none_works=True,
        channel="console",
        now=p.now,
        tz=p.tz,
    )


async def _propose(p: Probe) -> None:
    await agenda.propose_item(p.session, forum=p.forum, person=p.person, title="נושא", details=None, now=p.now)  # type: ignore[arg-type]


async def _manage_agenda(p: Probe) -> None:
    await agenda.set_intake_hours(p.session, forum=p.forum, person=p.person, hours=48, now=p.now)  # type: ignore[arg-type]


async def _raise_issue(p: Probe) -> None:
    await issues.raise_issue(p.session, forum=p.forum, person=p.person, kind="need", title="חסר",  # type: ignore[arg-type]
                             details="פרטים", category=None, show_name=False, now=p.now)


async def _view_issues(p: Probe) -> None:
    await issues.open_issues(p.session, forum=p.forum, person=p.person)  # type: ignore[arg-type]


async def _record_outcomes(p: Probe) -> None:
    await outcomes.meeting_to_record(p.session, forum=p.forum, person=p.person, now=p.now)  # type: ignore[arg-type]


async def _export(p: Probe) -> None:
    from bot.i18n import Translator

    await exports.export(p.session, forum=p.forum, what="issues", fmt="csv", t=Translator("he"), person=p.person)


async def _announce_down(p: Probe) -> None:
    # From the walked forum down to the school below the authority (a school has nothing below:
    # its lead passes the table and is then told so, which is not a permission refusal).
    target = p.world.forums[OTHER_SCHOOL]
    await agenda.suggest_from_above(p.session, target, "מלמעלה", None, p.forum.id, p.now, by=p.person)


async def _manage_partnership(p: Probe) -> None:
    from datetime import date

    from bot.domain import keshet as k
    from bot.services.keshet import process as keshet

    await keshet.check_stage(
        p.session,
        forum=p.forum,
        person=p.person,
        stage=list(k.Stage)[1],
        when=k.When(date(2026, 1, 1)),
        now=p.now,
    )


async def _contribute_partnership(p: Probe) -> None:
    from bot.services.keshet import process as keshet

    # The gate partner_seat() passes first; the walked forums hold no sector seats to find after it.
    await keshet.require(p.session, p.person, p.forum, Action.CONTRIBUTE_PARTNERSHIP, keshet.PARTNERS_ONLY)


async def _manage_surveys(p: Probe) -> None:
    from bot.services.surveys import answers as surveys

    await surveys.require_lead(p.session, p.person, p.forum)


async def _answer_survey(p: Probe) -> None:
    from bot.services.surveys import answers as surveys

    await surveys.respondent_seat(p.session, p.person, p.forum)


async def _handle_escalated(p: Probe) -> None:
    from bot.services.escalation import forwarding as escalation

    # The gate every action on a forwarded gap passes (acknowledge, assign, answer, forward up).
    await agenda.require(p.session, p.person, p.forum, Action.HANDLE_ESCALATED, escalation.ONLY_COORDINATORS)


PROBES: dict[Action, Callable[[Probe], Awaitable[None]]] = {
    Action.HANDLE_ESCALATED: _handle_escalated,
    Action.MANAGE_PARTNERSHIP: _manage_partnership,
    Action.CONTRIBUTE_PARTNERSHIP: _contribute_partnership,
    Action.MANAGE_SURVEYS: _manage_surveys,
    Action.ANSWER_SURVEY: _answer_survey,
    Action.VIEW_FORUM: _view_forum,
    Action.VIEW_MEMBERS: _view_members,
    Action.CREATE_INVITE: _create_invite,
    Action.REVOKE_MEMBERSHIP: _revoke,
    Action.LINK_GROUP: _link_group,
    Action.OPEN_POLL: _open_poll,
    Action.MANAGE_MEETINGS: _manage_meetings,
    Action.VOTE: _vote,
    Action.PROPOSE_AGENDA: _propose,
    Action.MANAGE_AGENDA: _manage_agenda,
    Action.RAISE_ISSUE: _raise_issue,
    Action.VIEW_ISSUES: _view_issues,
    Action.RECORD_OUTCOMES: _record_outcomes,
    Action.EXPORT: _export,
    Action.ANNOUNCE_DOWN: _announce_down,
}


async def _person_id(app: App, name: str) -> int | None:
    async with app.db.sessions() as session:
        return await session.scalar(select(ChannelIdentity.person_id).where(ChannelIdentity.external_id == name))


async def build_world(app: App) -> World:
    await import_demo(app)
    await register(app, "lead", await make_invite(app, SCHOOL, "principal"), display="דנה")
    await register(app, "member", await make_invite(app, SCHOOL, "parent"), display="אבי", form="m")
    await register(app, "victim", await make_invite(app, SCHOOL, "counsellor"), display="רנא")
    await register(app, "coordinator", await make_invite(app, AUTHORITY, "education_department_head"), display="יעל")
    await register(app, "authority_member", await make_invite(app, AUTHORITY, "authority_head"), display="משה")
    await register(app, "authority_victim", await make_invite(app, AUTHORITY, "youth_unit_head"), display="עומר")
    await register(app, "admin", await make_invite(app, OTHER_SCHOOL, "parent"), display="אדמין")
    await register(app, "outsider", await make_invite(app, OTHER_SCHOOL, "principal"), display="זר")
    await ConsoleUser(app, "stranger").say("שלום")
    now = app.clock.now()
    world = World(app, {}, {}, {}, {}, {}, {})
    async with app.db.unit_of_work() as session:
        for code in (SCHOOL, OTHER_SCHOOL, AUTHORITY):
            forum = await session.scalar(select(Forum).where(Forum.code == code))
            assert forum is not None
            world.forums[code] = forum.id
        for name in [*PERSONAS, "victim", "authority_victim"]:
            identity = await session.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == name))
            assert identity is not None
            world.identities[name] = identity.id
            world.people[name] = identity.person_id
        admin = await session.get(Person, world.people["admin"])
        assert admin is not None
        admin.is_admin = True
        for code, victim in ((SCHOOL, "victim"), (AUTHORITY, "authority_victim")):
            world.victims[code] = (
                await session.scalars(select(Membership.id).where(Membership.person_id == world.people[victim]))
            ).one()
    for code, lead in ((SCHOOL, "lead"), (AUTHORITY, "coordinator")):
        async with app.db.unit_of_work() as session:
            forum = await meetings.load_forum(session, world.forums[code])
            person = await session.get(Person, world.people[lead])
            assert person is not None
            draft = await polls.start_draft(session, forum, person, now=now, tz=app.settings.tz)
            await polls.publish(session, draft.id, person=person, now=now, tz=app.settings.tz)
            world.polls[code] = draft.id
            meeting = Meeting(
                forum_id=forum.id,
                starts_at=now + timedelta(days=40),
                status="confirmed",
                ics_uid=f"{uuid.uuid4()}@test",
                created_at=now,
                updated_at=now,
            )
            session.add(meeting)
            await session.flush()
            world.meetings[code] = meeting.id
    return world


async def attempt(world: World, action: Action, persona: str, code: str) -> tuple[bool, frozenset[Standing]]:
    """Whether the service let ``persona`` do ``action`` on the forum (its work is rolled back)."""
    app = world.app
    async with app.db.sessions() as session:
        await session.begin()
        try:
            forum = await meetings.load_forum(session, world.forums[code])
            person_id = world.people[persona]
            person = await session.get(Person, person_id) if person_id else None
            identity = await session.get(ChannelIdentity, world.identities[persona])
            assert identity is not None
            await session.refresh(identity, ["person"])
            standing = await people.standings(session, person, forum)
            try:
                await PROBES[action](Probe(session, world, forum, code, person, identity))
                return True, standing
            except Forbidden:
                return False, standing
            except Refused:
                return True, standing  # past the permission check, refused for another reason
        finally:
            await session.rollback()


async def test_every_action_for_every_standing_follows_the_table(sqlite_app: App) -> None:
    assert set(PROBES) | PENDING == set(Action), "every action needs a probe (or is pending another feature)"
    world = await build_world(sqlite_app)
    mismatches = []
    cells = 0
    for action in PROBES:
        for persona, expected_standings in PERSONAS.items():
            for code in (SCHOOL, AUTHORITY):
                done, standing = await attempt(world, action, persona, code)
                assert standing == frozenset({expected_standings[code]}), (persona, code, standing)
                expected = allowed(action, standing)
                assert expected == (expected_standings[code] in TABLE[action])
                cells += 1
                if done != expected:
                    mismatches.append(f"{action} by {persona} on {code}: {'done' if done else 'refused'}")
    assert not mismatches, "\n".join(mismatches)
    assert cells == len(PROBES) * len(PERSONAS) * 2


async def test_the_table_is_total_and_only_names_real_standings() -> None:
    for action in Action:
        assert action in TABLE
        assert Standing.NONE not in TABLE[action]  # a stranger may do nothing on a forum

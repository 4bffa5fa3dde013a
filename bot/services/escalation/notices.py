"""Who is told what while a gap travels up and its answer comes down (README: *Escalation*, "Who is told").

* **A forward, at every tier** — each raiser behind it and the leads of each origin forum hear where it
  is now (the forum, named as a forum); the leads of the forum it left hear where it went (for the first
  hop that forum *is* the origin forum, so they hear it once).
* **Acknowledged / someone in charge** — each raiser and the origin forums' leads, once per gap (and per
  person in charge).
* **An answer** — each raiser, the leads of each origin forum, and the leads of every forum it passed
  through on the way up; each hears who answered as a forum and a role, never a name (the answer always
  comes from above the raiser's forum).

The person who acted is never told of their own act (their reply says it). Every notice has a
de-duplication key, so a double click, a retry or a second process tells nobody twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.agenda import IssueStatus
from bot.i18n import Raw, Translator
from bot.services.agenda.items import load_forum
from bot.services.delivery import notify
from bot.services.texts import forum_title, quoted, ref, role_label, status_label
from bot.storage.models import Forum, Person
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_escalation import EscalatedGap


def _title(t: Translator, forum: Forum) -> Raw:
    return Raw(forum_title(t, forum, forum.org_unit))


def answered_by(t: Translator, forum: Forum, role: str | None, form: str | None) -> str:
    """'Answered by the district manager of the partners forum of Haifa District.' (a role, never a name)."""
    return t._("Answered by the {role} of {forum}.", role=role_label(t, forum.org_unit, forum, role, form),
               forum=_title(t, forum))


async def _leads(session: AsyncSession, forum_id: int, skip: set[int | None]) -> list[int]:
    return [i for i in await notify.lead_ids(session, forum_id) if i not in skip]


async def forwarded(
    session: AsyncSession, *, issues: Sequence[RaisedIssue], left: Forum, target: Forum, gap: EscalatedGap | None,
    actor: Person | None, now: datetime,
) -> None:
    """An issue (``gap`` None) or a gap went from ``left`` up to ``target``."""
    actor_id = actor.id if actor else None
    auto = actor is None
    origins: dict[int, Forum] = {}
    for issue in issues:
        if issue.status != IssueStatus.ESCALATED:
            continue  # closed in its own forum meanwhile: nobody there waits for it
        origin = origins.get(issue.forum_id) or await load_forum(session, issue.forum_id)
        origins[origin.id] = origin
        if issue.raiser_person_id is not None and issue.raiser_person_id != actor_id:
            for r in await notify.recipients(session, [issue.raiser_person_id], now=now):
                lines = [r.t._("News about the issue you raised in {forum}, “{title}”: it was forwarded to {target}.",
                               forum=_title(r.t, origin), title=issue.title, target=_title(r.t, target))]
                if auto:
                    lines.append(r.t._("It went up by itself: it stayed open longer than {forum} has to close it.",
                                       forum=_title(r.t, left)))
                lines.append(r.t._("You will hear when it is answered."))
                await r.send(r.message("\n".join(lines)), dedup_key=f"esc:fwd:r:i{issue.id}:f{target.id}")
        for r in await notify.recipients(session, await _leads(session, origin.id, {actor_id, issue.raiser_person_id}),
                                         now=now):
            title = Raw(quoted(r.t, issue.title))
            if origin.id == left.id:  # the first hop: the forum it left is its own
                text = (r.t._("Issue {ref} {title} stayed unresolved past the forum's window and was escalated to "
                              "{forum}.", ref=ref(issue.id), title=title, forum=_title(r.t, target)) if auto else
                        r.t._("Issue {ref} {title} was escalated to {forum}.", ref=ref(issue.id), title=title,
                              forum=_title(r.t, target)))
            else:
                text = _onward(r.t, issue.id, title, left, target, auto)
            await r.send(r.message(text), dedup_key=f"esc:fwd:i{issue.id}:f{target.id}")
    if gap is None or left.id in origins:
        return
    for r in await notify.recipients(session, await _leads(session, left.id, {actor_id}), now=now):
        text = _onward(r.t, gap.id, Raw(quoted(r.t, gap.title)), left, target, auto)
        await r.send(r.message(text), dedup_key=f"esc:left:g{gap.id}:f{target.id}")


def _onward(t: Translator, ident: int, title: Raw, left: Forum, target: Forum, auto: bool) -> str:
    if auto:
        return t._("Issue {ref} {title} stayed unresolved past the window of {left} and went on to {target}.",
                   ref=ref(ident), title=title, left=_title(t, left), target=_title(t, target))
    return t._("Issue {ref} {title} went on from {left} to {target}.", ref=ref(ident), title=title,
               left=_title(t, left), target=_title(t, target))


async def progressed(
    session: AsyncSession, *, gap: EscalatedGap, issues: Sequence[RaisedIssue], above: Forum, actor: Person,
    now: datetime, owner: Person | None = None,
) -> None:
    """The forum above acknowledged the gap (``owner`` None) or put someone in charge of it."""
    origins: dict[int, Forum] = {}
    what = f"own:p{owner.id}" if owner is not None else "ack"
    for issue in issues:
        if issue.status != IssueStatus.ESCALATED:
            continue
        origin = origins.get(issue.forum_id) or await load_forum(session, issue.forum_id)
        origins[origin.id] = origin
        key = f"esc:{what}:g{gap.id}:i{issue.id}"
        if issue.raiser_person_id is not None and issue.raiser_person_id != actor.id:
            for r in await notify.recipients(session, [issue.raiser_person_id], now=now):
                if owner is None:
                    text = r.t._("News about the issue you raised in {forum}, “{title}”: {above} received it and is "
                                 "looking into it.", forum=_title(r.t, origin), title=issue.title,
                                 above=_title(r.t, above))
                else:
                    text = r.t._("News about the issue you raised in {forum}, “{title}”: the {role} of {above} is "
                                 "now in charge of it.", forum=_title(r.t, origin), title=issue.title,
                                 role=_owner_role(r.t, above, gap, owner), above=_title(r.t, above))
                await r.send(r.message(text), dedup_key=key)
        for r in await notify.recipients(session, await _leads(session, origin.id, {actor.id, issue.raiser_person_id}),
                                         now=now):
            title = Raw(quoted(r.t, issue.title))
            if owner is None:
                text = r.t._("Issue {ref} {title}: {above} received it and is looking into it.", ref=ref(issue.id),
                             title=title, above=_title(r.t, above))
            else:
                text = r.t._("Issue {ref} {title}: the {role} of {above} is now in charge of it.", ref=ref(issue.id),
                             title=title, role=_owner_role(r.t, above, gap, owner), above=_title(r.t, above))
            await r.send(r.message(text), dedup_key=key)


def _owner_role(t: Translator, above: Forum, gap: EscalatedGap, owner: Person) -> str:
    return role_label(t, above.org_unit, above, gap.owner_role, owner.address_form)


async def answered(
    session: AsyncSession, *, gap: EscalatedGap, answered_in: Forum, below: Sequence[EscalatedGap],
    resolved: Sequence[RaisedIssue], note: str, actor: Person, role: str | None, now: datetime,
) -> int:
    """The answer goes down: to each raiser, each origin forum's leads and every forum it passed through.
    Returns the number of forums below that were told."""
    form = actor.address_form
    by_forum: dict[int, list[RaisedIssue]] = {}
    for issue in resolved:
        by_forum.setdefault(issue.forum_id, []).append(issue)
    for forum_id, forum_issues in by_forum.items():
        forum = await load_forum(session, forum_id)
        for issue in forum_issues:
            if issue.raiser_person_id is None or issue.raiser_person_id == actor.id:
                continue
            for r in await notify.recipients(session, [issue.raiser_person_id], now=now):
                lines = [
                    r.t._("News about the issue you raised in {forum}, “{title}”: {status}.",
                          forum=_title(r.t, forum), title=issue.title, status=status_label(r.t, issue.status)),
                    answered_by(r.t, answered_in, role, form),
                    r.t._("The answer: {text}", text=note),
                ]
                await r.send(r.message("\n".join(lines)), dedup_key=f"esc:ans:r:i{issue.id}")
        raisers = {i.raiser_person_id for i in forum_issues}
        for r in await notify.recipients(session, await _leads(session, forum_id, {actor.id, *raisers}), now=now):
            titles = ", ".join(f"{r.t.isolate(ref(i.id))} {quoted(r.t, i.title)}" for i in forum_issues)
            lines = [
                r.t._("{forum} answered what {origin} escalated: {titles}.", forum=_title(r.t, answered_in),
                      origin=_title(r.t, forum), titles=Raw(titles)),
                answered_by(r.t, answered_in, role, form),
                r.t._("The answer: {text}", text=note),
                r.t._("The issue is marked resolved; its raiser was told."),
            ]
            ids = "-".join(str(i.id) for i in forum_issues)
            await r.send(r.message("\n".join(lines)), dedup_key=f"esc:ans:f{forum_id}:i{ids}")
    told = set(by_forum)
    for passed in below:  # the forums it went through on the way up, below the one that answered
        if passed.forum_id in told or passed.forum_id == answered_in.id:
            continue
        told.add(passed.forum_id)
        forum = await load_forum(session, passed.forum_id)
        for r in await notify.recipients(session, await _leads(session, forum.id, {actor.id}), now=now):
            lines = [
                r.t._("{forum} answered issue {ref} {title}, which {passed} forwarded to it.",
                      forum=_title(r.t, answered_in), ref=ref(passed.id), title=Raw(quoted(r.t, passed.title)),
                      passed=_title(r.t, forum)),
                answered_by(r.t, answered_in, role, form),
                r.t._("The answer: {text}", text=note),
                r.t._("It is marked answered here too; the forums below and whoever raised it were told."),
            ]
            await r.send(r.message("\n".join(lines)), dedup_key=f"esc:ans:g{passed.id}")
    return len(told)

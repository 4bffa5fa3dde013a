"""Small helpers shared by the handlers: registering them, naming things, the steps many flows take."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.conversation import Context, Handler, Router
from bot.core.actions import Action
from bot.core.messages import Button
from bot.core.states import FlowState
from bot.i18n import Translator
from bot.services import texts
from bot.services.forums import access
from bot.storage.models import Forum, OrgUnit

# One definition of a unit's, a forum's and a role's name, shared with the services' notices.
FORUM_TITLES = texts.FORUM_TITLES
unit_name = texts.unit_name
forum_title = texts.forum_title


def on_actions(router: Router, *handlers: Callable[[Context, Any], Awaitable[None]]) -> None:
    """Register each handler for the declared action its ``value`` parameter is annotated with."""
    for handler in handlers:
        kind = typing.get_type_hints(handler).get("value")
        if not (isinstance(kind, type) and issubclass(kind, Action)):
            raise TypeError(f"{handler.__qualname__}: its value parameter names no declared action")
        router.on(kind)(handler)


def on_steps(router: Router, kind: type[FlowState], /, **handlers: Handler) -> None:
    """Register the handler of each named step of a declared flow (a step it does not declare fails)."""
    for step, handler in handlers.items():
        if step not in kind.steps:
            raise ValueError(f"{kind.flow} declares no step {step!r}")
        router.step(kind.flow, step)(handler)


def role_name(t: Translator, unit: OrgUnit, forum: Forum, role: str, form: str | None = None) -> str:
    """The role's name in the reader's language, gendered when it names the reader."""
    return texts.role_label(t, unit, forum, role, form)


def bullet_list(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


def confirm_buttons(ctx: Context, flow: str, yes_label: str) -> list[list[Button]]:
    """The two buttons of a flow's "confirm" step: ``yes_label`` and Cancel."""
    return [[ctx.step_button(yes_label, flow, "confirm", "yes"),
             ctx.step_button(ctx.t._("Cancel"), flow, "confirm", "no")]]


async def not_typed(ctx: Context, nudge: str) -> bool:
    """Whether a button was pressed where a step waits for typed text; the person is then asked to
    type (``nudge``, a msgid) and the step stays."""
    if ctx.value:
        await ctx.reply(ctx.t._(nudge))
        return True
    return False


class ForumDraft(FlowState, abstract=True):
    """What a draft sent to a forum carries (a proposal, a raised issue): the forum, and a key that
    keeps it one submission however often "Send" is pressed."""

    forum_id: int
    key: str

    def submit_key(self, identity_id: int) -> str:
        return f"{identity_id}:{self.key}"


D = TypeVar("D", bound=ForumDraft)


def confirm_step(kind: type[D], then: Callable[[Context, D, Forum], Awaitable[None]]) -> Handler:
    """A flow's "confirm" step: after yes the flow ends and ``then`` gets the draft and its forum;
    after no it ends ("Cancelled."); anything unclear keeps it, and the person is asked to choose."""

    async def step(ctx: Context) -> None:
        if ctx.value not in ("yes", "no"):
            await ctx.reply(ctx.t._("Please choose one of the options."))
            return
        draft = ctx.flow(kind)
        await ctx.clear_state()
        if ctx.value == "no":
            await ctx.reply(ctx.t._("Cancelled."), edit=True)
            return
        await then(ctx, draft, await access.load_forum(ctx.session, draft.forum_id))

    return step

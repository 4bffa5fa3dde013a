"""Declared conversation states: each flow names its steps and the typed data it carries.

    class ProposalDraft(FlowState, flow="agenda", steps=("title", "details", "confirm")):
        forum_id: int
        key: str
        title: str = ""

A handler enters a step with a value (``await ctx.enter(ProposalDraft(...), "title")``) and reads
it back validated (``ctx.flow(ProposalDraft)``). What is stored is the model's JSON; a state saved
by an older version that no longer validates (a field renamed, a step removed) ends the
conversation politely ("let's start again") instead of failing inside a handler.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

_FLOWS: dict[str, type[FlowState]] = {}


class StaleConversation(Exception):
    """The stored state does not fit its flow's declaration any more."""


class FlowState(BaseModel):
    """Base of every declared flow's data (a pydantic model, validated on load)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    flow: ClassVar[str]
    steps: ClassVar[tuple[str, ...]]

    def __init_subclass__(
        cls, *, flow: str = "", steps: tuple[str, ...] = (), abstract: bool = False, **kwargs: Any
    ) -> None:
        """Declare the flow ``flow`` with ``steps``; ``abstract=True`` makes a base that several flows
        share fields through (it is no flow of its own and is never stored)."""
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        if not flow or not steps:
            raise TypeError(f"{cls.__name__} declares no flow name or steps")
        if flow in _FLOWS and _FLOWS[flow].__qualname__ != cls.__qualname__:
            raise TypeError(f"two flows are called {flow!r}: {_FLOWS[flow].__name__} and {cls.__name__}")
        cls.flow, cls.steps = flow, steps
        _FLOWS[flow] = cls


def declared_flow(name: str) -> type[FlowState] | None:
    return _FLOWS.get(name)


def load(kind: type[FlowState], step: str, data: dict[str, Any]) -> FlowState:
    """``data`` as ``kind``, at a step it declares; StaleConversation otherwise."""
    if step not in kind.steps:
        raise StaleConversation(f"{kind.flow} has no step {step!r}")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        raise StaleConversation(f"{kind.flow}: {exc.error_count()} field(s) no longer fit") from None


def fits(flow: str, step: str, data: dict[str, Any]) -> bool:
    """Whether a stored state still fits its flow (undeclared flows always do: their data is free)."""
    kind = declared_flow(flow)
    if kind is None:
        return True
    try:
        load(kind, step, data)
    except StaleConversation:
        return False
    return True

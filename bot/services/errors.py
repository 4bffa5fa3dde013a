"""Refusals a person can act on. The message is an msgid; the handler translates it."""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, msgid: str, /, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


class NotFound(Refused):
    pass


class Forbidden(Refused):
    pass

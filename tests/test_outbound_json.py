"""An outbound message's stored form: every field, and back again unchanged."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from bot.core.messages import Button, FileSpec, Outbound, OutKind, PollSpec

texts = st.text(max_size=40)
buttons = st.builds(Button, token=texts, label=texts, url=texts)
polls = st.builds(PollSpec, question=texts, options=st.lists(texts, max_size=4), multiple=st.booleans(),
                  correlation=texts, close_at=st.none() | texts)
files = st.builds(FileSpec, name=texts, mime=texts, data_b64=texts, ascii_name=texts)
messages = st.builds(
    Outbound, kind=st.sampled_from(OutKind), text=texts, rtl=st.booleans(),
    buttons=st.lists(st.lists(buttons, max_size=3), max_size=3), poll=st.none() | polls, file=st.none() | files,
    edit_ref=st.none() | texts, template=st.none() | st.dictionaries(texts, st.lists(texts, max_size=2), max_size=2),
    parts_sent=st.integers(min_value=0, max_value=5),
)


@given(messages)
def test_the_stored_form_holds_every_field_and_reads_back(message: Outbound) -> None:
    expected = asdict(message)
    if not message.parts_sent:
        del expected["parts_sent"]
    stored = message.to_json()
    assert stored == expected
    assert Outbound.from_json(stored) == message


def test_the_stored_form_shares_nothing_with_the_message() -> None:
    message = Outbound(kind=OutKind.TEXT, text="שלום", template={"name": "digest", "params": ["a"]},
                       poll=PollSpec(question="?", options=["א", "ב"]))
    stored = message.to_json()
    stored["template"]["params"].append("b")
    stored["poll"]["options"].append("ג")
    assert message.template == {"name": "digest", "params": ["a"]}
    assert message.poll is not None and message.poll.options == ["א", "ב"]

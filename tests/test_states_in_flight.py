"""/surveys and /meeting declare their flows: a conversation saved by the version before (free dicts
under the same flow names and keys) still validates after the deploy, at every step."""

from __future__ import annotations

from bot.core.actions import pack, unpack
from bot.core.states import fits, load
from bot.services.surveys.actions import OpenSurvey
from handlers.meeting import MeetingWalk
from handlers.surveys import SurveyDraft, TextAnswer

AT = "2026-12-01T16:00:00+00:00"  # as outcomes.meeting_to_record(...).isoformat() wrote it


def test_survey_conversations_saved_before_still_fit() -> None:
    assert load(TextAnswer, "answer", {"question": 41}) == TextAnswer(question=41)
    assert load(SurveyDraft, "confirm", {"forum": 3, "template": "needs", "request": "k3x"}).template == "needs"
    assert not fits("svtext", "answer", {"question": "forty-one"})


def test_a_meeting_walk_saved_before_still_fits_at_every_step() -> None:
    begun = {"forum_id": 3, "meeting_at": AT, "skipped": []}
    walking = {**begun, "skipped": ["item:4"], "subject": None, "text": None, "status": None, "owner": None}
    deciding = {**walking, "subject": "item:5"}
    noting = {**walking, "subject": "issue:7", "status": "resolved"}
    due = {**deciding, "text": "נבחר ספק", "owner": 12}
    for step, data in [("walk", begun), ("walk", walking), ("decision", deciding), ("note", noting),
                       ("owner", {**deciding, "text": "נבחר ספק"}), ("due", due)]:
        assert fits("meeting", step, data), step
    state = load(MeetingWalk, "due", due)
    assert isinstance(state, MeetingWalk) and state.on_item and state.owner == 12
    assert state.at.isoformat() == AT


def test_the_survey_invitation_button_is_a_declared_action() -> None:
    assert pack(OpenSurvey(9)) == "surveys.open:9"
    assert unpack("surveys.open:9") == OpenSurvey(9)

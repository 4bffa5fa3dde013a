"""The fake Graph API, driven through pywa's real async client over loopback HTTP (as the bot uses it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types import Button, Section, SectionList, SectionRow
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp import check_signature, load_templates, make_client, make_session
from bot.config import Settings
from tests.fakes.whatsapp import FakeWhatsApp


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as server:
        yield server


@pytest.fixture
async def wa(fake: FakeWhatsApp, tmp_path: Path) -> AsyncIterator[WhatsApp]:
    settings = Settings(_env_file=None, FORUMBOT_DATA_DIR=tmp_path, **fake.settings())  # type: ignore[call-arg]
    session = make_session(settings)
    yield make_client(settings, session)
    await session.aclose()


async def code_of(call: object) -> int:
    with pytest.raises(WhatsAppError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


async def test_pywa_reaches_the_fake_through_the_rebased_transport(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    dana = fake.user("Dana")
    fake.text(dana, "שלום")  # she wrote first: the window is open
    sent = await wa.send_message(to=dana.bsuid, text="שלום דנה")
    assert fake.sent[-1].text == "שלום דנה" and fake.sent[-1].wamid == sent.id
    assert fake.requests[-1].path == f"/v26.0/{fake.phone_id}/messages"
    assert fake.sent[-1].payload["recipient"] == dana.bsuid  # a business-scoped id goes as "recipient"


async def test_bad_token_is_refused(fake: FakeWhatsApp, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, FORUMBOT_DATA_DIR=tmp_path, **{**fake.settings(), "WHATSAPP_TOKEN": "wrong"}
    )
    session = make_session(settings)
    dana = fake.user("Dana")
    fake.text(dana, "hi")
    assert await code_of(make_client(settings, session).send_message(to=dana.bsuid, text="x")) == 190
    await session.aclose()


async def test_message_limits(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    dana = fake.user("Dana")
    fake.text(dana, "hi")
    to = dana.bsuid
    assert await code_of(wa.send_message(to=to, text="א" * 4097)) == 131009
    four = [Button(title=f"b{i}", callback_data=f"id{i}") for i in range(4)]
    assert await code_of(wa.send_message(to=to, text="?", buttons=four)) == 131009
    assert await code_of(wa.send_message(to=to, text="?", buttons=[Button("x" * 21, "a")])) == 131009
    same = [Button("כן", "a"), Button("כן", "b")]
    assert await code_of(wa.send_message(to=to, text="?", buttons=same)) == 131009
    assert await code_of(wa.send_message(to=to, text="א" * 1025, buttons=[Button("כן", "a")])) == 131009
    rows = [SectionRow(title=f"r{i}", callback_data=f"r{i}") for i in range(11)]
    eleven = SectionList(button_title="אפשרויות", sections=[Section(title="s", rows=rows)])
    assert await code_of(wa.send_message(to=to, text="?", buttons=eleven)) == 131009
    long_row = SectionList("אפשרויות", [Section("s", [SectionRow("x" * 25, "a")])])
    assert await code_of(wa.send_message(to=to, text="?", buttons=long_row)) == 131009
    assert not fake.sent
    ten = SectionList("אפשרויות", [Section("s", [SectionRow(f"r{i}", f"r{i}", "תיאור") for i in range(10)])])
    await wa.send_message(to=to, text="?", buttons=ten)
    assert len(fake.sent[-1].rows) == 10 and fake.sent[-1].list_button == "אפשרויות"


async def test_the_24_hour_window_and_templates(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.approve_templates(load_templates())
    dana = fake.user("Dana")
    assert await code_of(wa.send_message(to=dana.bsuid, text="hello")) == 131047  # she never wrote
    fake.text(dana, "hi")
    await wa.send_message(to=dana.bsuid, text="hello")
    fake.clock.advance(24 * 3600 + 1)
    assert await code_of(wa.send_message(to=dana.bsuid, text="hello")) == 131047
    quick = {"type": "payload", "payload": "p"}
    params = [
        {"type": "body", "parameters": [{"type": "text", "text": "דנה"}, {"type": "text", "text": "סיכום"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [quick]},
    ]
    await wa.send_template(to=dana.bsuid, name="forumbot_update", language=TemplateLanguage.HEBREW, params=params)
    assert fake.sent[-1].text.startswith("שלום דנה, יש עדכון חדש מפורום השותפים: סיכום")
    assert fake.sent[-1].quick_replies == [("להצגת ההודעה", "p")]
    one_param = [{"type": "body", "parameters": [{"type": "text", "text": "דנה"}]}]
    short = wa.send_template(to=dana.bsuid, name="forumbot_update", language=TemplateLanguage.HEBREW, params=one_param)
    assert await code_of(short) == 132000
    missing = wa.send_template(to=dana.bsuid, name="nope", language=TemplateLanguage.HEBREW, params=[])
    assert await code_of(missing) == 132001


async def test_pair_rate_and_throughput_on_the_fake_clock(tmp_path: Path) -> None:
    async with FakeWhatsApp(pair_burst=1, per_second=3) as fake:
        settings = Settings(_env_file=None, FORUMBOT_DATA_DIR=tmp_path, **fake.settings())  # type: ignore[call-arg]
        session = make_session(settings)
        wa = make_client(settings, session)
        dana, noa, eli, rami = (fake.user(n) for n in ("Dana", "Noa", "Eli", "Rami"))
        for user in (dana, noa, eli, rami):
            fake.text(user, "hi")
        await wa.send_message(to=dana.bsuid, text="1")
        assert await code_of(wa.send_message(to=dana.bsuid, text="2")) == 131056
        fake.clock.advance(6)
        await wa.send_message(to=dana.bsuid, text="2")
        await wa.send_message(to=noa.bsuid, text="1")
        await wa.send_message(to=eli.bsuid, text="1")
        assert await code_of(wa.send_message(to=rami.bsuid, text="1")) == 130429
        fake.clock.advance(1)
        await wa.send_message(to=rami.bsuid, text="1")
        await session.aclose()


async def test_documents_are_uploaded_then_sent(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    dana = fake.user("Dana")
    fake.text(dana, "hi")
    await wa.send_document(
        to=dana.bsuid, document=b"%PDF-1.4 data", filename="summary.pdf", caption="סיכום", mime_type="application/pdf"
    )
    sent = fake.sent[-1]
    assert sent.type == "document" and sent.text == "סיכום"
    assert sent.media is not None and sent.media.content == b"%PDF-1.4 data" and sent.media.filename == "summary.pdf"


async def test_injected_faults_and_template_creation(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    dana = fake.user("Dana")
    fake.text(dana, "hi")
    fake.fail_next(131026, to=dana)
    assert await code_of(wa.send_message(to=dana.bsuid, text="x")) == 131026
    await wa.send_message(to=dana.bsuid, text="x")
    for template in load_templates():
        created = await wa.api.create_template(waba_id=fake.waba_id, template=template)
        assert created["status"] == "APPROVED"
    names = ("forumbot_update", "forumbot_digest")
    assert set(fake.templates) == {(name, lang) for name in names for lang in ("he", "ar", "en")}
    again = wa.api.create_template(waba_id=fake.waba_id, template=load_templates()[0])
    assert await code_of(again) == 100


def test_deliveries_are_signed_like_meta_signs_them() -> None:
    fake = FakeWhatsApp(app_secret="s3cret")
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert check_signature("s3cret", body, fake.sign(body)) is None
    assert check_signature("s3cret", body + b" ", fake.sign(body)) == 403
    assert check_signature("s3cret", body, fake.sign(body, secret="other")) == 403
    assert check_signature("s3cret", body, fake.sign(body).removeprefix("sha256=")) == 403
    assert check_signature("s3cret", body, "sha256=\u00e9") == 403
    assert check_signature("s3cret", body, None) == 401

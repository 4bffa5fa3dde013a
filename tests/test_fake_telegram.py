"""Tests for the fake Telegram Bot API server, driven through a real aiogram Bot over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    Message,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes.telegram import FakeTelegram

TOKEN = "123:ABC"


class ManualClock:
    """Injectable monotonic clock so rate-limit/retry tests need no real sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = fake.make_bot()  # token "123:ABC"; like the plain construction in test_get_me, minus a 0.25 s close
    yield bot
    await bot.session.close()


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=f"btn {d}", callback_data=d)] for d in data]
    )


async def test_get_me(fake: FakeTelegram) -> None:
    bot = Bot(token=TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    async with bot:  # closes the session on exit
        me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123, True, "forumbot_test_bot") and bot.id == me.id
    assert fake.requests[0].method == "getMe" and fake.requests[0].ok


async def test_custom_username_and_independent_instances() -> None:
    async with FakeTelegram(bot_username="other_bot") as one, FakeTelegram() as two:
        bot_one, bot_two = one.make_bot(), two.make_bot()
        try:
            assert (await bot_one.get_me()).username == "other_bot"
            assert (await bot_two.get_me()).username == "forumbot_test_bot"
        finally:
            await bot_one.session.close()
            await bot_two.session.close()
        assert one.port != two.port
        assert len(one.requests) == len(two.requests) == 1


async def test_send_message_with_inline_keyboard_press_and_answer(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "דנה")
    sent = await bot.send_message(dana.id, "בחרו אפשרות", reply_markup=keyboard("yes", "no"))
    assert isinstance(sent, Message) and sent.chat.id == dana.id and sent.from_user and sent.from_user.is_bot

    [message] = fake.sent_messages(dana.id)
    assert message.text == "בחרו אפשרות"
    assert message.callback_data == ["yes", "no"]
    assert fake.requests[-1].params["chat_id"] == dana.id  # form values are decoded back to JSON types

    update = Update.model_validate(fake.press(dana, message, "yes"), context={"bot": bot})
    query = update.callback_query
    assert query is not None and query.data == "yes" and query.chat_instance
    assert query.message is not None and query.message.message_id == message.message_id
    assert await bot.answer_callback_query(query.id, text="נשמר")
    assert fake.callback_answers[query.id]["text"] == "נשמר"
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query.id)  # already answered
    with pytest.raises(ValueError, match="no button"):
        fake.press(dana, message, "maybe")
    assert [e.kind for e in fake.chat_log(dana.id)] == ["text", "callback"]


async def test_callback_data_limits(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(dana.id, "x", reply_markup=keyboard("א" * 33))  # 66 UTF-8 bytes
    await bot.send_message(dana.id, "x", reply_markup=keyboard("א" * 32))  # exactly 64 bytes is fine
    many = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=str(i), callback_data=str(i))] for i in range(101)]
    )
    with pytest.raises(TelegramBadRequest, match="reply markup is too long"):
        await bot.send_message(dana.id, "x", reply_markup=many)
    assert len(fake.sent_messages()) == 1
    assert [r.status for r in fake.requests_for("sendMessage")] == [400, 200, 400]


async def test_validation_errors(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(dana.id, "")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(dana.id, "x" * 4097)
    await bot.send_message(dana.id, "x" * 4096)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(dana.id, "<b>unclosed", parse_mode="HTML")
    html = await bot.send_message(dana.id, "<b>שלום</b> &lt;3", parse_mode="HTML")
    assert html.text == "שלום <3" and fake.last_sent().sent_text == "<b>שלום</b> &lt;3"
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(dana.id, "*שלום*.", parse_mode="MarkdownV2")
    assert (await bot.send_message(dana.id, r"*שלום*\.", parse_mode="MarkdownV2")).text == "שלום."

    update = Update.model_validate(fake.block_bot(dana), context={"bot": bot})
    assert update.my_chat_member and update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(dana.id, "hi")
    fake.unblock_bot(dana)
    await bot.send_message(dana.id, "welcome back")


async def test_edit_and_delete(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    sent = await bot.send_message(dana.id, "v1", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text("v2", chat_id=dana.id, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "v2" and edited.edit_date is not None
    record = fake.last_sent(dana.id)
    assert record.text == "v2" and record.reply_markup is None and len(record.edits) == 1
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=dana.id, message_id=sent.message_id)
    await bot.edit_message_reply_markup(chat_id=dana.id, message_id=sent.message_id, reply_markup=keyboard("b"))
    assert record.callback_data == ["b"]
    assert await bot.delete_message(dana.id, sent.message_id)
    assert record.deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(dana.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("v3", chat_id=dana.id, message_id=sent.message_id)


async def test_poll_answer_and_stop(fake: FakeTelegram, bot: Bot) -> None:
    dana, noa = fake.user(1001, "Dana"), fake.user(1002, "Noa")
    group = fake.group(-1001, "פורום שותפויות", supergroup=True)
    fake.add_bot_to_group(group, dana)
    sent = await bot.send_poll(
        group.id,
        "מתי נפגשים?",
        [InputPollOption(text="ראשון"), InputPollOption(text="שני"), InputPollOption(text="שלישי")],
        is_anonymous=False,
        allows_multiple_answers=True,
    )
    assert sent.poll is not None and not sent.poll.is_anonymous and sent.poll.allows_multiple_answers
    poll_id = sent.poll.id
    first = fake.answer_poll(dana, poll_id, [0, 2])
    fake.answer_poll(noa, poll_id, [2])
    fake.answer_poll(noa, poll_id, [])  # retracted

    updates = await bot.get_updates(offset=first["update_id"], timeout=0)
    answers = [u.poll_answer for u in updates if u.poll_answer is not None]
    assert [(a.user and a.user.id, a.option_ids) for a in answers] == [(1001, [0, 2]), (1002, [2]), (1002, [])]
    assert answers[0].option_persistent_ids == ["o0", "o2"]

    stopped = await bot.stop_poll(group.id, sent.message_id)
    assert stopped.is_closed and stopped.total_voter_count == 1
    assert [o.voter_count for o in stopped.options] == [1, 0, 1]
    with pytest.raises(TelegramBadRequest, match="already been closed"):
        await bot.stop_poll(group.id, sent.message_id)
    with pytest.raises(ValueError, match="closed"):
        fake.answer_poll(noa, poll_id, [1])


async def test_poll_validation(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    with pytest.raises(TelegramBadRequest, match="at least 2"):
        await bot.send_poll(dana.id, "q", ["only"])
    with pytest.raises(TelegramBadRequest, match="more than 12"):
        await bot.send_poll(dana.id, "q", [str(i) for i in range(13)])
    with pytest.raises(TelegramBadRequest, match="question"):
        await bot.send_poll(dana.id, "q" * 301, ["a", "b"])
    with pytest.raises(TelegramBadRequest, match="options length"):
        await bot.send_poll(dana.id, "q", ["a", "b" * 101])
    anonymous = await bot.send_poll(dana.id, "q" * 300, ["a", "b"])
    assert anonymous.poll and anonymous.poll.is_anonymous and anonymous.poll.allows_revoting
    update = Update.model_validate(fake.answer_poll(dana, anonymous.poll.id, [1]), context={"bot": bot})
    assert update.poll is not None and update.poll.options[1].voter_count == 1


async def test_send_document_recorded(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    payload = "שם,טלפון\nדנה,050\n".encode()
    sent = await bot.send_document(dana.id, BufferedInputFile(payload, "report.csv"), caption="הדוח השבועי")
    assert sent.document and sent.document.file_name == "report.csv" and sent.document.file_size == len(payload)
    record = fake.last_sent(dana.id)
    assert record.document is not None and record.document.content == payload
    assert record.document.filename == "report.csv" and record.caption == "הדוח השבועי"
    again = await bot.send_document(dana.id, sent.document.file_id)  # re-send by file_id
    assert again.document and again.document.file_id == sent.document.file_id
    assert fake.last_sent().document == record.document


async def test_429_retry_after_and_measured_retry(bot: Bot) -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake:
        bot.session.api = TelegramAPIServer.from_base(fake.base_url)
        dana = fake.user(1001, "Dana")
        fake.fail_next("sendMessage", "429", retry_after=3)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(dana.id, "hi")
        assert caught.value.retry_after == 3
        failed = fake.requests_for("sendMessage")[-1]
        assert failed.status == 429 and failed.response
        assert failed.response["parameters"] == {"retry_after": 3}
        assert failed.response["description"] == "Too Many Requests: retry after 3"
        clock.advance(caught.value.retry_after)
        await bot.send_message(dana.id, "hi")
        retry = fake.first_request_after(failed.at, "sendMessage")
        assert retry is not None and retry.ok and retry.at - failed.at >= 3


async def test_500_502_and_timeout_faults(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    fake.fail_next("sendMessage", "500")
    with pytest.raises(TelegramServerError):
        await bot.send_message(dana.id, "hi")
    fake.fail_next("*", "502")
    with pytest.raises(ClientDecodeError):
        await bot.get_me()
    fake.fail_next("sendMessage", "timeout", delay=0.3)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(dana.id, "slow", request_timeout=0.1)  # type: ignore[arg-type]
    await fake.wait_for(lambda r: r.params["text"] == "slow", method="sendMessage", timeout=2)
    assert [r.fault for r in fake.requests] == ["500", "502", "timeout"]


async def test_stop_does_not_wait_for_held_requests() -> None:
    fake = FakeTelegram()
    await fake.start()
    bot = fake.make_bot()
    fake.fail_next("getMe", "timeout")  # default hold: 30 s
    with pytest.raises(TelegramNetworkError):
        await bot.get_me(request_timeout=0.1)  # type: ignore[arg-type]
    long_poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await fake.stop()
    assert await long_poll == []
    assert asyncio.get_running_loop().time() - started < 1
    await bot.session.close()


async def test_enforced_rate_limits(bot: Bot) -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock, enforce_limits=True, per_group_per_minute=3) as fake:
        bot.session.api = TelegramAPIServer.from_base(fake.base_url)
        dana = fake.user(1001, "Dana")
        await bot.send_message(dana.id, "1")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(dana.id, "2")
        assert caught.value.retry_after == 1
        assert [(v.rule, v.chat_id) for v in fake.limit_violations] == [("per_chat", dana.id)]
        clock.advance(1)
        await bot.send_message(dana.id, "2")

        group = fake.group(-1002, "Group")
        fake.add_bot_to_group(group, dana)
        for _ in range(3):
            await bot.send_message(group.id, "g")
            clock.advance(1.5)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(group.id, "g")
        assert fake.limit_violations[-1].rule == "per_group" and caught.value.retry_after == 56
        assert len(fake.limit_violations) == 2


async def test_get_updates_long_poll_and_offset(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana", username="dana_k")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()  # long-polling: waits for an update
    queued = fake.send_text(dana, "/start code42")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [queued["update_id"]]
    message = updates[0].message
    assert message is not None and message.text == "/start code42"
    assert message.from_user and message.from_user.language_code == "he"
    assert message.entities and message.entities[0].type == "bot_command"

    assert len(await bot.get_updates(timeout=0)) == 1  # not confirmed yet
    assert await bot.get_updates(offset=queued["update_id"] + 1, timeout=0) == []
    assert fake.pending_updates == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_dispatcher_polling_end_to_end(fake: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"קוד: {command.args}")

    dana = fake.user(1001, "Dana")
    task = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False))
    try:
        fake.send_text(dana, "/start abc")
        reply = await fake.wait_for(lambda r: r.params["chat_id"] == dana.id, method="sendMessage")
        assert reply.params["text"] == "קוד: abc"
        assert [str(e) for e in fake.chat_log(dana.id)] == ["user text        /start abc", "bot  text        קוד: abc"]
    finally:
        await dp.stop_polling()
        await task


async def test_webhook_delivery_with_secret_and_retries(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    statuses = iter([500, 200, 200])

    async def receiver(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=next(statuses))

    app = web.Application()
    app.router.add_post("/hook", receiver)
    async with serve(app) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cr3t")
        dana = fake.user(1001, "Dana")
        first = fake.send_text(dana, "שלום")
        second = fake.send_text(dana, "עוד")
        for _ in range(100):
            if len(received) == 3:
                break
            await asyncio.sleep(0.02)
        assert [body["update_id"] for _, body in received] == [first["update_id"]] * 2 + [second["update_id"]]
        assert {secret for secret, _ in received} == {"s3cr3t"}
        assert [d.status for d in fake.webhook_deliveries] == [500, 200, 200]
        info = await bot.get_webhook_info()
        assert info.url == f"{url}/hook" and info.pending_update_count == 0
        assert info.last_error_message and "500" in info.last_error_message
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""


async def test_webhook_reply_method_is_executed(fake: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> object:
        return message.answer(f"echo: {message.text}")  # returned, not awaited: answered in the webhook reply

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, handle_in_background=False).register(app, path="/wh")
    async with serve(app) as url:
        await bot.set_webhook(f"{url}/wh")
        dana = fake.user(1001, "Dana")
        fake.send_text(dana, "היי")
        reply = await fake.wait_for(lambda r: r.via == "webhook-reply", timeout=3)
        assert reply.method == "sendMessage" and reply.params["text"] == "echo: היי"
        assert fake.last_sent(dana.id).text == "echo: היי"
        await bot.delete_webhook()


async def test_group_membership(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    group = fake.group(-1003, "מורים")
    with pytest.raises(TelegramForbiddenError, match="not a member"):
        await bot.send_message(group.id, "hi")
    with pytest.raises(ValueError, match="not a member"):
        fake.send_text(dana, "hi", chat=group)
    added = Update.model_validate(fake.add_bot_to_group(group, dana), context={"bot": bot})
    assert added.my_chat_member and added.my_chat_member.old_chat_member.status == "left"
    assert added.my_chat_member.new_chat_member.user.id == bot.id
    in_group = Update.model_validate(fake.send_text(dana, "שלום לכולם", chat=group), context={"bot": bot})
    assert in_group.message and in_group.message.chat.type == "group" and in_group.message.chat.title == "מורים"
    await bot.send_message(group.id, "hi")
    chat = await bot.get_chat(group.id)
    assert chat.title == "מורים" and chat.type == "group"
    assert await bot.leave_chat(group.id)
    assert fake.updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "left"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(group.id, "hi")


async def test_commands_menu_button_and_chat_action(fake: FakeTelegram, bot: Bot) -> None:
    dana = fake.user(1001, "Dana")
    he = [BotCommand(command="start", description="התחלה"), BotCommand(command="help", description="עזרה")]
    await bot.set_my_commands(he, language_code="he")
    await bot.set_my_commands([BotCommand(command="poll", description="סקר")], scope=BotCommandScopeAllGroupChats())
    await bot.set_my_commands(he[:1], scope=BotCommandScopeChat(chat_id=dana.id))
    assert [c.command for c in await bot.get_my_commands(language_code="he")] == ["start", "help"]
    assert await bot.get_my_commands() == []
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())] == ["poll"]
    assert [c["command"] for c in fake.commands({"type": "chat", "chat_id": dana.id})] == ["start"]
    await bot.delete_my_commands(language_code="he")
    assert fake.commands(language_code="he") == []
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])

    assert await bot.set_chat_menu_button(chat_id=dana.id)
    assert fake.menu_buttons[dana.id] == {"type": "default"}
    assert await bot.send_chat_action(dana.id, "typing")
    assert fake.chat_actions == [(dana.id, "typing")]
    assert (await bot.get_chat(dana.id)).first_name == "Dana"


async def test_raw_http_clients_json_form_and_unknown_method(fake: FakeTelegram) -> None:
    dana = fake.user(1001, "Dana")
    base = f"{fake.base_url}/bot999:XYZ"
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}
    async with aiohttp.ClientSession() as http:
        as_json = {"chat_id": dana.id, "text": "1", "reply_markup": markup}
        async with http.post(f"{base}/sendMessage", json=as_json) as r:
            body = await r.json()
            assert r.status == 200 and body["ok"] and body["result"]["reply_markup"] == markup
        nested = '{"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}'  # nested JSON as a string
        form = {"chat_id": str(dana.id), "text": "123", "reply_markup": nested}
        async with http.post(f"{base}/SENDMESSAGE", data=form) as r:  # method names are case-insensitive
            body = await r.json()
            assert r.status == 200 and body["result"]["text"] == "123"
        assert fake.last_sent().callback_data == ["a"] and fake.requests[-1].token == "999:XYZ"
        async with http.get(f"{base}/getMe") as r:
            assert (await r.json())["result"]["username"] == "forumbot_test_bot"
        async with http.post(f"{base}/sendSticker", json={}) as r:
            assert r.status == 404
            assert await r.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_wait_for_timeout_lists_recent_requests(fake: FakeTelegram, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(AssertionError, match=r"(?s)timed out.*getMe -> 200"):
        await fake.wait_for(lambda r: r.method == "sendMessage", timeout=0.05)
    dana = fake.user(1001, "Dana")
    waiter = asyncio.ensure_future(fake.wait_for_count(3, method="sendMessage", timeout=2))
    await asyncio.gather(*(bot.send_message(dana.id, str(i)) for i in range(3)))
    counted = await waiter
    assert sorted(r.params["text"] for r in counted) == ["0", "1", "2"]
    with pytest.raises(AssertionError, match="wanted 4 successful sendMessage, got 3"):
        await fake.wait_for_count(4, method="sendMessage", timeout=0.05)

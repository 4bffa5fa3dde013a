"""The `forumbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from bot.i18n import LOCALES

log = logging.getLogger("forumbot")


class UserError(Exception):
    """A mistake the operator can fix; shown as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="forumbot", description="The partnership forums bot.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("run", help="run the configured channels, the scheduler and the HTTP server")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")

    org = sub.add_parser("org", help="the org tree (HQ, districts, authorities, schools)")
    org_sub = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    imp = org_sub.add_parser("import", help="import units from CSV: code,name,tier,parent_code[,name_en,sector]")
    imp.add_argument("file", type=Path)

    forum = sub.add_parser("forum", help="forums of a unit")
    forum_sub = forum.add_subparsers(dest="forum_command", metavar="ACTION", required=True)
    fc = forum_sub.add_parser("create", help="open another kind of forum for a unit")
    fc.add_argument("--unit", required=True, help="the unit's code")
    fc.add_argument("--kind", required=True, choices=["crosscut", "partnership"])
    forum_sub.add_parser("list", help="list forums with their codes")

    roles = sub.add_parser("roles", help="list the role keys with their Hebrew and English names")
    roles.add_argument("--tier", choices=["hq", "district", "authority", "school"])

    inv = sub.add_parser("invite", help="create an invite code for a forum and role")
    inv.add_argument("--forum", required=True, help="the forum's code (a unit's main forum has the unit's code)")
    inv.add_argument("--role", required=True, help="a role key (see `forumbot roles`)")
    inv.add_argument("--uses", type=int, default=1, help="how many people may use it (default 1)")
    inv.add_argument("--expires", type=int, default=14, help="days until it expires (default 14)")

    con = sub.add_parser("console", help="chat with the bot in this terminal")
    con.add_argument("--as", dest="person", default="console", help="who you are in the console (default: console)")

    admin = sub.add_parser("admin", help="system administrators")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    grant = admin_sub.add_parser("grant", help="make a registered person a system administrator")
    grant.add_argument("--channel", required=True, choices=["telegram", "whatsapp", "console"])
    grant.add_argument("--id", required=True, help="their id on that channel")

    weblink = sub.add_parser("weblink", help="print a one-time sign-in link to the web page for a registered person")
    weblink.add_argument("--channel", required=True, help="telegram, whatsapp or console")
    weblink.add_argument("--id", required=True, help="the person's id on that channel")

    jobs = sub.add_parser("jobs", help="scheduled work")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    due = jobs_sub.add_parser("run-due", help="run every scheduled step that is due, exactly once")
    due.add_argument("--now", help="the instant to run at (ISO 8601, default: now)")

    wa = sub.add_parser("whatsapp", help="the WhatsApp channel")
    wa_sub = wa.add_subparsers(dest="whatsapp_command", metavar="ACTION", required=True)
    templates = wa_sub.add_parser(
        "templates", help="print the message templates in the form Meta's template API takes, or submit them"
    )
    templates.add_argument(
        "--submit", action="store_true", help="submit them for review (needs WHATSAPP_TOKEN and WHATSAPP_WABA_ID)"
    )
    exp = sub.add_parser(
        "export", help="a forum's raised issues, agenda items or decisions, or a survey's answers, as a spreadsheet"
    )
    exp.add_argument("what", choices=["issues", "agenda", "decisions", "survey"])
    exp.add_argument("--forum", help="the forum's code, for issues, agenda and decisions")
    exp.add_argument("--id", type=int, help="the survey's number, for survey")
    exp.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="csv (UTF-8 with BOM, default) or xlsx")
    exp.add_argument(
        "--output",
        "--out",
        help="the file to write, - for standard output (default: WHAT-FORUM.FORMAT, survey-ID.FORMAT)",
    )
    exp.add_argument("--language", choices=LOCALES, help="of headers and labels (default: the bot's)")

    clock = sub.add_parser(
        "clock", help="the deployment's simulated clock (needs FORUMBOT_SIMULATED_CLOCK=true)"
    )
    clock_sub = clock.add_subparsers(dest="clock_command", metavar="ACTION", required=True)
    cset = clock_sub.add_parser("set", help="move the clock to an instant and run what is due by then")
    cset.add_argument("at", help="ISO 8601, e.g. 2027-01-17T08:00+02:00 (no offset: the bot's time zone)")
    cadv = clock_sub.add_parser("advance", help="move the clock on (7d, 36h, 1d12h, 90m) and run what is due")
    cadv.add_argument("by", help="how far: a number and w, d, h, m or s")
    clock_sub.add_parser("show", help="what time the deployment thinks it is")
    clock_sub.add_parser("reset", help="back to the real time")

    demo = sub.add_parser("demo", help="play the whole story of a gap on a fresh database, as a transcript")
    demo.add_argument("--language", choices=LOCALES, default="he", help="of the people and the bot")
    demo.add_argument(
        "--data-dir", type=Path, help="where its database and files go (default: ./var/demo, emptied each time)",
    )
    demo.add_argument("--pace", type=float, default=0.8, help="seconds between two steps, to read along (0: at once)")

    i18n = sub.add_parser("i18n", help="translation catalogs")
    i18n_sub = i18n.add_subparsers(dest="i18n_command", metavar="ACTION", required=True)
    i18n_sub.add_parser("check", help="list messages missing from any catalog")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logs import configure

        configure(settings.log_level, settings.log_format)
        handler = COMMANDS[args.command]
        return asyncio.run(handler(settings, args))
    except (ConfigError, UserError) as exc:
        print(f"forumbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader went away (`forumbot invite … | head -1`): stop quietly, as `cat` would."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not complain
    return 0


async def _with_app(settings: Settings, fn: Callable[[Any], Awaitable[int]], *, migrate: bool = True) -> int:
    from bot.app import build_app
    from bot.storage.migrate import upgrade_async

    if migrate:
        await upgrade_async(settings.effective_database_url)
    app = build_app(settings)
    try:
        await app.refresh_clock()
        return await fn(app)
    finally:
        await app.close()


async def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.migrate import upgrade_async

    await upgrade_async(settings.effective_database_url)
    print("database is up to date")
    return 0


async def cmd_org(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.forums.orgs import OrgImportError, import_org_rows, parse_org_csv

    path: Path = args.file
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None

    async def go(app: Any) -> int:
        try:
            rows = parse_org_csv(text, str(path))
            async with app.db.unit_of_work() as session:
                report = await import_org_rows(session, rows, now=app.clock.now(), filename=str(path))
        except OrgImportError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print("forumbot: nothing was imported", file=sys.stderr)
            return 2
        print(
            f"imported {len(report.codes)} units: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged; {report.forums_created} forums opened"
        )
        return 0

    return await _with_app(settings, go)


async def cmd_forum(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.domain.tiers import ForumKind
    from bot.services.errors import Refused
    from bot.services.forums.orgs import create_forum
    from bot.storage.models import Forum, OrgUnit

    async def go(app: Any) -> int:
        if args.forum_command == "list":
            async with app.db.sessions() as session:
                rows = await session.execute(
                    select(Forum.code, Forum.kind, Forum.cadence, OrgUnit.tier, OrgUnit.name)
                    .join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
                    .order_by(OrgUnit.tier, Forum.code)
                )
                for code, kind, cadence, tier, name in rows:
                    print(f"{code}\t{tier}\t{kind}\t{cadence}\t{name}")
            return 0
        try:
            async with app.db.unit_of_work() as session:
                forum = await create_forum(session, args.unit, ForumKind(args.kind), now=app.clock.now())
        except Refused as exc:
            raise UserError(exc.msgid.format(**exc.params)) from None
        print(forum.code)
        return 0

    return await _with_app(settings, go)


async def cmd_roles(settings: Settings, args: argparse.Namespace) -> int:
    from bot.domain.roles import CATALOGUE

    for (tier, kind), roles in CATALOGUE.items():
        if args.tier and tier.value != args.tier:
            continue
        print(f"# {tier.value} / {kind.value}")
        for role in roles:
            marks = ",".join(m for m, on in (("lead", role.leads), ("required", role.required)) if on)
            print(f"{role.key}\t{role.he}\t{role.en}" + (f"\t[{marks}]" if marks else ""))
        print()
    return 0


async def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.errors import Refused
    from bot.services.forums import invites

    async def go(app: Any) -> int:
        try:
            async with app.db.unit_of_work() as session:
                forum = await invites.forum_by_code(session, args.forum)
                invite = await invites.create_invite(
                    session,
                    forum=forum,
                    role=args.role,
                    now=app.clock.now(),
                    uses=args.uses,
                    expires_days=args.expires,
                )
        except Refused as exc:
            raise UserError(exc.msgid.format(**exc.params)) from None
        await resolve_links(app)
        print(f"code: {invite.code}")
        if app.links.telegram_username:
            print(f"telegram: {invites.telegram_link(app.links.telegram_username, invite.code)}")
        elif settings.telegram_enabled:
            print("telegram: no link (Telegram did not answer with the bot's username; try again)")
        else:
            print("telegram: no link (set TELEGRAM_BOT_TOKEN from @BotFather, and invite prints the t.me link)")
        if not app.links.telegram_username and not app.links.whatsapp_number:
            print(f"console: forumbot console --as NAME, then /start {invite.code}")
        if app.links.whatsapp_number:
            print(f"whatsapp: https://wa.me/{app.links.whatsapp_number}?text={invite.code}")
        print(f"role: {invite.role} · uses: {invite.max_uses} · expires: {invite.expires_at.isoformat()}")
        return 0

    return await _with_app(settings, go)


async def resolve_links(app: Any) -> None:
    """Ask the configured channels for their public names (t.me username, wa.me number)."""
    from bot.channels import links

    await links.resolve(app)


async def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.console import ConsoleSender, run_console

    async def go(app: Any) -> int:
        app.add_sender(ConsoleSender(files_dir=settings.data_dir / "console"))
        await run_console(app, args.person)
        return 0

    return await _with_app(settings, go)


async def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.services import audit
    from bot.storage.models import ChannelIdentity, Person

    async def go(app: Any) -> int:
        async with app.db.unit_of_work() as session:
            person = await session.scalar(
                select(Person)
                .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
                .where(ChannelIdentity.channel == args.channel, ChannelIdentity.external_id == args.id)
            )
            if person is None:
                raise UserError(f"no registered person has id {args.id} on {args.channel}")
            person.is_admin = True
            audit.record(session, now=app.clock.now(), action="admin.grant", subject=f"person:{person.id}")
        print(f"person {person.id} is now a system administrator")
        return 0

    return await _with_app(settings, go)


async def cmd_weblink(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.web import sessions as websessions
    from handlers.web import web_link

    async def go(app: Any) -> int:
        async with app.db.unit_of_work() as session:
            person = await websessions.person_by_identity(session, args.channel, args.id)
            if person is None:
                raise UserError(f"no registered person has id {args.id} on {args.channel}")
            token = await websessions.mint_link(session, person.id, app.clock.now())
        print(web_link(settings.web_base_url, token))
        print("single use, valid for 10 minutes", file=sys.stderr)
        return 0

    return await _with_app(settings, go)


async def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import FixedClock

    now = _aware(settings, args.now, "--now") if args.now else None

    async def go(app: Any) -> int:
        from scheduler.jobs import run_due

        if now is not None:
            app.clock = FixedClock(now)
            app.delivery.clock = app.clock
        done = await run_due(app, app.clock.now())
        for name, count in done.items():
            print(f"{name}: {'failed' if count < 0 else count}")
        return 1 if any(c < 0 for c in done.values()) else 0

    return await _with_app(settings, go)


def _aware(settings: Settings, text: str, what: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not an ISO 8601 date-time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=settings.tz)


async def cmd_clock(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import ClockRefused, SimulatedClock, parse_duration

    def shown(at: datetime) -> str:
        return at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %A") + f" ({settings.timezone})"

    if args.clock_command != "show" and not settings.simulated_clock:
        raise UserError(
            "the clock is the real one; to move it, run the whole deployment with FORUMBOT_SIMULATED_CLOCK=true"
        )
    delta = None
    if args.clock_command == "advance":
        try:
            delta = parse_duration(args.by)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    target = _aware(settings, args.at, "clock set") if args.clock_command == "set" else None

    async def go(app: Any) -> int:
        from scheduler.jobs import run_due

        clock = app.clock
        if not isinstance(clock, SimulatedClock):
            print(f"real time: {shown(clock.now())} (FORUMBOT_SIMULATED_CLOCK is off)")
            return 0
        try:
            if args.clock_command == "show":
                state = "simulated" if clock.moved else "simulated, not moved yet"
                print(f"{state}: {shown(clock.now())}")
                if clock.moved:
                    print(f"ahead of the real time by {_span(clock.offset)}")
                return 0
            if args.clock_command == "reset":
                await clock.reset()
                print(f"back to the real time: {shown(clock.now())}")
                return 0
            if target is not None:
                now = await clock.set(target)
            else:
                assert delta is not None
                now = await clock.advance(delta)
        except ClockRefused as exc:
            raise UserError(
                f"the clock only moves forward (it is {shown(exc.current)}); "
                "`forumbot clock reset` takes it back to the real time"
            ) from None
        print(f"the clock is now {shown(now)}")
        done = await run_due(app, now)
        ran = {name: count for name, count in done.items() if count}
        for name, count in ran.items():
            print(f"{name}: {'failed' if count < 0 else count}")
        if not ran:
            print("nothing was due")
        return 1 if any(c < 0 for c in done.values()) else 0

    return await _with_app(settings, go)


def _span(delta: Any) -> str:
    minutes_in_all = round(delta.total_seconds() / 60)
    days, seconds = divmod(minutes_in_all * 60, 86400)
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.i18n import Translator
    from bot.services.errors import Refused
    from bot.services.forums import invites
    from bot.services.meetings import exports
    from bot.services.surveys import answers as surveys

    t = Translator(args.language or settings.default_locale, "p", settings.tz)
    if args.what == "survey" and args.id is None:
        raise UserError("export survey needs --id N (the survey's number)")
    if args.what != "survey" and not args.forum:
        raise UserError(f"export {args.what} needs --forum CODE")

    async def go(app: Any) -> int:
        try:
            async with app.db.sessions() as session:
                if args.what == "survey":
                    made_survey = await surveys.export(session, survey_id=args.id, fmt=args.format, t=t, system=True)
                    name, data, rows = made_survey.ascii_name, made_survey.data, made_survey.rows
                else:
                    forum = await invites.forum_by_code(session, args.forum)
                    made = await exports.export(
                        session, forum=forum, what=args.what, fmt=args.format, t=t, operator=True
                    )
                    name, data, rows = made.ascii_name, made.data, made.rows
        except Refused as exc:
            prefix = f"survey {args.id}: " if args.what == "survey" else ""
            raise UserError(prefix + exc.msgid.format(**exc.params)) from None
        if args.output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return 0
        path = Path(args.output or name)
        try:
            await asyncio.to_thread(path.write_bytes, data)
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc}") from None
        print(f"wrote {rows} rows to {path}")
        return 0

    return await _with_app(settings, go)


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import DemoError, play

    try:
        return await play(args.data_dir or settings.data_dir / "demo", args.language, pace=max(args.pace, 0.0))
    except DemoError as exc:
        raise UserError(str(exc)) from None


async def cmd_i18n(settings: Settings, args: argparse.Namespace) -> int:
    from bot.i18n_check import all_problems, extracted_messages

    problems = all_problems()
    for line in problems:
        print(line)
    if problems:
        return 1
    count = len(extracted_messages())
    print(f"ok: {count} messages, translated in he and ar (English comes from the msgids)")
    return 0


async def cmd_whatsapp(settings: Settings, args: argparse.Namespace) -> int:
    import json

    import httpx

    from bot.channels.whatsapp import load_templates, submit_templates

    if not args.submit:
        print(json.dumps(load_templates(), ensure_ascii=False, indent=2))
        return 0
    if settings.whatsapp_token is None or not settings.whatsapp_token.get_secret_value():
        raise UserError("setting WHATSAPP_TOKEN is needed to submit templates")
    if not settings.whatsapp_waba_id:
        raise UserError(
            "setting WHATSAPP_WABA_ID is needed to submit templates "
            "(Meta app dashboard → WhatsApp → API setup → WhatsApp Business Account ID)"
        )
    try:
        results = await submit_templates(settings)
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach {settings.whatsapp_api_base}: {type(exc).__name__}") from None
    refused = 0
    for template, outcome in results:
        label = f"{template['name']} [{template['language']}]"
        if isinstance(outcome, str):
            refused += 1
            print(f"{label}: refused: {outcome}", file=sys.stderr)
        else:
            print(f"{label}: {outcome.get('status', '?')} (id {outcome.get('id', '?')})")
    return 1 if refused else 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run

    return await run(settings)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "run": cmd_run,
    "db": cmd_db,
    "org": cmd_org,
    "forum": cmd_forum,
    "roles": cmd_roles,
    "invite": cmd_invite,
    "console": cmd_console,
    "admin": cmd_admin,
    "jobs": cmd_jobs,
    "weblink": cmd_weblink,
    "whatsapp": cmd_whatsapp,
    "export": cmd_export,
    "i18n": cmd_i18n,
    "clock": cmd_clock,
    "demo": cmd_demo,
}

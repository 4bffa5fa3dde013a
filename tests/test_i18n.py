from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from bidi import get_display

from bot.domain.text import gendered
from bot.i18n import FSI, LRI, LRM, PDI, RLM, Ltr, Translator
from bot.i18n_check import (
    SOURCE_LOCALE,
    bare_commands,
    catalog_entries,
    extracted_messages,
    missing_translations,
    style_problems,
)


def test_every_catalog_is_complete_and_nothing_is_fuzzy() -> None:
    assert extracted_messages(), "extraction found no messages at all"
    assert missing_translations() == []


def test_english_comes_from_the_msgids() -> None:
    # en keeps only entries whose English differs from the msgid; the rest is read from the msgids
    assert SOURCE_LOCALE == "en"
    for (_context, msgid), message in catalog_entries("en").items():
        assert message.string != msgid, f"en repeats its msgid: {msgid!r}"  # type: ignore[attr-defined]
    en = Translator("en", "f")
    assert en._("Cancel") == "Cancel"
    assert en.n_("one school", "{n} schools", 3) == "3 schools"


def test_hebrew_has_three_plural_forms_including_the_dual() -> None:
    t = Translator("he")
    one, two, many = (
        t.n_("It can be used once, until {date}.", "It can be used {n} times, until {date}.", n, date="x")
        for n in (1, 2, 7)
    )
    assert "פעם אחת" in one and "פעמיים" in two and "7 פעמים" in many


def test_arabic_plural_forms() -> None:
    t = Translator("ar")
    two = t.n_("It can be used once, until {date}.", "It can be used {n} times, until {date}.", 2, date="x")
    assert "مرتين" in two


def test_form_of_address_changes_the_wording() -> None:
    msgid = "Welcome, {name}! You are registered as {role} in {forum}."
    kw = {"name": "נועה", "role": "x", "forum": "y"}
    assert Translator("he", "f")._(msgid, **kw).startswith("ברוכה הבאה")
    assert Translator("he", "m")._(msgid, **kw).startswith("ברוך הבא")
    assert Translator("he", "p")._(msgid, **kw).startswith("ברוכים הבאים")
    assert Translator("en", "f")._(msgid, **kw).startswith("Welcome")


def test_gendered_role_names() -> None:
    assert gendered("מנהל/ת בית הספר", "f") == "מנהלת בית הספר"
    assert gendered("יועץ/ת בית הספר", "f") == "יועצת בית הספר"
    assert gendered("מפקח/ת מתכלל/ת", "m") == "מפקח מתכלל"
    assert gendered("שותף/ה נוסף/ת", "f") == "שותפה נוספת"
    assert gendered("مدير/ة المدرسة", "f") == "مديرة المدرسة"
    assert gendered("מנהל/ת", "p") == "מנהל/ת"


def test_interpolated_values_are_isolated_in_rtl_only() -> None:
    he = Translator("he")
    text = he._("Code: {code}", code=Ltr("AB12-cd"))
    assert text == f"קוד: {LRI}AB12-cd{PDI}"
    name = he._("Welcome back, {name}! Send /help to see what I can do.", name="Dana")
    assert f"{FSI}Dana{PDI}" in name
    en = Translator("en")
    assert en._("Code: {code}", code=Ltr("AB12")) == "Code: AB12"


def test_rtl_message_starting_with_latin_gets_an_rlm() -> None:
    he = Translator("he")
    assert he.direction("forumbot שלום").startswith(RLM)
    assert not he.direction("שלום forumbot").startswith(RLM)
    assert not Translator("en").direction("forumbot").startswith(RLM)


def test_mixed_text_displays_in_the_right_order() -> None:
    he = Translator("he")
    # A Hebrew line that starts with a code: without the RLM it is laid out left to right (code on
    # the left); with it, right to left, so the code that starts the sentence is on the right.
    assert get_display("AB-12 קוד").startswith("AB-12")
    assert get_display(he.direction("AB-12 קוד")).replace(RLM, "").endswith("AB-12")
    assert get_display(he._("Code: {code}", code=Ltr("AB-12"))).replace(LRI, "").replace(PDI, "") == "AB-12 :דוק"


def test_dates_in_each_locale_in_jerusalem_time() -> None:
    moment = datetime(2026, 10, 27, 22, 30, tzinfo=UTC)  # already the 28th in Jerusalem
    assert Translator("he").date(moment) == "יום רביעי, 28 באוקטובר 2026"
    assert Translator("en").date(date(2026, 10, 27)).startswith("Tuesday")
    assert "2026" in Translator("ar").date(date(2026, 10, 27))
    assert Translator("he").time(moment) == "00:30"


# -- the house rules of locales/GLOSSARY.md ------------------------------------------------------


def test_no_bare_command_latin_name_or_hash_id_in_hebrew_and_arabic() -> None:
    assert style_problems() == []


def test_the_style_check_catches_what_it_should() -> None:
    assert bare_commands("שלחו /agenda כדי לראות") == ["/agenda"]
    assert bare_commands("شغّل \u200e/issues") == ["/issues"]  # isolated on one side only
    assert bare_commands("שלחו \u200e/agenda\u200f או \u2066/help\u2069") == []
    assert bare_commands("12/1 או https://t.me/x או a/b") == []


def test_he_and_ar_catalogs_are_fully_translated() -> None:
    problems = [p for p in missing_translations() if p.startswith(("he:", "ar:"))]
    assert problems == []
    for locale in ("he", "ar"):
        for (_context, msgid), message in catalog_entries(locale).items():
            assert not message.fuzzy, f"{locale}: fuzzy {msgid!r}"  # type: ignore[attr-defined]
            strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
            assert all(strings), f"{locale}: untranslated {msgid!r}"


def shown(text: str) -> str:
    """What a reader sees, left to right on the screen, without the invisible marks."""
    return "".join(ch for ch in get_display(text) if ch not in (RLM, LRM, FSI, LRI, PDI))


def test_commands_read_right_in_hebrew_and_arabic() -> None:
    for locale in ("he", "ar"):
        t = Translator(locale, "f")
        for msgid, command in (
            ("Fine. Send /meeting to go on from where you stopped.", "/meeting"),
            ("No meeting date is set. Set it in /agenda, then record the outcomes after the meeting.", "/agenda"),
            ("There are no open issues in {forum}. To raise one: /issue", "/issue"),
        ):
            screen = shown(t._(msgid, forum="x"))
            assert command in screen, (locale, screen)
            assert command[1:] + "/" not in screen, (locale, screen)  # not mirrored into "agenda/"
        more = shown(t.n_("…and one more: /issues", "…and {n} more: /issues", 3))
        assert "/issues" in more and "issues/" not in more
        # a command given as a value
        assert "/link CODE" in shown(t._("Code: {code}", code=t.command("/link CODE")))


def test_ids_read_hash_first_in_both_directions() -> None:
    # A bare "#{id}" in a right-to-left sentence shows as "12#"; t.ref keeps "#12".
    bare = Translator("he").format("הפער #{id} הועבר", {"id": 12})
    assert "12#" in shown(bare)
    for locale in ("he", "ar", "en"):
        t = Translator(locale)
        text = t._("Issue {ref} {title} was escalated to {forum}.", ref=t.ref(12), title="כותרת", forum="פורום")
        assert "#12" in shown(text) and "12#" not in shown(text), (locale, shown(text))
        thanks = t._("Thank you. It is recorded as {ref} and the forum's lead was told. "
                     "I will let you know whenever its status changes.", ref=t.ref(7))
        assert "#7" in shown(thanks) and "7#" not in shown(thanks)


def test_dates_in_running_text_have_the_month_in_words() -> None:
    day = date(2026, 1, 12)
    assert Translator("he").date(day, "long") == "12 בינואר 2026"
    assert Translator("ar").date(day, "long") == "12 كانون الثاني 2026"
    assert Translator("ar").date(date(2026, 10, 3), "LLLL y") == "تشرين الأول 2026"
    assert Translator("en").date(day, "long") == "12 January 2026"
    for locale in ("he", "ar"):
        t = Translator(locale)
        line = t._("The next meeting is on {when}.", when=t.date(day, "long"))
        screen = shown(line)
        # the day, the month and the year stay in reading order: 12 … 2026, the month between
        assert "12" in screen and "2026" in screen
        month = "ינואר" if locale == "he" else "كانون الثاني"
        assert month[::-1] in screen or month in screen
        # right to left: the year (last in logical order) is shown left of the day
        assert screen.index("2026") < screen.index("12"), (locale, screen)


def test_mixed_direction_names_keep_their_order() -> None:
    for locale, joiner in (("he", ", "), ("ar", "، ")):
        t = Translator(locale)
        names = t.join(["Dana Levi", "נועה ברק", "Sam Cohen"])
        assert joiner in names
        line = t._("Not answered yet: {names}", names=names)
        screen = shown(line)
        assert "Dana Levi" in screen and "Sam Cohen" in screen  # Latin names are not reversed
        assert "נועה ברק"[::-1] in screen  # Hebrew shown right to left
        # right to left, the first name is the rightmost one
        assert screen.index("Sam Cohen") < screen.index("Dana Levi"), (locale, screen)
        welcome = shown(t._("Welcome back, {name}! Send /help to see what I can do.", name="Dana Levi"))
        assert "Dana Levi" in welcome and "/help" in welcome
    assert Translator("en").join(["a", "b"]) == "a, b"


def test_file_names_in_the_readers_language_with_an_ascii_fallback() -> None:
    from bot.core.messages import FileSpec
    from bot.i18n import ascii_filename

    he = Translator("he")
    name = he.filename("escalation-digest-{forum}", "csv", forum=Ltr("A2100"))
    assert name == "ריכוז-פערים-A2100.csv"
    assert Translator("ar").filename("meeting-{number}", "ics", number=12) == "اجتماع-12.ics"
    assert Translator("en").filename("survey-{number}", "csv", number=3) == "survey-3.csv"
    fallback = ascii_filename("escalation-digest-{forum}", "csv", forum="A2100")
    assert fallback == "escalation-digest-A2100.csv"
    spec = FileSpec.of(name, "text/csv", b"x", fallback)
    assert spec.safe_name == fallback and FileSpec.of("a.csv", "text/csv", b"x").safe_name == "a.csv"
    assert FileSpec.of("קובץ.csv", "text/csv", b"x").safe_name == "file.csv"


def test_arabic_escalation_addresses_each_person_in_their_form() -> None:
    msgid = "You were put in charge of {title} in {forum}."
    kw = {"title": "x", "forum": "y"}
    assert "مسؤولين" in Translator("ar", "p")._(msgid, **kw)  # the plain entry is the plural
    assert "مسؤولًا" in Translator("ar", "m")._(msgid, **kw)
    assert "مسؤولة" in Translator("ar", "f")._(msgid, **kw)
    press = "Press a number to acknowledge it, put someone in charge, answer it or forward it up."
    assert Translator("ar", "p")._(press).startswith("اضغطوا")
    assert Translator("ar", "f")._(press).startswith("اضغطي")
    # a count in a placeholder is worded to agree with any number (3–10 take a plural, 11+ a singular)
    for n in (3, 11, 120):
        assert "الحد الأقصى لعدد الأحرف" in Translator("ar")._("That is too long: at most {max} characters.", max=n)


def test_every_catalog_of_a_language_counts_the_same_way() -> None:
    from babel.messages.pofile import read_po

    from bot.i18n import locales_dir

    for locale in ("he", "ar"):
        rules = set()
        for path in sorted((locales_dir() / locale / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as fh:
                rules.add((path.name, read_po(fh, locale=locale).plural_expr))
        assert len({rule for _name, rule in rules}) == 1, rules


def test_the_check_fails_on_fuzzy_untranslated_and_misstyled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = 'msgid ""\nmsgstr ""\n"Language: he\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    folder = tmp_path / "locales" / "he" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "x.po").write_text(
        header
        + '#, fuzzy\nmsgid "Cancel"\nmsgstr "ביטול"\n\n'
        + 'msgid "Join"\nmsgstr ""\n\n'
        + 'msgid "Send /help"\nmsgstr "שלחו /help ל־forumbot"\n',
        encoding="utf-8",
    )
    for locale in ("ar", "en"):
        (tmp_path / "locales" / locale / "LC_MESSAGES").mkdir(parents=True)
    monkeypatch.setenv("FORUMBOT_LOCALES_DIR", str(tmp_path / "locales"))
    problems = missing_translations() + style_problems()
    assert "he: fuzzy: 'Cancel'" in problems
    assert "he: untranslated: 'Join'" in problems
    assert any(p.startswith("he: bare command /help") for p in problems)
    assert any(p.startswith("he: Latin product name") for p in problems)

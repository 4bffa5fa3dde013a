from __future__ import annotations

from datetime import UTC, date, datetime

from bidi import get_display

from bot.domain.text import gendered
from bot.i18n import FSI, LRI, PDI, RLM, Ltr, Translator
from bot.i18n_check import SOURCE_LOCALE, catalog_entries, extracted_messages, missing_translations


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

"""How the core's messages are laid out for WhatsApp (pure functions; the fake checks the same limits)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.whatsapp_render import (
    MAX_BODY,
    ButtonsPart,
    DocumentPart,
    Labels,
    ListPart,
    TextPart,
    next_page,
    numbered,
    plan,
    shorten,
    split_text,
    subject_of,
    unique_titles,
)
from bot.core.messages import Button, FileSpec, Outbound, OutKind, PollSpec

LABELS = Labels(options="אפשרויות", vote="הצבעה", more="עוד…", more_body="אפשרויות נוספות:", choose="בחירה:")


def menu(n: int, label: str = "אפשרות {i}", text: str = "מה בוחרים?", kind: OutKind = OutKind.CHOICES) -> Outbound:
    return Outbound(kind=kind, text=text, buttons=[[Button(f"tok{i}", label.format(i=i))] for i in range(1, n + 1)])


def test_short_text_is_one_message_and_long_text_splits_at_lines_never_mid_word() -> None:
    assert plan(Outbound(kind=OutKind.TEXT, text="שלום"), LABELS) == [TextPart("שלום")]
    lines = [f"שורה מספר {i} עם כמה מילים בעברית" for i in range(400)]
    pieces = split_text("\n".join(lines), 4096)
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == "\n".join(lines)  # nothing lost, cut only at line ends
    one_line = " ".join(["מילה"] * 2000)
    words = split_text(one_line, 4096)
    assert all(len(p) <= 4096 for p in words) and all(not p.startswith(" ") and "מיל " not in p for p in words)
    assert " ".join(words) == one_line


@given(st.text(alphabet=st.sampled_from("אבג abc\n"), max_size=3000), st.integers(min_value=20, max_value=500))
def test_split_text_respects_the_limit_and_keeps_every_word(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert "".join(text.split()) == "".join("".join(pieces).split())


def test_up_to_three_short_options_are_reply_buttons() -> None:
    parts = plan(menu(3), LABELS)
    assert parts == [ButtonsPart("מה בוחרים?", [("tok1", "אפשרות 1"), ("tok2", "אפשרות 2"), ("tok3", "אפשרות 3")])]


def test_long_labels_or_more_options_become_a_list_with_descriptions() -> None:
    long = "מנהל/ת בית הספר — הזמנה לפורום השותפים של בית הספר"
    parts = plan(menu(2, label=long + " {i}"), LABELS)
    assert isinstance(parts[0], ListPart)
    assert all(len(r.title) <= 24 and r.description and len(r.description) <= 72 for r in parts[0].rows)
    assert parts[0].button == "אפשרויות"
    seven = plan(menu(7), LABELS)[0]
    assert isinstance(seven, ListPart) and len(seven.rows) == 7 and not seven.rest


def test_more_than_ten_options_page_with_a_more_row() -> None:
    part = plan(menu(23), LABELS)[0]
    assert isinstance(part, ListPart)
    assert [r.id for r in part.rows] == [f"tok{i}" for i in range(1, 10)]
    assert [b.token for b in part.rest] == [f"tok{i}" for i in range(10, 24)]


def test_titles_are_shortened_between_words_and_kept_unique() -> None:
    assert shorten("פגישת פורום השותפים השנתית", 20) == "פגישת פורום השותפים…"
    assert shorten("פגישת פורום השותפות השנתית", 18) == "פגישת פורום…"
    assert len(shorten("x" * 50, 20)) == 20
    titles = unique_titles(["יום שלישי 27 באוקטובר בבוקר", "יום שלישי 27 באוקטובר בערב"], 20)
    assert len(set(titles)) == 2 and all(len(t) <= 20 for t in titles)
    assert unique_titles(["כן", "כן"], 20) == ["כן (1)", "כן (2)"]


def test_interactive_body_over_1024_sends_the_beginning_as_text() -> None:
    text = "\n".join(f"פסקה {i}: " + "מילה " * 30 for i in range(20))
    parts = plan(menu(2, text=text), LABELS)
    assert isinstance(parts[-1], ButtonsPart) and len(parts[-1].body) <= MAX_BODY
    assert all(isinstance(p, TextPart) for p in parts[:-1])
    joined = "\n".join([p.text for p in parts[:-1] if isinstance(p, TextPart)] + [parts[-1].body])
    assert joined.replace("\u200f", "") == text


def test_a_date_poll_is_a_list_to_toggle_with_a_vote_button() -> None:
    poll = PollSpec(question="מתי נפגשים?", options=["א׳ 1.12", "ב׳ 2.12"], correlation="datepoll:1")
    message = Outbound(
        kind=OutKind.POLL,
        text="הצבעה על מועד הפגישה",
        poll=poll,
        buttons=[[Button("t1", "✅ א׳ 1.12 (2)")], [Button("t2", "⬜ ב׳ 2.12 (0)")]],
    )
    (part,) = plan(message, LABELS)
    assert isinstance(part, ListPart) and part.button == "הצבעה" and "מתי נפגשים?" in part.body
    assert [r.title for r in part.rows] == ["✅ א׳ 1.12 (2)", "⬜ ב׳ 2.12 (0)"]


def test_files_are_documents_and_stop_poll_sends_nothing() -> None:
    file = FileSpec.of("סיכום.pdf", "application/pdf", b"%PDF-1.4")
    assert plan(Outbound(kind=OutKind.FILE, text="הסיכום", file=file), LABELS) == [DocumentPart(file, "הסיכום")]
    long_caption = plan(Outbound(kind=OutKind.FILE, text="מילה " * 300, file=file), LABELS)
    assert isinstance(long_caption[0], TextPart) and long_caption[-1] == DocumentPart(file, "")
    assert plan(Outbound(kind=OutKind.STOP_POLL, text="", edit_ref="5"), LABELS) == []


def test_numbered_text_is_the_last_resort() -> None:
    parts = numbered(menu(3), LABELS)
    assert parts == [TextPart("מה בוחרים?\n1. אפשרות 1\n2. אפשרות 2\n3. אפשרות 3\n" + LABELS.reply_with_number)]


def test_rtl_pieces_that_start_with_latin_get_an_rlm() -> None:
    text = "שלום\n" + "\n".join(["forumbot " + "מילה " * 100] * 20)
    pieces = [p for p in plan(Outbound(kind=OutKind.TEXT, text=text), LABELS) if isinstance(p, TextPart)]
    assert len(pieces) > 1 and pieces[1].text.startswith("\u200f")


def test_template_subject_is_one_short_line() -> None:
    text = "\u2068סיכום שבועי\u2069 של   פורום בית הספר אלונים והחלטות שהתקבלו בו\nפרטים"
    message = Outbound(kind=OutKind.TEXT, text=text)
    subject = subject_of(message)
    assert "\n" not in subject and "  " not in subject and len(subject) <= 60 and subject.startswith("סיכום שבועי")


def walk_pages(message: Outbound) -> list[list[str]]:
    """Follow a menu's "More…" rows to the end, as the sender would; the tokens on each page."""
    pages: list[list[str]] = []
    while True:
        parts = plan(message, LABELS)
        assert all(isinstance(p, TextPart) for p in parts[:-1])
        menu_part = parts[-1]
        assert len(menu_part.body) <= MAX_BODY  # type: ignore[union-attr]
        if isinstance(menu_part, ButtonsPart):  # a last page of up to three short options
            return [*pages, [id_ for id_, _ in menu_part.buttons]]
        assert isinstance(menu_part, ListPart)
        more = 1 if menu_part.rest else 0  # the sender adds the "More…" row
        assert len(menu_part.rows) + more <= 10
        pages.append([r.id for r in menu_part.rows])
        if not menu_part.rest:
            return pages
        message = next_page(message, menu_part.rest, LABELS)


def test_an_escalation_digest_with_many_gaps_pages_and_every_gap_is_reachable() -> None:
    from bot.core.actions import pack
    from bot.services.escalation.digest import BUTTONS_PER_PART, gap_buttons

    for count in (10, 11, 12, 14, 19, 23, BUTTONS_PER_PART):
        ids = list(range(101, 101 + count))
        text = "\n".join(f"#{i} · צורך · הסעות · אין הסעה לשכונה החדשה — בית ספר יסודי אלונים" for i in ids)
        buttons = gap_buttons(lambda label, payload: Button(f"tok-{pack(payload)}", label), ids)
        assert max(len(row) for row in buttons) == 5  # laid out in rows of five, as for Telegram
        message = Outbound(kind=OutKind.CHOICES, text=text, rtl=True, buttons=buttons)
        pages = walk_pages(message)
        reached = [token for page in pages for token in page]
        assert reached == [f"tok-escalation.gap:{i}" for i in ids], count  # each gap once, in order
        assert all(len(page) == 9 for page in pages[:-1]) and 1 < len(pages[-1]) <= 10, count
        assert len(pages) == 1 if count <= 10 else len(pages) > 1
        first = plan(message, LABELS)[-1]
        assert isinstance(first, ListPart) and [r.title for r in first.rows][:2] == [f"#{ids[0]}", f"#{ids[1]}"]
        assert first.button == "אפשרויות"


def test_a_held_poll_is_announced_by_its_question_not_by_how_to_vote() -> None:
    poll = PollSpec(question="מתי נפגשים? קובעים את מועד הפגישה הבאה של פורום השותפים", options=["א", "ב"])
    message = Outbound(kind=OutKind.POLL, text="הקישו על כל מועד שמתאים לכם", poll=poll, buttons=menu(2).buttons)
    assert subject_of(message) == "מתי נפגשים? קובעים את מועד הפגישה הבאה של פורום השותפים"
    assert subject_of(Outbound(kind=OutKind.CHOICES, text="שורה ראשונה\nשנייה")) == "שורה ראשונה"

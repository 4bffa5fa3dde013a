"""A small survey engine: four kinds of question, ready templates, and summaries — no I/O.

Templates are msgids, translated for each reader; an answer to a choice question stores the
option's index, so answers given in Hebrew, Arabic and English add up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot.i18n import N_


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTI = "multi"
    SCALE = "scale"  # 1–5
    TEXT = "text"


SCALE = (1, 2, 3, 4, 5)
TEXT_MAX = 1000
MAX_OPTIONS = 12


@dataclass(frozen=True)
class QuestionSpec:
    kind: QuestionKind
    text: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    intro: str
    questions: tuple[QuestionSpec, ...]
    kinds: tuple[str, ...] = field(default=())  # forum kinds it is offered in ("" = any)
    tiers: tuple[str, ...] = field(default=())  # the tiers whose forums it is offered in (empty: any)

    def offered_in(self, tier: str, kind: str) -> bool:
        return kind in self.kinds and (not self.tiers or tier in self.tiers)


MAPPING = "municipal_mapping"
NEEDS = "school_needs"

_S, _M, _N, _T = QuestionKind.SINGLE, QuestionKind.MULTI, QuestionKind.SCALE, QuestionKind.TEXT

TEMPLATES: dict[str, Template] = {
    MAPPING: Template(
        key=MAPPING,
        title=N_("Municipal mapping"),
        intro=N_(
            "A mapping of positions on the program the partnership is building: for department heads, "
            "school principals, parents' representatives and involved parents."
        ),
        questions=(
            QuestionSpec(_N, N_("How important is it to set up the program? (1 = not important, 5 = very important)")),
            QuestionSpec(
                _M,
                N_("Who should the program serve?"),
                (
                    N_("All the town's children"),
                    N_("Populations of low socio-economic status"),
                    N_("Excellence groups"),
                    N_("Children with special needs"),
                ),
            ),
            QuestionSpec(
                _S,
                N_("Where should the activity take place?"),
                (N_("In the schools"), N_("In community centres"), N_("Elsewhere in the town")),
            ),
            QuestionSpec(
                _S,
                N_("What hours of activity?"),
                (
                    N_("From the last hours of the school day until 18:00"),
                    N_("Only in the afternoon, until 16:00"),
                    N_("In the evening"),
                ),
            ),
            QuestionSpec(
                _S,
                N_("Continuity with school hours?"),
                (
                    N_("As part of a long school day, so there is no trouble collecting the pupils again"),
                    N_("A return after a short break at home"),
                ),
            ),
            QuestionSpec(
                _M,
                N_("Commitment and fees"),
                (
                    N_("Parents are not obliged to send their children"),
                    N_("Whoever registers signs a commitment to encourage their child to attend regularly"),
                    N_("A sum is charged (a seriousness fee)"),
                    N_("Participation is free"),
                ),
            ),
            QuestionSpec(
                _M,
                N_("The program's goals"),
                (
                    N_("Developing awareness of consuming culture and leisure and changing priorities"),
                    N_("Preventing risks and loitering"),
                    N_("Enrichment"),
                    N_("Values education – heritage, love of the land"),
                    N_("Learning support"),
                    N_("Developing personal interests"),
                ),
            ),
            QuestionSpec(_T, N_("Emphases and points to consider for long-term planning")),
        ),
        kinds=("partnership", "main"),
        tiers=("authority",),  # an authority's partners forum and its KeShet partnership, never a school
    ),
    NEEDS: Template(
        key=NEEDS,
        title=N_("The forum members' needs before the school year"),
        intro=N_(
            "Before the school year opens, the forum examines its members' needs and sets how it will run "
            "during the year."
        ),
        questions=(
            QuestionSpec(
                _M,
                N_("Which subjects should the forum take up this year?"),
                (
                    N_("Learning and achievement"),
                    N_("Emotional and social well-being"),
                    N_("Safety and security"),
                    N_("School climate and discipline"),
                    N_("Parents' involvement"),
                    N_("Buildings and equipment"),
                    N_("Inclusion and special education"),
                    N_("Informal education and after-school activities"),
                ),
            ),
            QuestionSpec(_T, N_("Which needs, difficulties and blockers do you see before the school year?")),
            QuestionSpec(
                _S,
                N_("How often should the forum meet?"),
                (N_("Once a month"), N_("Once every two months"), N_("Once a term")),
            ),
            QuestionSpec(
                _S,
                N_("When is it best for you to meet?"),
                (N_("In the morning"), N_("At noon"), N_("In the evening")),
            ),
            QuestionSpec(
                _S,
                N_("In what format?"),
                (N_("Face to face"), N_("Online"), N_("Mixed")),
            ),
            QuestionSpec(_N, N_("How satisfied were you with the forum's work last year? (1 = not at all, 5 = very)")),
        ),
        kinds=("main",),
    ),
}

# The school forum's needs survey goes out every year in late August, before school opens on 1 September.
NEEDS_MONTH, NEEDS_DAY = 8, 25
SCHOOL_YEAR_MONTH, SCHOOL_YEAR_DAY = 9, 1


def needs_window(today: date) -> tuple[date, date]:
    """[25 August, 1 September) of ``today``'s year: when the yearly needs survey may go out."""
    return date(today.year, NEEDS_MONTH, NEEDS_DAY), date(today.year, SCHOOL_YEAR_MONTH, SCHOOL_YEAR_DAY)


NEEDS_AT = time(9, 0)


def needs_due(local: datetime, is_working_day: Callable[[date], bool]) -> bool:
    """Whether the yearly needs survey is due at ``local`` (Israel time).

    From 09:00 on the first working day on or after 25 August, until school opens on 1 September
    (a survey "before the school year" that missed the window is not sent in October).
    """
    start, end = needs_window(local.date())
    first = start
    while first < end and not is_working_day(first):
        first += timedelta(days=1)
    today = local.date()
    return first <= today < end and (today > first or local.time() >= NEEDS_AT)


def needs_key(today: date) -> str:
    """The yearly survey's key: the school year it prepares (``needs:2027`` for 2027/28)."""
    return f"needs:{today.year}"


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


class BadAnswer(ValueError):
    pass


def normalise_answer(kind: QuestionKind, options: int, value: dict[str, Any]) -> dict[str, Any]:
    """Check an answer against its question; returns the stored form or raises BadAnswer."""
    if kind is QuestionKind.SINGLE:
        choice = value.get("choice")
        if not isinstance(choice, int) or not 0 <= choice < options:
            raise BadAnswer(kind)
        return {"choice": choice}
    if kind is QuestionKind.MULTI:
        choices = value.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, int) and 0 <= c < options for c in choices):
            raise BadAnswer(kind)
        return {"choices": sorted(set(choices))}
    if kind is QuestionKind.SCALE:
        n = value.get("scale")
        if not isinstance(n, int) or n not in SCALE:
            raise BadAnswer(kind)
        return {"scale": n}
    text = value.get("text")
    if not isinstance(text, str) or not text or len(text) > TEXT_MAX:
        raise BadAnswer(kind)
    return {"text": text}


def toggle(value: dict[str, Any] | None, option: int, on: bool) -> dict[str, Any]:
    """A multiple-choice answer with ``option`` set on or off (setting, not flipping: a double press is harmless)."""
    chosen = set((value or {}).get("choices", []))
    if on:
        chosen.add(option)
    else:
        chosen.discard(option)
    return {"choices": sorted(chosen)}


def is_answered(kind: QuestionKind, value: dict[str, Any] | None) -> bool:
    if not value:
        return False
    if kind is QuestionKind.MULTI:
        return bool(value.get("choices"))
    return True


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSummary:
    kind: QuestionKind
    answered: int
    counts: tuple[int, ...] = ()  # per option (single / multi) or per scale point (1..5)
    mean: float | None = None  # scale
    texts: tuple[str, ...] = ()  # free text, newest first


def summarise(kind: QuestionKind, options: int, values: Iterable[dict[str, Any]]) -> QuestionSummary:
    """One question's answers (one per respondent: the latest) summed up."""
    listed = [v for v in values if is_answered(kind, v)]
    if kind is QuestionKind.SINGLE:
        counts = [0] * options
        for v in listed:
            if 0 <= v["choice"] < options:
                counts[v["choice"]] += 1
        return QuestionSummary(kind, len(listed), tuple(counts))
    if kind is QuestionKind.MULTI:
        counts = [0] * options
        for v in listed:
            for c in v["choices"]:
                if 0 <= c < options:
                    counts[c] += 1
        return QuestionSummary(kind, len(listed), tuple(counts))
    if kind is QuestionKind.SCALE:
        points = [v["scale"] for v in listed]
        counts = [points.count(n) for n in SCALE]
        mean = sum(points) / len(points) if points else None
        return QuestionSummary(kind, len(listed), tuple(counts), mean)
    return QuestionSummary(kind, len(listed), texts=tuple(v["text"] for v in listed))


def percent(part: int, whole: int) -> int:
    """A rounded percentage (half up), 0 when there is nothing to divide."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def answer_cells(kind: QuestionKind, value: dict[str, Any] | None, options: Sequence[str]) -> str:
    """An answer as one cell of an export: option labels joined with "; ", the scale point, the text."""
    if not value:
        return ""
    if kind is QuestionKind.SINGLE:
        choice = value.get("choice")
        return options[choice] if isinstance(choice, int) and 0 <= choice < len(options) else ""
    if kind is QuestionKind.MULTI:
        return "; ".join(options[c] for c in value.get("choices", []) if 0 <= c < len(options))
    if kind is QuestionKind.SCALE:
        return str(value.get("scale", ""))
    return str(value.get("text", ""))


PROMOTED_TITLE_MAX = 120


def promoted_title(text: str, max_length: int = PROMOTED_TITLE_MAX) -> str:
    """An agenda item's or an issue's title from a written answer: its first line, cut at a word."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(first) <= max_length:
        return first
    cut = first[: max_length - 1]
    if " " in cut[max_length // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-–") + "…"

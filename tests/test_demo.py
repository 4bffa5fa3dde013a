"""`forumbot demo`, run as a process: its Hebrew transcript, chapter by chapter and person by person."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_cli import forumbot


def chapters(transcript: str) -> list[tuple[str, str]]:
    """(title, body) of each chapter, in order."""
    parts = re.split(r"^━━ (.+?) ━━$", transcript, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def read_by(body: str, name: str) -> str:
    """Everything `name` read in this part of the transcript (their terminal's lines)."""
    found, reader = [], None
    for line in body.splitlines():
        if line.startswith("📱 "):
            reader = line[2:].strip()
        elif line.startswith(("⌨ ", "🕘 ")):
            reader = None
        elif reader == name and line.startswith("   │"):
            found.append(line[5:])
    return "\n".join(found)


def typed_by(body: str, name: str) -> list[str]:
    return [line.split(" › ", 1)[1] for line in body.splitlines() if line.startswith(f"⌨  {name} › ")]


def test_the_demo_plays_the_whole_story_in_hebrew(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = forumbot(tmp_path, "demo", "--pace", "0", "--data-dir", str(folder), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert out.startswith("ההדגמה: פורום השותפים של בית ספר, ופער שהוא לא יכול לסגור לבד.")
    parts = chapters(out)
    assert [title for title, _ in parts] == [
        "1. מנהלת בית הספר פותחת את הפורום ומזמינה הורה ומורה",
        "2. ההורה והמורה מצטרפות בהזמנה",
        "3. המנהלת פותחת סקר מועדים, וכולן מצביעות",
        "4. הסקר נסגר ומועד הפגישה נקבע",
        "5. ההורה מעלה חסם בנושא הסעות",
        "6. בפגישה מתעדים את התוצאות",
        "7. הפער עולה לרשות ואחר כך למחוז, לפי ספירת ימי העבודה",
        "8. מנהל המחוז משיב מתוך ריכוז הפערים",
        "9. התשובה חוזרת למטה, דרג אחר דרג",
        "סוף",
    ]
    body = [b for _, b in parts]

    # 1. The principal registers with the operator's invite and invites a parent and a teacher.
    assert "🕘 יום ראשון, 3 בינואר 2027 09:00" in body[0]
    dana = read_by(body[0], "דנה לוי")
    assert "ברוכה הבאה, דנה לוי! נרשמת בתפקיד מנהלת בית הספר" in dana
    assert typed_by(body[0], "דנה לוי").count("/invite") == 2
    # 2. They join with those codes.
    assert "ברוכה הבאה, מירי כהן! נרשמת בתפקיד הורה" in read_by(body[1], "מירי כהן")
    assert "ברוכה הבאה, רינה אברהם! נרשמת בתפקיד נציגת המורים והמחנכים" in read_by(body[1], "רינה אברהם")
    # 3. The poll goes out; each of them votes for the first date from their own screen.
    assert any(line.endswith("(📣 פרסום)") for line in typed_by(body[2], "דנה לוי"))
    for name in ("דנה לוי", "מירי כהן", "רינה אברהם"):
        assert any(line.endswith("(▫️ יום א׳ 10.1 · 17:00)") for line in typed_by(body[2], name)), name
        assert "✅ יום א׳ 10.1 · 17:00" in read_by(body[2], name)
    # 4. Voting closes with the clock; the principal sets the date; everyone gets the .ics on disk.
    assert "🕘 השעון מתקדם אל יום רביעי, 6 בינואר 2027 12:05." in body[3]
    closed = read_by(body[3], "דנה לוי")
    assert "ההצבעה על מועד הפגישה של פורום השותפים של בית ספר יסודי אלונים (הדגמה) נסגרה: ענו 3 מתוך 3 חברים." in closed
    assert "נקבע: פגישת פורום השותפים של בית ספר יסודי אלונים (הדגמה) תתקיים ביום א׳, 10 בינואר 2027" in closed
    for person in ("dana", "miri", "rina"):
        ics = folder / "console" / person / "פגישה-1.ics"
        assert ics.read_bytes().startswith(b"BEGIN:VCALENDAR"), person
        assert f"📎 {ics}" in body[3]
    # 5. The parent raises a transport blocker; the principal is told.
    assert "תודה. הפער נרשם, ומספרו #1." in read_by(body[4], "מירי כהן")
    assert 'פער חדש הועלה בפורום השותפים של בית ספר יסודי אלונים (הדגמה) (חסם):\n"אין הסעה לשכונה החדשה"' in (
        read_by(body[4], "דנה לוי")
    )
    # 6. The meeting records it as discussed, with a note the parent gets.
    assert "🕘 השעון מתקדם אל יום ראשון, 10 בינואר 2027 19:00." in body[5]
    assert "תיעוד תוצאות הפגישה מיום ראשון, 10 בינואר 2027 בשעה 17:00." in read_by(body[5], "דנה לוי")
    told = read_by(body[5], "מירי כהן")
    assert '"אין הסעה לשכונה החדשה": נדון.' in told and "הערה: בית הספר לא יכול לממן הסעה בעצמו" in told
    # 7. Twenty working days later it goes up to the authority, whose lead sees it in her digest;
    #    twenty more, and it reaches the district's digest (the role of who raised it, not her name).
    climb = body[6]
    assert climb.index("🕘 יום חמישי, 4 בפברואר 2027 08:05") < climb.index("🕘 יום ראשון, 7 במרץ 2027 08:05")
    assert "הועבר לפורום השותפים של עיריית טירת כרמל" in read_by(climb, "דנה לוי")  # her forum is told
    assert "אין הסעה לשכונה החדשה" in read_by(climb, "מירי כהן")  # and so is the parent
    authority = read_by(climb, "יעל מזרחי")
    assert "ריכוז הפערים שהועברו לפורום השותפים של עיריית טירת כרמל, 7 בפברואר 2027:" in authority
    assert "#1 · חסם · הסעות · אין הסעה לשכונה החדשה — בית ספר יסודי אלונים (הדגמה)" in authority
    district = read_by(climb, "משה פרץ")
    assert "ריכוז הפערים שהועברו לפורום השותפים של מחוז חיפה, 7 במרץ 2027:" in district
    assert "▸ עיריית טירת כרמל" in district and "#2 · חסם · הסעות · אין הסעה לשכונה החדשה" in district
    assert "מירי" not in district and "לחץ על מספר" in district  # role only; he is addressed as a man
    assert not list(folder.glob("console/moshe/*.png"))  # one gap from one authority: no chart of one bar
    # 8. He opens it from the digest and answers.
    card = read_by(body[7], "משה פרץ")
    assert "הועלה בפורום אחד שמתחתיו:\n• בית ספר יסודי אלונים (הדגמה) — הורה" in card
    assert "כתוב את התשובה" in card
    # 9. The answer comes down to the parent and to every forum on the way.
    answer = "אושר תקציב להסעה מהשכונה החדשה; היא תתחיל ביום ראשון הבא."
    assert typed_by(body[8], "משה פרץ") == [answer]
    parent = read_by(body[8], "מירי כהן")
    assert (
        'עדכון על הפער שהעלית בפורום השותפים של בית ספר יסודי אלונים (הדגמה), "אין הסעה לשכונה החדשה": נפתר.'
        in parent
    )
    assert answer in parent
    assert answer in read_by(body[8], "דנה לוי")
    # Every forum on the way hears it: the authority's lead too, and who answered (a role, no name).
    authority_hears = read_by(body[8], "יעל מזרחי")
    assert answer in authority_hears and "משה" not in authority_hears
    # The end: where the files are and how to go on by hand.
    assert f"מסד הנתונים והקבצים של ההדגמה נמצאים ב־{folder}" in body[9]
    assert f"FORUMBOT_DATA_DIR={folder} FORUMBOT_SIMULATED_CLOCK=true forumbot console --as miri" in body[9]


def test_going_on_by_hand_after_the_demo(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    assert forumbot(tmp_path, "demo", "--pace", "0", "--data-dir", str(folder), timeout=120).returncode == 0
    env = {"FORUMBOT_DATA_DIR": str(folder), "FORUMBOT_SIMULATED_CLOCK": "true"}
    assert forumbot(tmp_path, "clock", "show", env=env).stdout.startswith("simulated: 2027-03-07 08:")
    issues = forumbot(tmp_path, "console", "--as", "miri", stdin="/forums\n/quit\n", env=env)
    assert "בית ספר יסודי אלונים (הדגמה)" in issues.stdout and "Traceback" not in issues.stderr


@pytest.mark.slow
def test_a_second_demo_starts_afresh_and_a_foreign_folder_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    for _ in range(2):
        result = forumbot(tmp_path, "demo", "--pace", "0", "--data-dir", str(folder), "--language", "en", timeout=120)
        assert result.returncode == 0, result.stderr
        assert "Welcome, Miri Cohen!" in result.stdout
        assert "News about the issue you raised" in result.stdout and ": Resolved." in result.stdout
    other = tmp_path / "mine"
    other.mkdir()
    (other / "forumbot.sqlite3").write_text("precious")
    refused = forumbot(tmp_path, "demo", "--pace", "0", "--data-dir", str(other))
    assert refused.returncode == 2 and "is not empty and not a demo's folder" in refused.stderr
    assert (other / "forumbot.sqlite3").read_text() == "precious"


@pytest.mark.slow
def test_the_demo_in_arabic(tmp_path: Path) -> None:
    result = forumbot(tmp_path, "demo", "--pace", "0", "--language", "ar", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "━━ 1. مديرة المدرسة تفتح المنتدى وتدعو وليّة أمر ومعلّمة ━━" in result.stdout
    assert "تمّ الحل." in result.stdout
    assert (tmp_path / "var" / "demo" / "console" / "miri" / "اجتماع-1.ics").exists()

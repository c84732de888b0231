"""Tests for rfc3261.status: reason phrases and status classes (RFC 3261 §21, §7.2)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rfc3261 import status
from rfc3261.status import (
    CLASS_NAMES,
    REASON_PHRASES,
    RFC3261_CODES,
    reason_phrase,
    register_status,
    status_class,
)

SPEC_DIR = Path(__file__).parents[2].parent / "shared" / "rfcs"


def _section_21_titles() -> dict[int, str]:
    """The "21.x.y NNN Phrase" headings of RFC 3261, read from the RFC text."""

    path = Path(os.environ.get("SIPREF_SPEC_DIR", SPEC_DIR)) / "rfc3261.txt"
    if not path.exists():
        pytest.skip(f"RFC 3261 text not found at {path} (set SIPREF_SPEC_DIR)")
    headings = re.findall(r"^21\.\d+\.\d+ (\d{3}) (.+?)\s*$", path.read_text(), re.MULTILINE)
    return {int(code): phrase for code, phrase in headings}


##= https://www.rfc-editor.org/rfc/rfc3261#section-21
##= type=test
##% The response codes are consistent with, and extend, HTTP/1.1 response
##% codes.
def test_every_section_21_code_is_listed_with_its_title() -> None:
    titles = _section_21_titles()
    assert len(titles) == 50
    assert set(RFC3261_CODES) == set(titles)
    for code, phrase in titles.items():
        assert REASON_PHRASES[code] == phrase


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (100, "Trying"),
        (180, "Ringing"),
        (200, "OK"),
        (302, "Moved Temporarily"),
        (404, "Not Found"),
        (481, "Call/Transaction Does Not Exist"),
        (500, "Server Internal Error"),
        (606, "Not Acceptable"),
    ],
)
def test_reason_phrase_of_known_codes(code: int, phrase: str) -> None:
    assert reason_phrase(code) == phrase


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST treat any final response it does not recognize as being
##% equivalent to the x00 response code of that class
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A
##% UAC MUST treat any provisional response different than 100 that it
##% does not recognize as 183 (Session Progress).
@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (199, "Session Progress"),
        (299, "OK"),
        (399, "Multiple Choices"),
        (431, "Bad Request"),
        (599, "Server Internal Error"),
        (699, "Busy Everywhere"),
    ],
)
def test_reason_phrase_of_unknown_codes(code: int, phrase: str) -> None:
    assert code not in REASON_PHRASES
    assert reason_phrase(code) == phrase


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##= type=test
##% The first digit of the Status-Code defines the class of response.
##% The last two digits do not have any categorization role.
@pytest.mark.parametrize(
    ("code", "klass"), [(100, 1), (199, 1), (200, 2), (380, 3), (493, 4), (513, 5), (699, 6)]
)
def test_status_class(code: int, klass: int) -> None:
    assert status_class(code) == klass
    assert klass in CLASS_NAMES


@pytest.mark.parametrize("code", [0, 99, 700, 1000, -200])
def test_status_class_rejects_codes_outside_the_six_classes(code: int) -> None:
    with pytest.raises(ValueError, match=r"RFC 3261 §7\.2"):
        status_class(code)
    with pytest.raises(ValueError):
        reason_phrase(code)


def test_register_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "REASON_PHRASES", dict(REASON_PHRASES))
    assert status.reason_phrase(422) == "Bad Request"
    status.register_status(422, "Session Interval Too Small")
    assert status.reason_phrase(422) == "Session Interval Too Small"
    assert 422 not in RFC3261_CODES


@pytest.mark.parametrize(("code", "phrase"), [(700, "X"), (422, ""), (422, "a\r\nb")])
def test_register_status_rejects_bad_input(code: int, phrase: str) -> None:
    with pytest.raises(ValueError):
        register_status(code, phrase)

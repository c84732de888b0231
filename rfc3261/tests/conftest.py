"""Fixtures for the message-layer tests: where the torture-test messages live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# SIPREF_CONFORMANCE_DIR points at the folder holding rfc4475/ and rfc5118/ (see
# ../shared/conformance/README.md); by default the shared folder next to the repo.
CONFORMANCE_DIR = Path(
    os.environ.get("SIPREF_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
)


def torture_bytes(relative: str) -> bytes:
    """The bytes of one torture-test file, as wire bytes (CRLF line ends).

    RFC 5118 files are archived with LF line ends; as the conformance README says,
    they are converted to CRLF before a wire-level parser sees them.
    """
    path = CONFORMANCE_DIR / relative
    if not path.is_file():
        pytest.skip(f"torture-test file {path} not found (set SIPREF_CONFORMANCE_DIR)")
    data = path.read_bytes()
    if relative.startswith("rfc5118/"):
        data = data.replace(b"\n", b"\r\n")
    return data


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The folder with rfc4475/ and rfc5118/; the tests skip when it is missing."""
    if not (CONFORMANCE_DIR / "rfc4475").is_dir():
        pytest.skip(f"{CONFORMANCE_DIR}/rfc4475 not found (set SIPREF_CONFORMANCE_DIR)")
    return CONFORMANCE_DIR


@pytest.fixture
def load_torture():
    """``load_torture("rfc4475/wsinv.dat")`` -> the message's wire bytes."""
    return torture_bytes

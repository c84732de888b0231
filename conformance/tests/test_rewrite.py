"""Torture messages are rewritten to loopback before they are sent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.cases.torture import torture_dir
from conformance.messages import addresses_left, rewrite_torture
from conformance.sipmsg import parse_message
from conformance.target import parse_target

TARGET = parse_target("udp:127.0.0.1:5070")
FILES = sorted(p for p in (torture_dir() / "rfc4475").glob("*.dat")) + sorted(
    p for p in (torture_dir() / "rfc5118").glob("*") if p.is_file()
)


def test_all_torture_files_found() -> None:
    assert len(FILES) == 62


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_address_but_loopback_left(path: Path) -> None:
    original = path.read_bytes()
    assert addresses_left(original), "the archived message names outside hosts"
    out = rewrite_torture(original, TARGET, "127.0.0.1:40000", path.parent.name == "rfc5118")
    assert addresses_left(out) == []


@pytest.mark.parametrize(
    "path", [p for p in FILES if p.parent.name == "rfc4475"], ids=lambda p: p.name
)
def test_body_length_kept(path: Path) -> None:
    original = path.read_bytes()
    out = rewrite_torture(original, TARGET, "127.0.0.1:40000")
    body_in = original.partition(b"\r\n\r\n")[2]
    body_out = out.partition(b"\r\n\r\n")[2]
    assert len(body_in) == len(body_out)


def test_top_via_request_uri_and_contact_point_at_loopback() -> None:
    data = (torture_dir() / "rfc4475" / "wsinv.dat").read_bytes()
    msg = parse_message(rewrite_torture(data, TARGET, "127.0.0.1:40000"))
    assert msg is not None
    assert msg.uri.startswith("sip:vivekg@127.0.0.1:5070")
    assert re.sub(r"\s+", "", msg.top_via).startswith("SIP/2.0/UDP127.0.0.1:40000;branch=")
    assert "127.0.0.1:40000" in (msg.get("Contact") or "")
    assert "127.0.0.1:5070" in (msg.get("Route") or "")


def test_call_id_and_branch_unique_per_send() -> None:
    data = (torture_dir() / "rfc4475" / "bext01.dat").read_bytes()
    a = parse_message(rewrite_torture(data, TARGET, "127.0.0.1:40000"))
    b = parse_message(rewrite_torture(data, TARGET, "127.0.0.1:40000"))
    assert a is not None and b is not None
    assert a.call_id != b.call_id and a.branch != b.branch
    assert a.branch and a.branch.startswith("z9hG4bK")


def test_rfc5118_gets_crlf_and_its_content_length_fixed() -> None:
    data = (torture_dir() / "rfc5118" / "ipv6-in-sdp").read_bytes()
    out = rewrite_torture(data, TARGET, "127.0.0.1:40000", fix_content_length=True)
    assert b"\r\n\r\n" in out and b"\n\n" not in out.replace(b"\r\n", b"")
    msg = parse_message(out)
    assert msg is not None
    assert int(msg.get("Content-Length") or -1) == len(out.partition(b"\r\n\r\n")[2])


def test_request_host_sends_a_proxy_to_the_runner() -> None:
    data = (torture_dir() / "rfc4475" / "esc01.dat").read_bytes()
    out = rewrite_torture(data, TARGET, "127.0.0.1:40000", request_host="127.0.0.1:40001")
    assert out.split(b" ")[1].endswith(b"@127.0.0.1:40001")


def test_top_via_of_any_sip_version_is_rewritten_to_the_runner() -> None:
    """badvers.dat's Via says SIP/7.0: its sent-by must still name the runner, or the
    505 that RFC 4475 §3.1.2.16 expects goes to port 5060 instead of coming back."""
    data = (torture_dir() / "rfc4475" / "badvers.dat").read_bytes()
    out = rewrite_torture(data, TARGET, "127.0.0.1:40000")
    top_via = next(line for line in out.split(b"\r\n") if line.lower().startswith(b"via:"))
    assert re.search(rb"SIP/7\.0/\w+ 127\.0\.0\.1:40000;", top_via), top_via

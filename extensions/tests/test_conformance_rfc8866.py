"""The RFC 8866 (SDP) cases against the test double: they pass against the correct element,
and its SDP without a c= line fails exactly the case judging the c= rules (§5.7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts
from extensions.conformance import rfc8866 as rfc8866_cases

PROFILE = Profile(t1=0.2)
CASES = "rfc8866-*"


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(*faults: str) -> str:
        element = FaultyElement("uas", faults, t1=PROFILE.t1)
        started.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started:
        element.stop()


def test_the_correct_element_passes(make) -> None:
    got = verdicts(run_cases(make(), "uas", CASES, PROFILE))
    assert len(got) >= 10
    assert set(got.values()) == {"pass"}, got


def test_sdp_without_connection_fails_its_case(make) -> None:
    run = run_cases(make("sdp_no_connection"), "uas", CASES, PROFILE)
    got = verdicts(run)
    assert got.pop("rfc8866-sent-connection") == "fail", [
        (r.case.id, r.reason) for r in run.results
    ]
    assert set(got.values()) == {"pass"}, got
    (result,) = [r for r in run.results if r.case.id == "rfc8866-sent-connection"]
    assert "no c= for m=audio" in result.reason


GOOD = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 host.example.com\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 96\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n"
)


@pytest.mark.parametrize(
    ("rule", "broken"),
    [
        ("_syntax", GOOD.replace(b"v=0\r\n", b"")),  # v= not first
        ("_syntax", GOOD.replace(b"s=-\r\n", b"") + b"s=-\r\n"),  # s= after m=
        ("_syntax", GOOD.replace(b"c=IN", b"c= IN")),  # a space after '='
        ("_crlf", GOOD.replace(b"\r\n", b"\n")),
        ("_letters", GOOD + b"y=what\r\n"),
        ("_username", GOOD.replace(b"o=alice", b"o=alice smith")),
        ("_one_session_name", GOOD.replace(b"s=-\r\n", b"s=-\r\ns=again\r\n")),
        ("_session_name_not_empty", GOOD.replace(b"s=-", b"s=")),
        ("_email_phone_first", GOOD + b"e=alice@example.com\r\n"),
        ("_free_text_parenthesised", GOOD.replace(b"c=IN", b"e=alice@example.com Alice\r\nc=IN")),
        ("_connection_everywhere", GOOD.replace(b"c=IN IP4 192.0.2.1\r\n", b"")),
        ("_ip4_ttl", GOOD.replace(b"192.0.2.1", b"224.2.1.1")),
        ("_ip4_ttl", GOOD.replace(b"192.0.2.1", b"224.2.1.1/300")),
        ("_ip6_no_ttl", GOOD.replace(b"IP4 192.0.2.1", b"IP6 ff15::101/127/3")),
        ("_session_single_connection", GOOD.replace(b"t=0", b"c=IN IP4 192.0.2.2\r\nt=0")),
        ("_unicast_no_slash", GOOD.replace(b"192.0.2.1", b"192.0.2.1/2")),
        ("_domains", GOOD.replace(b"host.example.com", b"host_1.example.com")),
        ("_ace", GOOD.replace(b"host.example.com", "h\u00f6st.example.com".encode())),
        ("_no_key", GOOD.replace(b"t=0 0\r\n", b"t=0 0\r\nk=prompt\r\n")),
        ("_ascii_attribute_names", GOOD + "a=r\u00e9sum\u00e9\r\n".encode()),
        ("_rtcp_parity", GOOD.replace(b"49170", b"49171")),
        ("_udp_formats", GOOD.replace(b"RTP/AVP 0 96", b"udp 0")),
        ("_charset_registered", GOOD.replace(b"t=0 0\r\n", b"t=0 0\r\na=charset:x-mine\r\n")),
        ("_charset_fields_valid", GOOD.replace(b"s=-", b"s=\xff\xfe")),
        ("_no_nul_cr_lf", GOOD.replace(b"s=-", b"s=a\x00b")),
        ("_rtp_payload_numbers", GOOD.replace(b"RTP/AVP 0 96", b"RTP/AVP PCMU")),
        ("_dynamic_rtpmap", GOOD.replace(b"a=rtpmap:96 telephone-event/8000\r\n", b"")),
        ("_fqdn_or_address", GOOD.replace(b"host.example.com", b"host")),
        ("_phone_e164", GOOD.replace(b"c=IN", b"p=555 1234\r\nc=IN")),
        ("_no_x_bwtype", GOOD.replace(b"t=0", b"b=X-YZ:128\r\nt=0")),
        ("_stop_time", GOOD.replace(b"t=0 0", b"t=3034423619 3034423000")),
        ("_no_control_data", GOOD.replace(b"m=audio", b"m=control")),
    ],
)
def test_each_rule_finds_its_defect(rule: str, broken: bytes) -> None:
    """Every rule of the battery passes the good description and flags its broken copy:
    the cases' checks can fail."""
    check = getattr(rfc8866_cases, rule)
    assert check(rfc8866_cases.read(GOOD)) == []
    assert check(rfc8866_cases.read(broken)) != []


def test_what_the_grammar_allows_is_not_flagged() -> None:
    """Several c= in a media description (§9: *connection-field), phone numbers with
    spaces and dashes, free text in parentheses or before an address in angle brackets."""
    allowed = GOOD.replace(
        b"s=-\r\n",
        b"s=-\r\ne=j.doe@example.com (Jane Doe)\r\ne=Jane Doe <j.doe@example.com>\r\n"
        b"p=+1 617 555-6011\r\np=+1 617 555-6011 (Jane)\r\n",
    ).replace(b"a=rtpmap:0", b"c=IN IP4 224.2.1.1/127\r\nc=IN IP4 224.2.1.2/127\r\na=rtpmap:0")
    described = rfc8866_cases.read(allowed)
    for rule in ("_syntax", "_free_text_parenthesised", "_phone_e164", "_email_phone_first"):
        assert getattr(rfc8866_cases, rule)(described) == [], rule

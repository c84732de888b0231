"""The well-formedness battery (`conformance.wellformed`): each rule on a good and a bad
message, and the battery cases' verdicts against the faulty element's well-formedness faults."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.sipmsg import parse_message
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts
from conformance.wellformed import RULES, Seen, judge, presence, tag_problems

GOOD_REQUEST = (
    "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Alice" <sip:alice@127.0.0.1>;tag=1928301774\r\n'
    "To: <sip:bob@127.0.0.1>\r\n"
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.1:5070;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    "Supported: timer, 100rel\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n"
)

GOOD_RESPONSE = (
    "SIP/2.0 401 Unauthorized\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;received=127.0.0.1;rport=5070\r\n"
    "From: <sip:alice@127.0.0.1>;tag=1928301774\r\n"
    "To: <sip:alice@127.0.0.1>;tag=a6c85cf\r\n"
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    'WWW-Authenticate: Digest realm="one", nonce="1", qop="auth"\r\n'
    'WWW-Authenticate: Digest realm="two", nonce="2"\r\n'
    "Content-Length: 0\r\n"
    "\r\n"
)


def seen(text: str | bytes, transport: str = "udp") -> Seen:
    data = text.encode() if isinstance(text, str) else text
    msg = parse_message(data)
    assert msg is not None
    return Seen(msg, transport)


def problems(rule: str, text: str | bytes, transport: str = "udp") -> list[str]:
    return judge(RULES[rule], [seen(text, transport)])[0]


def test_good_messages_break_no_rule() -> None:
    for text in (GOOD_REQUEST, GOOD_RESPONSE):
        found = {name: problems(name, text) for name in RULES}
        assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        ("crlf", GOOD_REQUEST.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\n")),
        ("crlf", GOOD_RESPONSE.replace("\r\n", "\n")),
        ("empty-line", GOOD_RESPONSE.rstrip("\r\n") + "\r\n"),
        ("sip-version", GOOD_REQUEST.replace(" SIP/2.0\r\n", " SIP/2.1\r\n", 1)),
        ("sip-version-upper", GOOD_REQUEST.replace("SIP/2.0/UDP", "sip/2.0/UDP")),
        ("request-uri", GOOD_REQUEST.replace("sip:bob@127.0.0.1:5060", "<sip:bob@127.0.0.1>")),
        (
            "auth-rows",
            GOOD_RESPONSE.replace('nonce="1", qop="auth"\r\nWWW-Authenticate:', 'nonce="1",'),
        ),
        ("header-params-unique", GOOD_RESPONSE.replace("tag=a6c85cf", "tag=a6c85cf;tag=x")),
        ("uri-params-unique", GOOD_REQUEST.replace(";transport=udp>", ";lr;lr>")),
        ("quoted-params", GOOD_RESPONSE.replace("tag=a6c85cf", "tag=a,b@c")),
        ("cseq-32bit", GOOD_REQUEST.replace("314159 INVITE", "4294967296 INVITE")),
        ("content-type", GOOD_REQUEST.replace("Content-Type: application/sdp\r\n", "")),
        ("no-chunked", GOOD_RESPONSE.replace("Content-Length", "Transfer-Encoding: chunked\r\nX")),
        ("length-zero", GOOD_RESPONSE.replace("Content-Length: 0", "Content-Length: 5")),
        ("length-right", GOOD_REQUEST.replace("Content-Length: 4", "Content-Length: 9")),
        ("uri-spaces", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:bo b@127.0.0.1>")),
        ("uri-escaped", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:bo{b@127.0.0.1>")),
        ("user-escaped", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:b[o]b@127.0.0.1>")),
        ("uri-headers-escaped", GOOD_REQUEST.replace(";transport=udp>", "?Subject=a;b>")),
        ("user-not-empty", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:@127.0.0.1>")),
        ("no-password", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:bob:pw@127.0.0.1>")),
        ("sips-reliable", GOOD_REQUEST.replace("<sip:alice@127.0.0.1:5070;", "<sips:a@h;")),
        ("ttl-multicast", GOOD_REQUEST.replace(";transport=udp>", ";ttl=1>")),
        ("user-phone", GOOD_REQUEST.replace("<sip:bob@127.0.0.1>", "<sip:+1-212-555@h>")),
        ("name-addr", GOOD_REQUEST.replace("To: <sip:bob@127.0.0.1>", "To: sip:bob@h;lr")),
        ("mandatory", GOOD_REQUEST.replace("Max-Forwards: 70\r\n", "")),
        (
            "mandatory",
            GOOD_RESPONSE.replace(
                'WWW-Authenticate: Digest realm="two", nonce="2"\r\n', ""
            ).replace('WWW-Authenticate: Digest realm="one", nonce="1", qop="auth"\r\n', ""),
        ),
        ("not-applicable", GOOD_REQUEST.replace("Allow:", "Min-Expires: 60\r\nAllow:")),
        (
            "not-applicable",
            GOOD_RESPONSE.replace("Content-Length", "Max-Forwards: 70\r\nContent-Length"),
        ),
        ("allow-lists", GOOD_REQUEST.replace("INVITE, ACK, CANCEL,", "INVITE,")),
        ("supported-tags", GOOD_REQUEST.replace("timer, 100rel", "timer, x-private")),
        ("magic-cookie", GOOD_REQUEST.replace("branch=z9hG4bK776asdhds", "branch=776asdhds")),
        (
            "proxy-fields-first",
            GOOD_REQUEST.replace("Max-Forwards: 70\r\n", "").replace(
                "Content-Length: 4\r\n", "Content-Length: 4\r\nMax-Forwards: 70\r\n"
            ),
        ),
    ],
)
def test_each_rule_finds_its_defect(rule: str, bad: str) -> None:
    assert problems(rule, bad), f"{rule} found nothing wrong in the defective message"


def test_content_encoding_decodes_in_order() -> None:
    body = gzip.compress(b"v=0\r\n")
    head = GOOD_REQUEST.split("\r\n\r\n")[0].replace(
        "Content-Length: 4", f"Content-Length: {len(body)}"
    )
    good = (head + "\r\nContent-Encoding: gzip\r\n\r\n").encode() + body
    assert problems("content-encoding", good) == []
    lying = (head + "\r\nContent-Encoding: deflate\r\n\r\n").encode() + body
    assert problems("content-encoding", lying)
    silent = (head + "\r\n\r\n").encode() + body
    assert problems("content-encoding", silent)


def test_content_length_needed_over_tcp_only() -> None:
    without = GOOD_RESPONSE.replace("Content-Length: 0\r\n", "")
    assert problems("length-stream", without, "udp") == []
    assert problems("length-stream", without, "tcp")


def test_tables() -> None:
    invite_2xx = seen(
        GOOD_RESPONSE.replace("401 Unauthorized", "200 OK").replace("1 REGISTER", "1 INVITE")
    )
    assert presence(invite_2xx.msg, "Contact") == {"m"}
    assert presence(invite_2xx.msg, "Max-Forwards") == set()
    assert "no Contact" in " ".join(problems("mandatory", invite_2xx.msg.raw))


def test_tags() -> None:
    assert tag_problems(["a6c85cf1", "b7d96dg2"]) == []
    assert tag_problems(["1", "b7d96dg2"])
    assert tag_problems(["a6c85cf1", "a6c85cf1"])


# --- the faulty element's well-formedness faults ---------------------------------------------

BATTERY = "wellformed-framing,wellformed-body-length-type,wellformed-header-rows"


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(role: str = "uas", *faults: str) -> str:
        element = FaultyElement(role, faults, t1=0.2)
        started.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started:
        element.stop()


def test_correct_element_passes_the_battery(make) -> None:
    got = verdicts(run_cases(make("uas"), "uas", "wellformed-*", Profile(t1=0.2)))
    assert {k: v for k, v in got.items() if v not in ("pass", "warn", "not-applicable")} == {}
    got = verdicts(run_cases(make("registrar"), "registrar", "wellformed-*", Profile(t1=0.2)))
    assert {k: v for k, v in got.items() if v not in ("pass", "warn", "not-applicable")} == {}
    got = verdicts(run_cases(make("redirect"), "redirect", "wellformed-*", Profile(t1=0.2)))
    assert {k: v for k, v in got.items() if v not in ("pass", "warn", "not-applicable")} == {}
    assert len(got) > 10


def test_notes_say_what_was_judged(make) -> None:
    from conformance.report import case_json

    run = run_cases(make("uas"), "uas", "wellformed-header-rows", Profile(t1=0.2))
    notes = case_json(run.results[0])["notes"]
    assert any("messages from the target judged" in n for n in notes)
    # the double sends no challenge: the rules about challenge rows had nothing to look at
    assert any("nothing to judge for: auth-rows" in n for n in notes)


def test_battery_cases_share_one_set_of_exchanges_per_run(make) -> None:
    target = make("uas")
    run = run_cases(target, "uas", "wellformed-framing,wellformed-name-addr", Profile(t1=0.2))
    first, second = run.results
    assert first.preamble.startswith("ok: messages from the target")
    assert second.preamble == "ok: the messages wellformed-framing made the target send"
    # the evidence is copied into the second case's ladder
    assert [e.data for e in second.ladder.events] == [e.data for e in first.ladder.events]
    # a new run makes its own exchanges
    again = run_cases(target, "uas", "wellformed-name-addr", Profile(t1=0.2))
    assert again.results[0].preamble.startswith("ok: messages from the target")


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("lf_only", "wellformed-framing"),
        ("bad_content_length", "wellformed-body-length-type"),
        ("dup_param", "wellformed-header-rows"),
    ],
)
def test_each_fault_fails_its_case(make, fault: str, failing: str) -> None:
    got = verdicts(run_cases(make("uas", fault), "uas", BATTERY, Profile(t1=0.2)))
    assert {k for k, v in got.items() if v == "fail"} == {failing}


def test_combined_challenge_fails_the_header_rows_case(make) -> None:
    run = run_cases(make("registrar", "combined_auth"), "registrar", BATTERY, Profile(t1=0.2))
    assert {k for k, v in verdicts(run).items() if v == "fail"} == {"wellformed-header-rows"}
    failed = next(r for r in run.results if r.verdict.value == "fail")
    assert "MUST NOT be combined" in failed.case.requirements[failed.enforced].quote


# --- the UAC role: the faulty UAC and our own ua ------------------------------------------------

UAC_BATTERY = [
    "wellformed-framing",
    "wellformed-header-table",
    "wellformed-tags",
    "wellformed-uac-compact-rows",
]


@pytest.mark.parametrize(
    ("fault", "failing"),
    [("", set()), ("no_cookie", {"wellformed-header-table"}), ("fixed_ids", {"wellformed-tags"})],
)
def test_faulty_uac_fails_exactly_its_case(fault: str, failing: set[str]) -> None:
    from conformance.tests.test_uac import _profile, _run

    got = _run(_profile(fault), UAC_BATTERY)
    assert {k for k, v in got.items() if v == "fail"} == failing, got
    assert set(got.values()) <= {"pass", "fail"}, got


def test_own_ua_passes_the_uac_cases() -> None:
    from conformance.profile import load_profile
    from conformance.tests.test_uac import PROFILES, _run

    profile = load_profile(PROFILES / "sipref-uac.toml")
    got = _run(profile, [*UAC_BATTERY, "wellformed-uac-in-call-requests"])
    assert set(got.values()) == {"pass"}, got

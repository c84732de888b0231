"""Tests of the RFC text model (annotate.rfctext) on every RFC in the spec folder."""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest

from annotate.requirements import extract_requirements
from annotate.rfctext import RfcParseError, normalize, parse_rfc
from annotate.tests.conftest import spec_rfc_numbers

RFCS = spec_rfc_numbers()

# (number, title) pairs read off the heading lines of each RFC's text (grep of the
# column-0 headings, titles as printed; a wrapped heading joined with its second line).
KNOWN_TITLES = {
    2119: [("4", "SHOULD NOT"), ("5", "MAY"), ("6", "Guidance in the use of these Imperatives")],
    2617: [
        ("2", "Basic Authentication Scheme"),
        ("3.2", "Specification of Digest Headers"),
        ("6", "Acknowledgments"),
    ],
    3261: [
        ("4", "Overview of Operation"),
        ("7.3.1", "Header Field Format"),
        ("17.1.1.2", "Formal Description"),
        ("30", "Informative References"),
        ("A", "Table of Timer Values"),
    ],
    3262: [
        ("4", "UAC Behavior"),
        ("8.1", "IANA Registration of the 100rel Option Tag"),
        ("11", "Acknowledgements"),
    ],
    3263: [
        ("4", "Client Usage"),
        ("7", "Security Considerations"),
        ("11", "Normative References"),
    ],
    3264: [
        ("4", "Protocol Operation"),
        ("7", "Offerer Processing of the Answer"),
        ("16", "Authors' Addresses"),
    ],
    3265: [
        ("2", "Definitions"),
        ("3.1.4.1", "Requesting a Subscription"),
        ("9", "Informative References"),
    ],
    3311: [
        ("4", "Determining Support for this Extension"),
        ("8", "Example Call Flow"),
        ("12", "Normative References"),
    ],
    3325: [
        ("4", "Overview"),
        ("9.2", "The P-Preferred-Identity Header"),
        ("13.2", 'Registration of "id" privacy type for SIP Privacy header'),
    ],
    3326: [("2", "The Reason Header Field"), ("3", "Examples"), ("5", "Security Considerations")],
    3327: [
        ("4", "Path Header Field Definition and Syntax"),
        ("5.5.1", "Example of Mechanism in REGISTER Transaction"),
        ("6.2", "Considerations in REGISTER Response Processing"),
    ],
    3428: [
        ("4", "UAC Processing"),
        ("11", "Security Considerations"),
        ("15", "Normative References"),
        ("16", "Informational References"),
    ],
    3515: [
        ("2.2", "Header Field Support for the REFER Method"),
        ("2.4.5", "The Body of the NOTIFY"),
        ("10", "Intellectual Property Statement"),
    ],
    3550: [
        ("2.1", "Simple Multicast Audio Conference"),
        ("5.1", "RTP Fixed Header Fields"),
        ("A", "Algorithms"),
        ("A.4", "Generating RTCP SDES Packets"),
    ],
    3551: [
        ("3", "Registering Additional Encodings"),
        ("4.5.1", "DVI4"),
        ("16", "Authors' Addresses"),
    ],
    3581: [("4", "Server Behavior"), ("9.2", "Exit Strategy"), ("13", "Authors' Addresses")],
    3608: [
        ("4", "Applicability Statement"),
        ("6.4.1", "Example of Mechanism in REGISTER Transaction"),
        ("9", "Normative References"),
    ],
    3840: [
        ("4", "Usage of the Content Negotiation Framework"),
        ("10.1", "Audio"),
        ("14.1", "Normative References"),
    ],
    3841: [
        ("4", "Overview of Operation"),
        ("7.2", "Preference and Capability Matching"),
        ("15", "Authors' Addresses"),
    ],
    3891: [
        ("4", "User Agent Client Behavior: Sending a Replaces Header"),
        ("8", "Security Considerations"),
        ("13", "Full Copyright Statement"),
    ],
    3892: [("2.1", "Referrer Behavior"), ("6", "Security Considerations"), ("10", "References")],
    3903: [
        ("4", "Constructing PUBLISH Requests"),
        ("6", "Processing PUBLISH Requests"),
        ("19.2", "Informative References"),
    ],
    3960: [
        ("3.1", "Forking"),
        ("6", "Security Considerations"),
        ("8.2", "Informative References"),
    ],
    3966: [("4", "URI Comparisons"), ("5.1.5", "Local Numbers"), ("12", "Changes Since RFC 2806")],
    3986: [
        ("1.1.2", "Examples"),
        ("2", "Characters"),
        ("B", "Parsing a URI Reference with a Regular Expression"),
        ("D.2", "Modifications"),
    ],
    4028: [
        ("4", "Session-Expires Header Field Definition"),
        ("8", "Proxy Behavior"),
        ("14", "Acknowledgements"),
    ],
    4235: [
        ("3.1", "Event Package Name"),
        ("3.7.1", "The Dialog State Machine"),
        ("8.4.2", "Media Feature Tag sip.rendering"),
    ],
    4244: [
        ("1.3", 'Background: Why define a Generic "Request History" capability?'),
        ("4", "Request History Information Protocol Details"),
        ("D", "Session via Redirect and Proxy Servers"),
    ],
    4320: [
        ("2.2", "Action 2: Remove the useless late-response storm"),
        ("6", "Contributors"),
        ("7", "Normative References"),
    ],
    4475: [
        ("2.2", "Representing Non-printable Characters"),
        ("3.1.1.3", "Valid Use of the % Escaping Mechanism"),
        ("4", "Security Considerations"),
    ],
    4488: [("4", "Definitions"), ("10", "References"), ("10.1", "Normative References")],
    4566: [
        ("3.1", "Session Initiation"),
        ("4.3", "Private Sessions"),
        ("10", "Summary of Changes from RFC 2327"),
    ],
    5057: [("3.1", "Transfer"), ("5.2", "Transaction Timeouts"), ("9", "Acknowledgments")],
    5118: [
        ("4", "Parser Torture Tests"),
        ("4.7", "Multiple IP Addresses in SIP Headers"),
        ("A", "Bit-Exact Archive of Each Test Message"),
    ],
    5393: [("4", "Updates to RFC 3261"), ("5", "Max-Breadth"), ("9.1", "Normative References")],
    5626: [("3", "Overview"), ("3.5.2", "STUN Keep-Alive Technique"), ("16", "References")],
    5627: [
        ("3.1", "Structure of GRUUs"),
        ("4.1", "Generating a REGISTER Request"),
        ("B", "Network Design Considerations"),
    ],
    5922: [("3", "Problem Statement"), ("7.3", "Client Behavior"), ("A.2", "Changes")],
    5954: [
        ("3.1", "Extra Colon in IPv4-Mapped IPv6 Address"),
        ("6", "Security Considerations"),
        ("7", "Acknowledgments"),
    ],
    6026: [
        ("4", "Summary of Change"),
        ("8", "Exact Changes to RFC 3261"),
        ("8.6", "Page 136"),
        ("11", "Acknowledgments"),
    ],
    6086: [
        ("3", "Applicability and Backward Compatibility"),
        ("4.3", "INFO Message Body"),
        ("12.2.2.2", "Info Package with Multiple Body Parts inside Multipart Body Part"),
        ("A", "Acknowledgements"),
    ],
    6228: [
        ("4", "User Agent Client Behavior"),
        ("9.2", "Example with a Forking Proxy that Receives 200 OK"),
        ("13.2", "Informative References"),
    ],
    6665: [
        ("2", "Definitions"),
        ("3.2.1", "Identification of Reported Events, Event Classes, and Current State"),
        ("B.26", 'Remove "State Agent" Terminology'),
    ],
    7118: [
        ("3", "The WebSocket Protocol"),
        ("5.3", 'Via "received" Parameter'),
        ("A.2", "Just Web Authentication"),
    ],
    7332: [
        ("4", "B2BUA Loop-Detection Behavior"),
        ("9.1", "Normative References"),
        ("9.2", "Informative References"),
    ],
    7616: [
        ("2.1", "Examples"),
        ("3.4.1", "Response"),
        ("3.5", "The Authentication-Info and Proxy-Authentication-Info Header Fields"),
        ("A", "Changes from RFC 2617"),
    ],
    8174: [("4", "Security Considerations"), ("5", "Normative References")],
    8760: [
        ("2.1", "Hash Algorithms"),
        ("3", "Security Considerations"),
        ("5.2", "Informative References"),
    ],
    8866: [
        ("3.1", "Session Initiation"),
        ("4.3", "Obtaining Further Information about a Session"),
        ("8.2.4.1", "New Attributes"),
        ("10", "Summary of Changes from RFC 4566"),
    ],  # The 22 texts added for the extensions and RFC 3261's remaining updaters.
    3420: [
        ("2", "Definition: message/sipfrag"),
        ("3.2", "Invalid message/sipfrag parts"),
        ("6", "Security Considerations"),
    ],
    3680: [
        ("2", "Terminology"),
        ("4.10", "Rate of Notifications"),
        ("11", "Acknowledgements"),
    ],
    3842: [
        ("2", "Background and Appropriateness"),
        ("3.13", "Behavior of a Proxy Server"),
        ("10.2", "Informational References"),
    ],
    3853: [
        ("2", "Terminology"),
        ("5", "References"),
        ("6", "Acknowledgments"),
    ],
    3856: [
        ("2", "Terminology"),
        ("6.11.1", "Aggregation, Authentication, and Authorization"),
        ("14", "Informative References"),
    ],
    3863: [
        ("1.1", "Terminology and Conventions"),
        ("4.2.1", "XML Namespaces Background"),
        ("A", "Document Type Definitions"),
    ],
    4317: [
        ("2", "Codec Negotiation and Selection"),
        ("3.1", "Hold and Unhold 1"),
        ("7", "Informative References"),
    ],
    4916: [
        ("2", "Terminology"),
        ("5.1", "Sending Connected Identity after Answering a Call"),
        ("9.2", "Informative References"),
    ],
    5621: [
        ("2", "Terminology"),
        ("8", "Disposition Types"),
        ("14.2", "Informative References"),
    ],
    5630: [
        ("2", "Terminology"),
        ("5.1.1.4", "GRUU"),
        ("A", "Bug Fixes for RFC 3261"),
    ],
    5658: [
        ("2", "Terminology"),
        ("6.1", "UA Implementation Problems and Recommendations"),
        ("10.2", "Informative References"),
    ],
    6141: [
        ("2", "Terminology"),
        ("4.5", "UA Updating the Dialog's Local Target in a Response"),
        ("8.2", "Informative References"),
    ],
    6223: [
        ("1.1", "Use-Case: Dialog from Non-Registered UAs"),
        ("6", "Connection Reuse"),
        ("12.2", "Informative References"),
    ],
    6337: [
        ("2", "Summary of SIP Usage of the Offer/Answer Model"),
        ("4.3", "Interworking of UPDATE and Re-INVITE"),
        ("8.2", "Informative References"),
    ],
    6455: [
        ("1.1", "Background"),
        ("7.2", "Abnormal Closures"),
        ("14.2", "Informative References"),
    ],
    6878: [
        ("2", "IANA Considerations"),
        ("4", "References"),
        ("4.2", "Informative References"),
    ],
    7462: [
        ("2", "Requirements Language"),
        ("9.2", "'Alert URN Identifiers' Registry"),
        ("17.2", "Informative References"),
    ],
    7463: [
        ("2", "Conventions Used in This Document"),
        ("8.2", "Call State Rendering"),
        ("14.2", "Informative References"),
    ],
    8217: [
        ("2", "Terminology"),
        ("4", "Updates to RFCs Defining SIP Extension Header Fields"),
        ("7", "Normative References"),
    ],
    8591: [
        ("2", "Terminology"),
        ("8.4", "MSRP URIs"),
        ("A.3.2", "Encrypted Message"),
    ],
    8898: [
        ("1.1", "Terminology"),
        ("2.1.3", "REGISTER Request"),
        ("8", "Informative References"),
    ],
    8996: [
        ("1.1", "RFCs Updated"),
        ("6", "Updates to RFC 7525"),
        ("10.2", "Informative References"),
    ],
}


def raw_text(spec_dir: Path, rfc: int) -> str:
    return (spec_dir / f"rfc{rfc}.txt").read_text(encoding="utf-8")


def toc_numbers(raw: str) -> list[str] | None:
    """The section numbers the TOC lists, read with a method independent of the parser:
    every indented line after "Table of Contents" that starts with a number or
    "Appendix X" / "X.1", skipping page furniture, up to the first column-0 line."""
    lines = raw.lstrip("\ufeff").split("\n")
    # RFC 3863 heads its TOC "Table of Content".
    titles = ("Table of Contents", "Table of Content")
    start = next((i for i, x in enumerate(lines) if x.strip() in titles), None)
    if start is None:
        return None
    numbers = []
    for line in lines[start + 1 :]:
        if not line.strip() or "\f" in line or re.search(r"\[Page \d+\]\s*$", line):
            continue
        if re.match(r"RFC \d+ ", line):
            continue  # page header
        if not line.startswith(" "):
            break
        m = re.match(r"\s+(?:Appendix\s+)?(\d+(?:\.\d+)*|[A-Z](?:\.\d+)*)\.?(?=\s)", line)
        if m:
            numbers.append(m.group(1))
    return numbers


def test_every_rfc_in_the_folder_has_known_titles():
    assert len(RFCS) == 71
    assert set(RFCS) == set(KNOWN_TITLES)


@pytest.mark.parametrize("rfc", RFCS)
def test_sections_match_the_toc(rfc, spec_dir, spec_store):
    doc = spec_store.document(rfc)
    raw = raw_text(spec_dir, rfc)
    expected = toc_numbers(raw)
    numbers = [s.number for s in doc.sections]
    assert len(numbers) == len(set(numbers)), "duplicate section numbers"
    if expected is None:
        # RFC 2119 and RFC 6878 have no TOC: their sections are the "N. " and
        # "N.N. " lines at column 0.
        col0 = re.findall(r"^(\d+(?:\.\d+)*)\. ", raw, re.MULTILINE)
        assert numbers == col0
        return
    assert [e.number for e in doc.toc] == expected
    in_toc = [n for n in numbers if n in set(expected)]
    # every TOC entry, once (RFC 3326 prints §8 before §7, so not always in TOC order)
    assert sorted(in_toc) == sorted(expected)
    depth: dict[str, int] = {}
    for e in doc.toc:
        top = e.number.split(".")[0]
        depth[top] = max(depth.get(top, 0), e.level)
    for s in doc.sections:
        if s.number not in expected:
            # only sections deeper than the TOC goes (RFC 8866 lists 3 levels, has 4)
            assert s.level > depth[s.number.split(".")[0]], s.number
            parent = s.number.rsplit(".", 1)[0]
            assert doc.section(parent) is not None


@pytest.mark.parametrize("rfc", RFCS)
def test_known_titles(rfc, spec_store):
    doc = spec_store.document(rfc)
    for number, title in KNOWN_TITLES[rfc]:
        section = doc.section(number)
        assert section is not None, f"RFC {rfc} §{number} not found"
        assert section.title == title


@pytest.mark.parametrize("rfc", RFCS)
def test_no_page_furniture_and_consistent_text(rfc, spec_store):
    doc = spec_store.document(rfc)
    header = re.compile(rf"^RFC {rfc} {{2,}}.*\d{{4}}\s*$", re.MULTILINE)
    for s in doc.sections:
        text = s.text
        assert "\f" not in text
        assert not re.search(r"\[Page \d+\]", text), (s.number, text)
        assert not header.search(text), s.number
        assert s.normalized == normalize(text)
        assert s.anchor == f"{s.kind}-{s.number}"
        assert s.level == s.number.count(".") + 1
        for b in s.blocks:
            assert b.kind in ("para", "list-item", "pre")
            assert s.normalized[b.start : b.end] == b.normalized
            assert b.text.strip()
            if b.kind != "pre":
                assert "\n" not in b.text


def test_rfc3261_structure(rfc3261):
    assert rfc3261.number == 3261
    assert rfc3261.title == "SIP: Session Initiation Protocol"
    assert len(rfc3261.sections) == 315
    assert len(rfc3261.toc) == 315
    assert rfc3261.toc[0] == ("1", "Introduction", 1)
    number, title, level = rfc3261.toc[-1]
    assert (number, title, level) == ("A", "Table of Timer Values", 1)
    s = rfc3261.section("17.1.1.2")
    assert s is rfc3261.section("section-17.1.1.2") is rfc3261.section("17.1.1.2.")
    assert (s.kind, s.level, s.anchor) == ("section", 4, "section-17.1.1.2")
    assert s.url == "https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2"
    a = rfc3261.section("appendix-A")
    assert a is rfc3261.section("A")
    assert (a.kind, a.anchor, a.title) == ("appendix", "appendix-A", "Table of Timer Values")
    assert rfc3261.section("17.1.1.99") is None
    assert rfc3261.section("B") is None


def test_paragraph_cut_by_a_page_break_is_one_block(rfc3261):
    # RFC 3261 §7.3.1: page 30 ends "...Proxy-Authorization header fields.  Multiple
    # header" and page 31 goes on "field rows with these names MAY be present ...".
    s = rfc3261.section("7.3.1")
    sentence = (
        "The exceptions to this rule are the WWW-Authenticate, Authorization, "
        "Proxy-Authenticate, and Proxy-Authorization header fields. Multiple header field "
        "rows with these names MAY be present in a message"
    )
    span = s.find(sentence)
    assert span is not None
    block = s.block_at(span[0])
    assert block is not None and block.kind == "para"
    assert span[1] <= block.end  # the whole sentence is inside one block


def test_paragraph_ending_at_a_page_break_stays_separate(rfc3261):
    # RFC 3261 §7: page 26 ends with "(RFC 2279 [7])." and a new paragraph starts page 27.
    s = rfc3261.section("7")
    first = next(b for b in s.blocks if b.text.endswith("(RFC 2279 [7])."))
    after = s.blocks[s.blocks.index(first) + 1]
    assert after.text.startswith("A SIP message is either a request")


def test_preformatted_blocks_are_verbatim(rfc3261):
    s = rfc3261.section("17.1.1.2")
    figure = next(b for b in s.blocks if "Calling" in b.text and b.kind == "pre")
    assert "               |         |  Calling  |               |" in figure.text.split("\n")
    caption = next(b for b in s.blocks if b.normalized == "Figure 5: INVITE client transaction")
    assert caption.kind == "pre"
    abnf = rfc3261.section("7.1").blocks[2]
    assert abnf.kind == "pre"
    assert abnf.text == "         Request-Line  =  Method SP Request-URI SP SIP-Version CRLF"
    message = [b for b in rfc3261.section("4").blocks if "INVITE sip:bob@biloxi.com" in b.text]
    assert message and all(b.kind == "pre" for b in message)
    # the collected ABNF of §25.1 holds no prose blocks with rule definitions
    for b in rfc3261.section("25.1").blocks:
        if re.search(r"^\s*[A-Za-z-]+\s+=\s", b.text):
            assert b.kind == "pre", b.text


def test_list_items(rfc3261):
    s = rfc3261.section("16.6")
    items = [b.normalized for b in s.blocks if b.kind == "list-item"]
    assert items[:3] == [
        "1. Make a copy of the received request",
        "2. Update the Request-URI",
        "3. Update the Max-Forwards header field",
    ]
    bullets = [b for b in rfc3261.section("8.2.7").blocks if b.kind == "list-item"]
    assert bullets[0].normalized == "o A stateless UAS MUST NOT send provisional (1xx) responses."


def test_hanging_definitions_are_prose(rfc3261, spec_store):
    call = next(b for b in rfc3261.section("6").blocks if b.text.startswith("Call: "))
    assert call.kind == "para"
    doc = spec_store.document(8866)
    username = next(b for b in doc.section("5.2").blocks if b.text.startswith("<username>"))
    assert username.kind == "para"
    assert username.normalized.endswith("The <username> MUST NOT contain spaces.")


def test_v3_rfcs_without_pagination(spec_store):
    doc = spec_store.document(8866)
    assert doc.title == "SDP: Session Description Protocol"
    assert doc.toc[0] == ("1", "Introduction", 1)
    assert ("6.7.1", "recvonly (Receive-Only)", 3) in doc.toc
    new_attributes = doc.section("8.2.4.1")
    assert new_attributes.level == 4 and new_attributes.title == "New Attributes"
    # "Acknowledgements" (unnumbered) is not swallowed into §11.2
    refs = doc.section("11.2")
    assert "Acknowledgements" not in refs.text
    doc = spec_store.document(8760)
    assert doc.section("2.1").title == "Hash Algorithms"
    assert doc.title == "The Session Initiation Protocol (SIP) Digest Access Authentication Scheme"


def test_unnumbered_trailers_end_the_last_section(rfc3261):
    last = rfc3261.section("A")
    assert "Authors' Addresses" not in last.text
    assert "Full Copyright Statement" not in last.text
    assert "Timer K" in last.text


def test_heading_typo_is_matched_to_the_toc(spec_store):
    # RFC 3903 prints "19.2.  Informative References" under §18 (its TOC says 18.2).
    doc = spec_store.document(3903)
    assert doc.section("18.2") is doc.section("19.2")
    assert doc.section("18.2").title == "Informative References"


# ------------------------------------------------------------------------ synthetic text

FOOTER = "Author                      Standards Track                     [Page {n}]"
HEADER = "RFC 9999                     Test Protocol                    June 2030"


def paginate(pages: list[list[str]]) -> str:
    out: list[str] = []
    for n, page in enumerate(pages, 1):
        if n > 1:
            out += ["\f" + HEADER, "", ""]
        out += page
        out += ["", "", "", FOOTER.format(n=n)]
    return "\n".join(out) + "\n"


FRONT = [
    "Network Working Group                                          A. Author",
    "Request for Comments: 9999                                       Example",
    "Category: Standards Track                                      June 2030",
    "",
    "                            Test Protocol",
    "",
    "Table of Contents",
    "",
    "   1. Introduction ....................................................2",
    "   2. Protocol ........................................................2",
    "      2.1. Details ....................................................3",
    "   Appendix A. Extra ..................................................3",
    "   Author's Address ...................................................4",
]


def test_synthetic_page_break_joins_and_false_headings():
    pages = [
        FRONT,
        [
            "1. Introduction",
            "",
            "   This paragraph is long enough to be filled to the right margin and it",
            "   continues on the next page without any blank line in the original",
        ],
        [
            "   text, so the page break must not split it.  The sender MUST do this.",
            "",
            "1. Not a heading: a numbered list item at column 0 with a wrong title.",
            "",
            "2. Protocol",
            "",
            "   rule  =  1*DIGIT",
            "",
            "2.1. Details",
            "",
            "   Detail text.",
            "",
            "Appendix A.  Extra",
            "",
            "   Extra text.",
            "",
            "Author's Address",
            "",
            "   A. Author",
        ],
    ]
    doc = parse_rfc(paginate(pages), 9999)
    assert doc.title == "Test Protocol"
    assert [s.number for s in doc.sections] == ["1", "2", "2.1", "A"]
    intro = doc.section("1")
    assert intro.blocks[0].kind == "para"
    assert intro.blocks[0].text.endswith(
        "continues on the next page without any blank line in the original text, so the "
        "page break must not split it.  The sender MUST do this."
    )
    assert "Not a heading" in intro.text  # kept as text of §1, not a section
    assert doc.section("2").blocks[0].kind == "pre"
    assert doc.section("A").text == "Extra text."  # the author's address is not in it
    assert [tuple(e) for e in doc.toc] == [
        ("1", "Introduction", 1),
        ("2", "Protocol", 1),
        ("2.1", "Details", 2),
        ("A", "Extra", 1),
    ]


def test_synthetic_paragraph_break_at_page_end():
    pages = [
        FRONT,
        [
            "1. Introduction",
            "",
            "   A short paragraph ends here.",
        ],
        [
            "   Another paragraph starts on the new page.",
        ],
    ]
    doc = parse_rfc(paginate(pages), 9999)
    assert [b.text for b in doc.section("1").blocks] == [
        "A short paragraph ends here.",
        "Another paragraph starts on the new page.",
    ]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Request for Comments"),
        ("\x00\x01\x02binary junk\xff" * 50, "not a text file"),
        ("Just some text.\nNothing here.\n", "Request for Comments"),
        ("Request for Comments: 9999\n\nno sections at all\n", "no section headings"),
    ],
)
def test_garbled_text_raises_a_clear_error(text, message):
    with pytest.raises(RfcParseError, match=message) as info:
        parse_rfc(text, 9999)
    assert "RFC 9999" in str(info.value)


def test_truncated_rfc_raises(spec_dir):
    head = raw_text(spec_dir, 3261)[:20000]  # the front matter and part of the TOC
    with pytest.raises(RfcParseError, match="RFC 3261: no section headings"):
        parse_rfc(head, 3261)


def test_truncated_rfc_keeps_the_sections_it_has(spec_dir):
    text = raw_text(spec_dir, 3261)
    cut = text[: text.index("8.1.1.2 To\n")]
    doc = parse_rfc(cut, 3261)
    assert doc.sections[-1].number == "8.1.1.1"


# ----------------------------------------------------------------------------- normalize


def test_normalize_collapses_whitespace():
    assert normalize("  a\n\n  b\t c  ") == "a b c"
    assert normalize("") == ""


def test_normalize_keeps_hyphen_at_line_end():
    assert normalize("Proxy-\n   Authenticate") == "Proxy-Authenticate"
    assert normalize("non-\nINVITE") == "non-INVITE"
    # not a line-end hyphen: spacing collapses but nothing is joined
    assert normalize("a - b") == "a - b"
    assert normalize("end --\n next") == "end -- next"


def test_parse_rfc3261_is_fast(spec_dir):
    text = raw_text(spec_dir, 3261)
    start = time.perf_counter()
    parse_rfc(text, 3261)
    assert time.perf_counter() - start < 1.0


def test_stray_form_feed_inside_a_line(spec_dir):
    text = raw_text(spec_dir, 3326).replace(
        "The Reason Header Field\n", "The Reason \fHeader\n", 1
    )
    doc = parse_rfc(text, 3326)
    assert doc.section("3").title == "Examples"
    assert all("\f" not in s.text for s in doc.sections)


def _mutate(text: str, rnd: random.Random, op: int) -> str:
    if op == 0:  # truncated
        return text[: rnd.randrange(len(text))]
    if op == 1:  # lines lost
        lines = text.split("\n")
        for _ in range(50):
            del lines[rnd.randrange(len(lines))]
        return "\n".join(lines)
    if op == 2:  # junk (any characters, form feeds and line breaks included) pasted in
        at = rnd.randrange(len(text))
        junk = "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(500))
        return text[:at] + junk + text[at:]
    if op == 3:  # CRLF line ends, or no form feeds
        return text.replace("\n", "\r\n") if rnd.random() < 0.5 else text.replace("\f", "")
    lines = text.split("\n")  # the front matter shuffled
    head = lines[:200]
    rnd.shuffle(head)
    return "\n".join(head + lines[200:])


SMALL_RFCS = [3262, 3311, 3326, 3581, 4320, 5954, 7332, 8760]


@pytest.mark.parametrize("seed", range(25))
def test_damaged_text_parses_or_raises_a_clear_error(seed, spec_dir):
    rnd = random.Random(seed)
    rfc = rnd.choice(SMALL_RFCS)
    text = _mutate(raw_text(spec_dir, rfc), rnd, seed % 5)
    try:
        doc = parse_rfc(text, rfc)
    except RfcParseError as exc:
        assert f"RFC {rfc}" in str(exc)
        return
    extract_requirements(doc)
    for s in doc.sections:
        assert s.normalized == normalize(s.text)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SIPREF_FUZZ"), reason="long run: set SIPREF_FUZZ=1")
def test_damaged_text_long_run(spec_dir):
    for seed in range(500):
        rnd = random.Random(seed)
        rfc = rnd.choice(RFCS)
        text = _mutate(raw_text(spec_dir, rfc), rnd, seed % 5)
        try:
            extract_requirements(parse_rfc(text, rfc))
        except RfcParseError as exc:
            assert f"RFC {rfc}" in str(exc)


@pytest.mark.parametrize(
    ("prev", "number", "ok"),
    [
        (None, "1", True),
        (None, "2", False),
        ("3", "3.1", True),
        ("3", "3.2", False),
        ("3.1.2", "3.1.3", True),
        ("3.1.2", "3.2", True),
        ("3.1.2", "4", True),
        ("3.1.2", "5", False),
        ("3.1", "3.1.2", False),
        ("9", "A", True),
        ("A", "B", True),
        ("A", "A.1", True),
        ("A.1", "B", True),
        ("A", "10", False),
    ],
)
def test_section_number_succession(prev, number, ok):
    # used to accept headings of RFCs without a TOC (RFC 2119)
    from annotate.rfctext import _successor_ok

    assert _successor_ok(prev, number) is ok


def test_section_lookup_forms(rfc3261):
    s = rfc3261.section("8.1.1.7")
    for ref in ("section-8.1.1.7", "Section 8.1.1.7", "§8.1.1.7", " 8.1.1.7. "):
        assert rfc3261.section(ref) is s
    assert rfc3261.section("Appendix A") is rfc3261.section("a") is rfc3261.section("A")

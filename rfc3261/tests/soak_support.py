"""The hostile-message soak (issue 13): a seeded mutator, a runner and its verdicts.

``make_cases`` draws malformed requests from a fixed seed: a well-formed request
(§7.1, the mandatory header fields of §8.1.1) with one or two grammar-level
mutations of its request line or of one header field (oversized values, invalid
UTF-8, NULs, CRLF damage, duplicate and missing mandatory fields, numbers out of
range...).  Each INVITE is followed by its CANCEL (§9.1), and every non-2xx final
response to an INVITE by its ACK (§17.1.1.3), both copying the damaged fields the
way a careless peer does.  ``soak`` sends the cases unpaced over UDP or TCP to a
program on 127.0.0.1 with a liveness OPTIONS after each, and records every answer.

Nothing here ever addresses anything but 127.0.0.1: the top Via is never mutated
in its host or port, Contact and URIs name loopback or the programs' own domain,
and the proxy routes every other domain to a sink socket of the runner (see
``start_program``).  Every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rfc3261.framing import DEFAULT_MAX_HEADER_BYTES
from rfc3261.tests.transport_support import stop_process

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "example.com"
RING_USER = "soak"
_LISTENING = re.compile(r"(UDP|TCP|TLS) (\S+):(\d+)")

# -- the cases ---------------------------------------------------------------------------

# A header field as (name, value) in bytes: mutations work on bytes, not text.
Field = tuple[bytes, bytes]
INTERESTING_BYTES = (0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 92, 0x7F, 0x80, 0xC3, 0xFF)
MANDATORY = (b"To", b"From", b"Call-ID", b"CSeq", b"Max-Forwards")
# Room left for one field in a datagram: the whole request stays below 65,507 bytes.
OVERSIZE = 60_000


@dataclass
class Case:
    """One hostile request, what follows it, and what a server owes it."""

    number: int
    mutation: str
    method: str  # the method the request was built for (before mutation)
    branch: str
    request: bytes
    cancel: bytes | None = None  # sent right after the request (INVITE only)
    ack: bytes | None = None  # sent for a non-2xx final response to the INVITE
    # True: a response is owed (the top Via, CSeq and request line read);
    # False: nothing may answer (an ACK); None: either is acceptable.
    expect_answer: bool | None = True
    is_ack: bool = False  # the request line's method is ACK: §17 forbids any response


@dataclass
class Target:
    """What the requests of a run are addressed to."""

    program: str  # "ua", "proxy" or "registrar"
    transport: str  # "UDP" or "TCP"
    server_port: int
    local_port: int


def _methods(program: str) -> list[str]:
    if program == "registrar":
        return ["REGISTER", "REGISTER", "INVITE", "OPTIONS", "ACK"]
    return ["INVITE", "INVITE", "INVITE", "OPTIONS", "BYE", "INFO", "ACK"]


def _request_uri(target: Target) -> bytes:
    if target.program == "ua":
        return f"sip:{RING_USER}@127.0.0.1:{target.server_port}".encode()
    if target.program == "registrar":
        return f"sip:{DOMAIN}".encode()
    return f"sip:{RING_USER}@{DOMAIN}".encode()


def base_request(
    target: Target, method: str, branch: str, rng: random.Random
) -> tuple[bytes, list[Field], bytes]:
    """A well-formed request: (request line, header fields, body)."""
    tag = secrets.token_hex(4)
    call_id = f"soak-{secrets.token_hex(6)}@127.0.0.1"
    uri = _request_uri(target)
    to = f"<sip:fuzzer@{DOMAIN}>" if method == "REGISTER" else f"<sip:{RING_USER}@{DOMAIN}>"
    via = f"SIP/2.0/{target.transport} 127.0.0.1:{target.local_port};branch={branch};rport"
    fields: list[Field] = [
        (b"Via", via.encode()),
        (b"Max-Forwards", b"70"),
        (b"From", f'"Soak" <sip:fuzzer@{DOMAIN}>;tag={tag}'.encode()),
        (b"To", to.encode()),
        (b"Call-ID", call_id.encode()),
        (b"CSeq", f"{rng.randint(1, 9999)} {method}".encode()),
        (b"Contact", f"<sip:fuzzer@127.0.0.1:{target.local_port}>".encode()),
    ]  # fmt: skip
    body = b""
    if method == "INVITE" and rng.random() < 0.5:
        body = (
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=audio 9 RTP/AVP 0\r\n"
        )
        fields.append((b"Content-Type", b"application/sdp"))
    if method == "REGISTER":
        fields.append((b"Expires", str(rng.choice([0, 60, 3600])).encode()))
    fields.append((b"Content-Length", str(len(body)).encode()))
    return method.encode() + b" " + uri + b" SIP/2.0", fields, body


@dataclass
class Draft:
    """A request being mutated; ``render`` turns it into bytes for any method."""

    line: bytes
    fields: list[Field]
    body: bytes
    eol: bytes = b"\r\n"
    end: bytes = b"\r\n"  # what ends the header block after the last field's eol
    joined: set[int] = field(default_factory=set)  # fields whose eol is removed
    raw_tail: bytes = b""  # bytes appended after the body
    via_touched: bool = False
    cseq_touched: bool = False
    line_touched: bool = False  # the request line may no longer have three parts
    framing_touched: bool = False  # Content-Length or the header/body boundary
    leading: bool = False  # CRLFs before the request line (§7.5 ignores them on streams)

    def render(self, method: bytes | None = None, original: bytes = b"") -> bytes:
        """The wire bytes; with ``method``, those of the CANCEL/ACK copying this request."""
        line, fields = self.line, self.fields
        if method is not None:
            parts = line.split(b" ", 1)
            line = method + b" " + parts[1] if len(parts) == 2 else method + b" " + line
            fields = [
                (name, value.replace(original, method) if name.lower() == b"cseq" else value)
                for name, value in fields
            ]
        out = [line + self.eol]
        for index, (name, value) in enumerate(fields):
            text = name + b": " + value if name else value  # no name: the line as written
            out.append(text + (b"" if index in self.joined else self.eol))
        body = b"" if method is not None else self.body
        return b"".join(out) + self.end + body + self.raw_tail


Mutator = Callable[[Draft, random.Random], str]


def _pick(draft: Draft, rng: random.Random, *, via: bool = False) -> int:
    """A field index; the top Via (index 0) only when ``via``."""
    low = 0 if via else 1
    return rng.randrange(low, len(draft.fields)) if len(draft.fields) > low else 0


def _touch(draft: Draft, index: int) -> None:
    name = draft.fields[index][0].lower() if index < len(draft.fields) else b""
    if index == 0:
        draft.via_touched = True
    if name == b"cseq":
        draft.cseq_touched = True
    if name == b"content-length":
        draft.framing_touched = True


def _set_value(draft: Draft, index: int, value: bytes) -> None:
    _touch(draft, index)
    name = draft.fields[index][0]
    draft.fields[index] = (name, value)


def _junk(rng: random.Random, size: int) -> bytes:
    return bytes(rng.choice(INTERESTING_BYTES + tuple(range(33, 127))) for _ in range(size))


def m_value_bytes(draft: Draft, rng: random.Random) -> str:
    """Insert, delete or replace a few bytes of one field's value."""
    index = _pick(draft, rng)
    value = bytearray(draft.fields[index][1])
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(value) + 1)
        action = rng.choice(("insert", "delete", "replace"))
        byte = rng.choice(INTERESTING_BYTES)
        if action == "insert" or not value:
            value.insert(position, byte)
        elif action == "delete":
            del value[min(position, len(value) - 1)]
        else:
            value[min(position, len(value) - 1)] = byte
    _set_value(draft, index, bytes(value))
    return f"bytes:{draft.fields[index][0].decode()}"


def m_oversized(draft: Draft, rng: random.Random) -> str:
    """One value (or a display name / Call-ID) grown to tens of kilobytes."""
    index = _pick(draft, rng)
    name, value = draft.fields[index]
    size = rng.choice((1_000, 10_000, OVERSIZE - len(value)))
    filler = rng.choice((b"a", b"\xe9", b"\xff", b"%", b";x=y", b", "))
    grown = (filler * (size // len(filler)))[:size]
    if name == b"From" and value.startswith(b'"Soak" '):  # the display name (issue 13, 2)
        value = b'"' + grown + b'" ' + value.split(b" ", 1)[1]
    else:
        value = value + grown if rng.random() < 0.5 else grown + value
    _set_value(draft, index, value)
    return f"oversized:{name.decode()}"


def m_invalid_utf8(draft: Draft, rng: random.Random) -> str:
    """Bytes that are not UTF-8 (Latin-1, lone continuation, overlong) in one value."""
    index = _pick(draft, rng)
    name, value = draft.fields[index]
    bad = rng.choice((b"\xe9", b"\xff\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88"))
    position = rng.randrange(len(value) + 1)
    _set_value(draft, index, value[:position] + bad + value[position:])
    return f"utf8:{name.decode()}"


def m_nul(draft: Draft, rng: random.Random) -> str:
    index = _pick(draft, rng)
    name, value = draft.fields[index]
    position = rng.randrange(len(value) + 1)
    _set_value(draft, index, value[:position] + b"\x00" + value[position:])
    return f"nul:{name.decode()}"


def m_value(draft: Draft, rng: random.Random) -> str:
    """A value replaced by something the field's grammar does not allow."""
    index = _pick(draft, rng)
    name = draft.fields[index][0]
    choices = [b"", b" ", b"<", b">", b"<sip:>", b"\"unterminated <sip:a@b>", b";;;", b",,,",
               b"sip:" + b"@" * 40, b"-1", b"99999999999999999999", b"4294967296 INVITE",
               b"1 " + b"X" * 300, b"<sip:a@127.0.0.1>;tag=", b"<tel:>", b"1.5", b"\t\t",
               b"<sip:a@[::1>", b"*", _junk(rng, rng.randint(1, 40))]  # fmt: skip
    _set_value(draft, index, rng.choice(choices))
    return f"value:{name.decode()}"


def m_name(draft: Draft, rng: random.Random) -> str:
    """A header name with bytes a token cannot hold, or without its colon."""
    index = _pick(draft, rng)
    name, value = draft.fields[index]
    original = name.decode()
    _touch(draft, index)
    how = rng.choice(("space", "nul", "utf8", "colonless", "empty"))
    if how == "space":
        name = name + b" "
    elif how == "nul":
        name = name[:1] + b"\x00" + name[1:]
    elif how == "utf8":
        name = name + b"\xc3\xa9"
    elif how == "colonless":
        name, value = b"", name + b" " + value
    else:
        name, value = b"", b": " + value
    draft.fields[index] = (name, value)
    return f"name-{how}:{original}"


def m_duplicate(draft: Draft, rng: random.Random) -> str:
    """A mandatory single-valued field twice, the copy with another value."""
    names = [n for n, _ in draft.fields]
    name = rng.choice([n for n in (*MANDATORY, b"Content-Length") if n in names])
    index = names.index(name)
    value = draft.fields[index][1]
    other = {
        b"To": b"<sip:other@127.0.0.1>",
        b"From": b"<sip:other@127.0.0.1>;tag=other",
        b"Call-ID": b"other@127.0.0.1",
        b"CSeq": b"7 OPTIONS",
        b"Max-Forwards": b"0",
        b"Content-Length": b"5",
    }[name]
    copy = value if rng.random() < 0.3 else other
    draft.fields.insert(rng.randrange(1, len(draft.fields) + 1), (name, copy))
    if name == b"CSeq":
        draft.cseq_touched = True
    if name == b"Content-Length":
        draft.framing_touched = True
    return f"duplicate:{name.decode()}"


def m_missing(draft: Draft, rng: random.Random) -> str:
    """A mandatory field (or the Contact of an INVITE) left out."""
    names = [n for n, _ in draft.fields]
    name = rng.choice([n for n in (*MANDATORY, b"Contact", b"Content-Length") if n in names])
    index = names.index(name)
    _touch(draft, index)
    del draft.fields[index]
    draft.joined = set()
    return f"missing:{name.decode()}"


def m_crlf(draft: Draft, rng: random.Random) -> str:
    """Line ends damaged: bare LF or CR, a field joined to the next, a stray CR/LF or
    fold inside a value, the empty line missing or doubled."""
    how = rng.choice(("lf", "cr", "join", "inner", "fold", "no-end", "extra-end", "leading"))
    if how in ("lf", "cr"):
        draft.eol = b"\n" if how == "lf" else b"\r"
        draft.end = draft.eol
        draft.via_touched = draft.cseq_touched = draft.framing_touched = True
    elif how == "join":
        index = _pick(draft, rng)  # the top Via keeps its line end
        draft.joined.add(index)
        _touch(draft, index)
        if index + 1 < len(draft.fields):
            _touch(draft, index + 1)
        draft.framing_touched = True
    elif how == "inner":
        index = _pick(draft, rng)
        value = draft.fields[index][1]
        position = rng.randrange(len(value) + 1)
        stray = rng.choice((b"\r", b"\n", b"\r\n"))
        _set_value(draft, index, value[:position] + stray + value[position:])
        draft.framing_touched = True
    elif how == "fold":
        index = _pick(draft, rng)
        value = draft.fields[index][1]
        position = rng.randrange(len(value) + 1)
        _set_value(draft, index, value[:position] + b"\r\n " + value[position:])
    elif how == "no-end":
        draft.end = b""
        draft.framing_touched = True
    elif how == "extra-end":
        draft.end = b"\r\n\r\n"
        draft.framing_touched = True
    else:
        draft.line = b"\r\n" * rng.randint(1, 3) + draft.line  # §7.5: ignored on streams
        draft.leading = True
    return f"crlf:{how}"


def m_request_line(draft: Draft, rng: random.Random) -> str:
    """The method, Request-URI or SIP-Version mutated (§7.1, §25.1)."""
    parts = draft.line.split(b" ")
    if len(parts) != 3:  # already broken by an earlier mutation: break it further
        draft.line = draft.line + _junk(rng, 8)
        draft.line_touched = True
        return "line:junk"
    method, uri, version = parts
    how = rng.choice(("method", "method", "uri", "uri", "version", "version", "spaces", "parts"))
    if how == "method":
        method = rng.choice((method.lower(), method + b"\x00", method + b"\xc3\xa9",
                             b"IN\x01VITE", b"X" * rng.choice((100, 10_000)), b"INVITE;",
                             b"\xff\xfe", b"@", method + _junk(rng, 3)))  # fmt: skip
    elif how == "uri":
        uri = rng.choice((b"", b"sip:", b"sip:@", b"nonsense", b"sip:a@" + b"9" * 300,
                          uri + b"\xff", uri + b"\x00", uri + b";" * 50, b"sip:" + b"a" * 20_000,
                          b"<" + uri + b">", uri.replace(b":", b"::"), b"sip:a@[::1",
                          uri + b"?" + b"%" * 20))  # fmt: skip
        draft.line_touched = uri == b""
    elif how == "version":
        version = rng.choice((b"SIP/3.0", b"SIP/1.0", b"aaaaa/2.0", b"/2.0", b"SIP/2.0x",
                              b"SIP/2", b"sip/2.0", b"SIP/2.0\x00", b"HTTP/1.1",
                              b"SIP/99999999999.0"))  # fmt: skip
    elif how == "spaces":
        draft.line = method + rng.choice((b"  ", b"\t", b" \t ")) + uri + b" " + version
        draft.line_touched = True
        return f"line:{how}"
    else:
        draft.line = rng.choice((method + b" " + uri, method, b"", uri + b" " + version))
        draft.line_touched = True
        return f"line:{how}"
    draft.line = method + b" " + uri + b" " + version
    return f"line:{how}"


def m_via(draft: Draft, rng: random.Random) -> str:
    """The top Via damaged, its sent-by kept (the response has nowhere else to go)."""
    name, value = draft.fields[0]
    if draft.via_touched or name != b"Via" or b" " not in value:
        draft.fields.insert(0, (b"Via", _junk(rng, 12)))  # damaged already: one more, worse
        draft.via_touched = True
        return "via:junk"
    sent_by, _, params = value.partition(b";")
    how = rng.choice(("params", "protocol", "nul", "utf8", "oversized", "missing", "second"))
    if how == "params":
        damaged = (b"branch", b"branch=", b";;", b"rport=x;branch=", b"branch=z9hG4bK\xff")
        value = sent_by + b";" + rng.choice((*damaged, params + b";=;"))
    elif how == "protocol":
        protocol = rng.choice((b"SIP/2.0/", b"SIP/3.0/UDP ", b"SIP/2.0/\x00 ", b"/UDP "))
        value = protocol + value.split(b" ", 1)[1]
    elif how == "nul":
        value = value.replace(b";branch", b"\x00;branch")
    elif how == "utf8":
        value = value + b";x=\xff"
    elif how == "oversized":
        value = value + b";x=" + b"a" * OVERSIZE
    elif how == "missing":
        del draft.fields[0]
        draft.via_touched = True
        return "via:missing"
    else:
        draft.fields.insert(0, (name, value.replace(b";branch=", b";branch=z9hG4bKsoak2")))
        draft.via_touched = True
        return "via:second"
    draft.fields[0] = (name, value)
    draft.via_touched = True
    return f"via:{how}"


def m_body(draft: Draft, rng: random.Random) -> str:
    """Body and Content-Length disagree, or the body is binary."""
    how = rng.choice(("longer", "shorter", "binary", "trailing"))
    if how == "longer":
        draft.body = draft.body + b"x" * rng.randint(1, 200)
    elif how == "shorter":
        draft.body = draft.body[: len(draft.body) // 2]
    elif how == "binary":
        draft.body = bytes(rng.randrange(256) for _ in range(len(draft.body)))
    else:
        draft.raw_tail = b"\r\n" + _junk(rng, 20)
    draft.framing_touched = True
    return f"body:{how}"


# Weights: most cases damage a header field, as the grammar has many more of them.
MUTATORS: list[tuple[Mutator, int]] = [
    (m_value_bytes, 6),
    (m_value, 5),
    (m_oversized, 2),
    (m_invalid_utf8, 3),
    (m_nul, 2),
    (m_name, 2),
    (m_duplicate, 3),
    (m_missing, 3),
    (m_crlf, 3),
    (m_request_line, 5),
    (m_via, 2),
    (m_body, 1),
]


def _reads_via_and_cseq(request: bytes) -> bool:
    """Whether the top Via and the CSeq are still inside the header block."""
    ends = [request.find(blank) for blank in (b"\r\n\r\n", b"\n\n", b"\n\r\n", b"\r\r")]
    head = request[: min((end for end in ends if end >= 0), default=len(request))]
    return head.find(b"\r\nVia: ") >= 0 and head.find(b"\r\nCSeq: ") >= 0


# Mutators that add, remove or reorder fields run first: the others name fields by index.
_STRUCTURAL = (m_via, m_missing, m_duplicate)


def make_cases(target: Target, seed: int, count: int, tag: str) -> list[Case]:
    """``count`` hostile requests for ``target``, the same for the same seed."""
    rng = random.Random(f"{seed}:{target.program}:{target.transport}")
    mutators, weights = zip(*MUTATORS, strict=True)
    cases = []
    for number in range(count):
        method = rng.choice(_methods(target.program))
        branch = f"z9hG4bKsoak{tag}n{number}"
        line, fields, body = base_request(target, method, branch, rng)
        draft = Draft(line, fields, body)
        chosen = rng.choices(mutators, weights, k=rng.choice((1, 1, 1, 2)))
        chosen.sort(key=lambda mutator: mutator not in _STRUCTURAL)
        names = [mutator(draft, rng) for mutator in chosen]
        request = draft.render()
        if target.transport == "UDP" and len(request) > 65_000:
            request = request[:65_000]  # the largest datagram loopback takes
            draft.framing_touched = True
        expect: bool | None = True
        if draft.via_touched or draft.cseq_touched or draft.line_touched:
            expect = None  # §17.1.3: no Via and CSeq to match a response with
        if not _reads_via_and_cseq(request):
            expect = None  # e.g. a stray empty line cut the header block before them
        if (
            target.transport == "TCP"
            and len(request.split(b"\r\n\r\n")[0]) >= DEFAULT_MAX_HEADER_BYTES
        ):
            expect = None  # beyond the stream framer's header limit: the connection drops
        if target.transport == "TCP" and draft.framing_touched:
            expect = None  # a stream whose framing is lost owes nothing (§18.3)
        if target.transport == "UDP" and draft.leading:
            expect = None  # §7.5 asks this of streams only
        case = Case(number, "+".join(names), method, branch, request, expect_answer=expect)
        case.is_ack = request.lstrip(b"\r\n").startswith(b"ACK ")
        if case.is_ack:
            case.expect_answer = False
        elif method == "ACK":
            case.expect_answer = None  # an ACK no longer: answering is allowed
        elif method == "INVITE":
            case.cancel = draft.render(b"CANCEL", b"INVITE")
            case.ack = draft.render(b"ACK", b"INVITE")
        cases.append(case)
    return cases


# -- the answers -------------------------------------------------------------------------

_COMPACT = {b"v": b"via", b"i": b"call-id"}


@dataclass
class Answer:
    """A response as received, read leniently (it need not parse)."""

    status: int
    branch: str
    cseq_method: str
    first_line: str
    at: float
    call_id: str = ""


def read_answer(data: bytes, at: float) -> Answer | None:
    """Status, top-Via branch and CSeq method of a response; None for a request."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    first = lines[0]
    if not first.startswith(b"SIP/2.0 "):
        return None
    try:
        status = int(first.split(b" ")[1])
    except (IndexError, ValueError):
        status = 0
    branch = method = call_id = ""
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key == b"via" and not branch:
            found = re.search(rb"branch=([^;, \t]*)", value)
            branch = found.group(1).decode(errors="replace") if found else "?"
        elif key == b"call-id" and not call_id:
            call_id = value.strip().decode(errors="replace")
        elif key == b"cseq" and not method:
            method = value.split()[-1].decode(errors="replace") if value.split() else ""
    return Answer(status, branch, method, first.decode(errors="replace"), at, call_id)


@dataclass
class Outcome:
    """What came back for one case."""

    case: Case
    answers: list[Answer] = field(default_factory=list)
    probe_answered: bool = False
    closed: bool = False  # TCP: the server closed the connection

    def to_request(self) -> list[Answer]:
        """Answers to the request itself (not to its CANCEL or ACK)."""
        if self.case.is_ack:
            return []
        cancel_or_ack = ("CANCEL", "ACK") if self.case.method == "INVITE" else ()
        return [a for a in self.answers if a.cseq_method not in cancel_or_ack]

    def to_ack(self) -> list[Answer]:
        """Answers to an ACK: to the case's own ACK, or to any response naming ACK."""
        if self.case.is_ack:
            return list(self.answers)
        return [a for a in self.answers if a.cseq_method == "ACK"]

    def hundred_after_final(self) -> list[str]:
        """Transactions (branch, CSeq method) that got 100 after a final response."""
        final: set[tuple[str, str]] = set()
        late = []
        for answer in self.answers:
            key = (answer.branch, answer.cseq_method)
            if answer.status >= 200:
                final.add(key)
            elif answer.status == 100 and key in final:
                late.append(f"{answer.cseq_method} 100 after final")
        return late

    def verdict(self) -> str:
        if not self.probe_answered:
            return "probe-lost"
        if self.to_ack():
            return "answered-ack"
        if self.hundred_after_final():
            return "100-after-final"
        if self.case.expect_answer and not self.to_request():
            return "silent" if not self.closed else "closed"
        return "answered" if self.to_request() else "no-answer-owed"


@dataclass
class Run:
    """The outcomes of one soak run against one program over one transport."""

    program: str
    transport: str
    outcomes: list[Outcome]
    seconds: float
    stray: list[Answer] = field(default_factory=list)

    @property
    def cases_per_second(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds else 0.0

    def verdicts(self) -> Counter[str]:
        return Counter(outcome.verdict() for outcome in self.outcomes)

    def figures(self) -> dict[str, object]:
        return {
            "program": self.program,
            "transport": self.transport,
            "cases": len(self.outcomes),
            "seconds": round(self.seconds, 3),
            "cases_per_second": round(self.cases_per_second, 1),
            "verdicts": dict(sorted(self.verdicts().items())),
            "stray_answers": len(self.stray),
        }


# -- the programs ------------------------------------------------------------------------


class Program:
    """``python -m rfc3261 PROGRAM ARGS`` on 127.0.0.1; stderr (the log) to a file."""

    def __init__(self, program: str, args: list[str], workdir: Path) -> None:
        self.name = program
        self.log_path = workdir / f"{program}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        # stdout to a file too: the programs print a line per call, and an undrained pipe
        # would block them once its buffer is full.
        self.out_path = workdir / f"{program}.out"
        self.out = open(self.out_path, "w")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rfc3261", program, "--listen", "sip:127.0.0.1:0", "-q", *args],
            stdout=self.out,
            stderr=self.log,
            env=env,
            cwd=workdir,
        )
        line = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            line = self.out_path.read_text(errors="replace").partition("\n")[0]
            if line.startswith("listening on"):
                break
            time.sleep(0.05)
        if not line.startswith("listening on"):
            self.stop()
            raise RuntimeError(f"{program} did not start: {line!r}\n{self.log_text()}")
        self.ports = {t: int(p) for t, _, p in _LISTENING.findall(line)}

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def rss_kb(self) -> int:
        """Resident set size from /proc/PID/status (VmRSS), in kB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found is None:
            raise RuntimeError("no VmRSS in /proc/PID/status")
        return int(found.group(1))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> int:
        status = stop_process(self.process, timeout)
        self.out.close()
        self.log.close()
        return status


def program_args(program: str, workdir: Path, sink_port: int) -> list[str]:
    """The command line of each program under soak.

    The ua rings for ``sip:soak@`` and never answers (a CANCEL ends each call, 487);
    other users get 486.  The proxy serves example.com (no bindings: 480) and routes
    every other domain to the runner's sink on 127.0.0.1, so nothing leaves loopback.
    """
    if program == "ua":
        return ["--answer", "486", "--ring-user", RING_USER]
    if program == "registrar":
        return ["--domain", DOMAIN]
    config = workdir / "proxy.toml"
    config.write_text(
        f'[[route]]\ndomain = "*"\nnext-hop = "sip:127.0.0.1:{sink_port}"\n', encoding="utf-8"
    )
    return ["--domain", DOMAIN, "--config", str(config)]


# -- the runner --------------------------------------------------------------------------


class Sink:
    """A UDP socket on 127.0.0.1 for what the proxy forwards: it answers each request
    404 (a CANCEL 481) at once (a downstream that stays silent would hold every
    forwarded non-INVITE 32 s, Timer F) and ACKs nothing (the proxy's ACK for the 404
    is hop-by-hop)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="soak-sink", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from rfc3261 import Request, parse  # the proxy's own output: well-formed

        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received += 1
            try:
                request = parse(data)
            except ValueError:
                continue
            if isinstance(request, Request) and request.method != "ACK":
                # A CANCEL matches nothing here (every INVITE got its 404): 481, as a UAS
                # answers it (§9.2).
                status = 481 if request.method == "CANCEL" else 404
                response = request.make_response(status, to_tag="sink")
                self.sock.sendto(bytes(response), source)

    def drain(self) -> None:
        """Nothing to do: the sink answers on its own thread (kept for the runner)."""

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def probe(transport: str, local_port: int, server_port: int, branch: str) -> bytes:
    """The liveness OPTIONS (§11), addressed to the program itself."""
    return (
        f"OPTIONS sip:127.0.0.1:{server_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:prober@{DOMAIN}>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:127.0.0.1:{server_port}>\r\n"
        f"Call-ID: probe-{secrets.token_hex(6)}@127.0.0.1\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


class _Datagrams:
    """Send and receive on one UDP socket."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, timeout: float) -> Iterator[bytes]:
        """Datagrams until ``timeout`` passes with nothing new (bounded by the caller)."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(65535)
        except (TimeoutError, ConnectionRefusedError):
            return
        yield data

    def close(self) -> None:
        self.sock.close()


class _Stream:
    """One TCP connection; messages framed by Content-Length (§18.3)."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.sock = socket.create_connection(server, timeout=5)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def receive(self, timeout: float) -> Iterator[bytes]:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                found = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                                  self.buffer[:end], re.IGNORECASE)  # fmt: skip
                total = end + 4 + (int(found.group(1)) if found else 0)
                if len(self.buffer) >= total:
                    message, self.buffer = self.buffer[:total], self.buffer[total:]
                    yield message
                    return
            if self.closed:
                return
            self.sock.settimeout(max(timeout, 0.001))
            try:
                chunk = self.sock.recv(65535)
            except TimeoutError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def soak(
    program: Program,
    transport: str,
    count: int,
    seed: int,
    *,
    sink: Sink | None = None,
    probe_timeout: float = 5.0,
    settle: float = 0.3,
    deadline: float | None = None,
) -> Run:
    """Send ``count`` cases unpaced, a probe after each; stop early at ``deadline``."""
    port = program.ports[transport]
    server = ("127.0.0.1", port)
    tag = secrets.token_hex(3)
    udp = _Datagrams(server) if transport == "UDP" else None
    prober = udp or _Stream(server)
    local_port = prober.port
    cases = make_cases(Target(program.name, transport, port, local_port), seed, count, tag)
    outcomes: dict[str, Outcome] = {}
    by_call_id: dict[str, Outcome] = {}
    stray: list[Answer] = []
    pending_acks: dict[str, Case] = {}
    lost_in_a_row = 0
    started = time.monotonic()

    def take(data: bytes, channel: _Datagrams | _Stream) -> str | None:
        answer = read_answer(data, time.monotonic())
        if answer is None:
            return None
        branch = answer.branch
        # by the branch; a damaged Via may have lost it, then by the Call-ID
        outcome = outcomes.get(branch) or by_call_id.get(answer.call_id)
        if outcome is None:
            if not branch.startswith("z9hG4bKprobe"):
                stray.append(answer)
            return branch
        outcome.answers.append(answer)
        case = outcome.case
        if (answer.status >= 300 and answer.cseq_method == "INVITE" and case.ack
                and case.branch in pending_acks):  # fmt: skip
            del pending_acks[case.branch]
            channel.send(case.ack)  # §17.1.1.3, copying the damage
        return branch

    for case in cases:
        if deadline is not None and time.monotonic() > deadline:
            break
        if lost_in_a_row >= 3 or not program.alive():
            break
        outcome = outcomes[case.branch] = Outcome(case)
        call_id = re.search(rb"Call-ID: (soak-[0-9a-f]+@127\.0\.0\.1)", case.request)
        if call_id:
            by_call_id[call_id.group(1).decode()] = outcome
        channel: _Datagrams | _Stream
        channel = udp if udp is not None else _Stream(server)
        if case.ack:
            pending_acks[case.branch] = case
        channel.send(case.request)
        if case.cancel:
            channel.send(case.cancel)
        probe_branch = f"z9hG4bKprobe{tag}n{case.number}"
        prober.send(probe(transport, local_port, port, probe_branch))
        limit = time.monotonic() + probe_timeout
        while time.monotonic() < limit and not outcome.probe_answered:
            if channel is not prober:
                for data in channel.receive(0.002):
                    take(data, channel)
            for data in prober.receive(min(0.05, limit - time.monotonic())):
                if take(data, prober) == probe_branch:
                    outcome.probe_answered = True
        # An owed answer may trail the probe (TCP: the probe has its own connection).
        while case.expect_answer and not outcome.to_request() and time.monotonic() < limit:
            if getattr(channel, "closed", False):
                break
            for data in channel.receive(0.05):
                take(data, channel)
        lost_in_a_row = 0 if outcome.probe_answered else lost_in_a_row + 1
        if channel is not prober:
            # late answers (a 100 after the final, a response to the ACK) on this connection
            end = time.monotonic() + 0.02
            while time.monotonic() < end and not channel.closed:
                for data in channel.receive(0.01):
                    take(data, channel)
            outcome.closed = channel.closed
            channel.close()
        if sink is not None:
            sink.drain()
    seconds = time.monotonic() - started
    # What arrives after the last probe still counts (bounded by ``settle``).
    end = time.monotonic() + settle
    while time.monotonic() < end:
        for data in prober.receive(end - time.monotonic()):
            take(data, prober)
    prober.close()
    if sink is not None:
        sink.drain()
    return Run(program.name, transport, list(outcomes.values()), seconds, stray)


def warm_up(program: Program, count: int = 20) -> int:
    """Liveness probes only, over UDP (imports done, sockets open); how many were answered."""
    port = program.ports["UDP"]
    channel = _Datagrams(("127.0.0.1", port))
    answered = 0
    try:
        for number in range(count):
            branch = f"z9hG4bKprobewarm{number}"
            channel.send(probe("UDP", channel.port, port, branch))
            for data in channel.receive(2.0):
                answer = read_answer(data, time.monotonic())
                answered += answer is not None and answer.branch == branch
    finally:
        channel.close()
    return answered


def tracebacks(log: str) -> list[str]:
    """The tracebacks (and the line before each) a program's log holds."""
    lines = log.splitlines()
    found = []
    for start, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = start + 1
            while end < len(lines) and lines[end][:1] in (" ", "\t"):
                end += 1
            found.append("\n".join(lines[max(0, start - 1) : end + 1]))
    return found


def write_figures(path: Path, runs: list[Run], extra: dict[str, object]) -> None:
    """The figures of a soak (cases/s, counts per verdict) as JSON for the docs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"runs": [run.figures() for run in runs], **extra}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

"""Well-formedness rules for messages a target sends (RFC 3261 §7, §19, §20, §25.1).

A small battery the well-formedness cases (`conformance.cases.wellformed`) run on every
message the target sent in the role under test: each rule is a function taking a `Seen`
(the message as read off the wire, and how it travelled) and returning the problems it finds,
as short phrases ('' nothing wrong).  The rules read the raw bytes where the lenient reader
(`conformance.sipmsg`) would hide a defect (line ends, the empty line, Content-Length).

The rules judge only what the wire shows: a rule that finds nothing to look at (no
WWW-Authenticate row, no body, no telephone number in a URI...) finds no problem.  Which
rules had nothing to judge is reported by `untouched` so that a case can say so in its notes.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conformance.sipmsg import Message

__all__ = [
    "MANDATORY",
    "STANDARDS_TRACK_TAGS",
    "Rule",
    "Seen",
    "body_of",
    "judge",
    "uris_of",
]


@dataclass(frozen=True)
class Seen:
    """One message the target sent, and the transport it came over ('udp', 'tcp', 'tls')."""

    msg: Message
    transport: str = "udp"

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


@dataclass(frozen=True)
class Rule:
    """A rule: what a conforming message shows, and the function finding the problems."""

    name: str
    expected: str
    check: Callable[[Seen], list[str]]
    # whether the rule had anything to look at in a message (False: it judged nothing)
    applies: Callable[[Seen], bool] = lambda seen: True


def judge(rule: Rule, seen: Iterable[Seen]) -> tuple[list[str], int]:
    """The problems ``rule`` finds in the messages (each prefixed with the message's start
    line), and how many messages it had something to look at in."""
    problems: list[str] = []
    looked = 0
    for one in seen:
        if not rule.applies(one):
            continue
        looked += 1
        problems += [f"{one.msg.start_line[:60]}: {p}" for p in rule.check(one)]
    return problems, looked


# --- helpers: splitting the raw message, header values, URIs -------------------------------------


def head_and_body(raw: bytes) -> tuple[bytes, bytes, bool]:
    """Header section, body, and whether a CRLF CRLF ended the header section."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if sep:
        return head, body, True
    head, sep, body = raw.partition(b"\n\n")
    return head, body, False


def body_of(msg: Message) -> bytes:
    """The bytes after the empty line (a datagram's whole rest, not cut at Content-Length)."""
    return head_and_body(msg.raw)[1]


def split_top(value: str, sep: str) -> list[str]:
    """``value`` split at ``sep`` outside quoted strings and <...>."""
    out, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(depth - 1, 0)
        elif not quoted and not depth and ch == sep:
            out.append(value[start:i])
            start = i + 1
        i += 1
    out.append(value[start:])
    return out


def rows(msg: Message, *names: str) -> list[tuple[str, str]]:
    """The header rows (name as written, value) whose name is one of ``names`` (long forms,
    compact forms understood)."""
    from conformance.sipmsg import _key

    keys = {_key(n) for n in names}
    return [(n, v) for n, v in msg.headers if _key(n) in keys]


#: header fields whose values are name-addr / addr-spec with header parameters
ADDRESS_HEADERS = ("From", "To", "Contact", "Reply-To", "Route", "Record-Route")
#: header fields carrying ;parameters, list headers split at commas
PARAM_HEADERS = (
    *ADDRESS_HEADERS,
    "Via",
    "Content-Type",
    "Content-Disposition",
    "Accept",
    "Retry-After",
    "Call-Info",
    "Alert-Info",
    "Error-Info",
)
_LISTS = {"contact", "route", "record-route", "via", "accept", "call-info", "alert-info"}
_LISTS |= {"error-info", "m"}


def values(msg: Message, *names: str) -> list[tuple[str, str]]:
    """(name, value) for every value of those header fields, list rows split at commas."""
    out = []
    for name, value in rows(msg, *names):
        from conformance.sipmsg import _key

        if _key(name) in _LISTS or name.lower() in _LISTS:
            out += [(name, v.strip()) for v in split_top(value, ",") if v.strip()]
        else:
            out.append((name, value.strip()))
    return out


def header_params(value: str) -> list[tuple[str, str | None]]:
    """The ;name[=value] parameters of a header value (after its <URI> if it has one)."""
    depth, cut = 0, 0
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
            cut = i + 1
    tail = value[cut:] if cut else value
    pieces = split_top(tail, ";")[1:]
    out: list[tuple[str, str | None]] = []
    for piece in pieces:
        name, eq, val = piece.partition("=")
        out.append((name.strip().lower(), val.strip() if eq else None))
    return out


def uris_of(msg: Message) -> list[tuple[str, str]]:
    """(where, URI) for the Request-URI and the URIs of the address header fields."""
    out = []
    if msg.method:
        out.append(("Request-URI", msg.uri))
    for name, value in values(msg, *ADDRESS_HEADERS):
        if "<" in value:
            out.append((name, value.split("<", 1)[1].split(">", 1)[0].strip()))
        elif value.strip() != "*":
            out.append((name, value.split(";", 1)[0].strip()))
    return out


@dataclass
class SipUri:
    """A sip:/sips: URI cut into its parts (lenient)."""

    scheme: str
    userinfo: str | None  # None: no '@'
    hostport: str
    params: list[tuple[str, str | None]]
    headers: str | None  # None: no '?'


def parse_sip_uri(uri: str) -> SipUri | None:
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    rest, q, headers = rest.partition("?")
    userinfo: str | None = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
    hostport, *params = rest.split(";")
    pairs: list[tuple[str, str | None]] = []
    for p in params:
        name, eq, val = p.partition("=")
        pairs.append((name.lower(), val if eq else None))
    return SipUri(scheme.lower(), userinfo, hostport, pairs, headers if q else None)


def sip_uris(msg: Message) -> list[tuple[str, str, SipUri]]:
    out = []
    for where, uri in uris_of(msg):
        parsed = parse_sip_uri(uri)
        if parsed is not None:
            out.append((where, uri, parsed))
    return out


# --- §7 framing ----------------------------------------------------------------------------------


def _crlf(seen: Seen) -> list[str]:
    head, _body, crlf = head_and_body(seen.msg.raw)
    if not crlf:
        return ["the header section does not end with CRLF CRLF"]
    text = head + b"\r\n"
    bare_lf = re.search(rb"(?<!\r)\n", text)
    bare_cr = re.search(rb"\r(?!\n)", text)
    if bare_lf or bare_cr:
        return ["a line ends with a bare " + ("LF" if bare_lf else "CR")]
    return []


def _empty_line(seen: Seen) -> list[str]:
    raw = seen.msg.raw
    return [] if b"\r\n\r\n" in raw or b"\n\n" in raw else ["no empty line after the headers"]


def _version(seen: Seen) -> list[str]:
    msg = seen.msg
    version = msg.start_line.split()[-1] if msg.method else msg.start_line.split()[0]
    problems = [] if version.upper() == "SIP/2.0" else [f"SIP-Version {version}"]
    for via in msg.get_all("Via"):
        sent = via.split(None, 1)[0] if via.strip() else ""
        if sent.upper().startswith("SIP/2.0/") and not sent.startswith("SIP/2.0/"):
            problems.append(f"Via protocol {sent} not upper-case")
    return problems


def _version_upper(seen: Seen) -> list[str]:
    msg = seen.msg
    version = msg.start_line.split()[-1] if msg.method else msg.start_line.split()[0]
    problems = [] if version == "SIP/2.0" or version.upper() != "SIP/2.0" else [version]
    for via in msg.get_all("Via"):
        sent = via.split(None, 1)[0] if via.strip() else ""
        name, _, _ = sent.partition("/")
        if name.upper() == "SIP" and name != "SIP":
            problems.append(f"Via protocol {sent} not upper-case")
    return problems


def _request_uri(seen: Seen) -> list[str]:
    msg = seen.msg
    parts = msg.start_line.split(" ")
    if len(parts) != 3:
        return [f"a start line of {len(parts)} space-separated parts (an unescaped space?)"]
    uri = parts[1]
    problems = []
    if uri.startswith("<") or uri.endswith(">"):
        problems.append(f"Request-URI enclosed in <>: {uri}")
    if re.search(r"[\x00-\x20\x7f]", uri):
        problems.append(f"unescaped space or control character in {uri!r}")
    return problems


# --- §7.3 header fields --------------------------------------------------------------------------

#: header fields whose grammar is not a comma-separated list (§7.3.1): one value per row
AUTH_HEADERS = ("WWW-Authenticate", "Authorization", "Proxy-Authenticate", "Proxy-Authorization")
_NEXT_CHALLENGE = re.compile(r"^\s*[A-Za-z][\w.+-]*\s+[\w.+-]+\s*=")


def _auth_rows(names: tuple[str, ...]) -> Callable[[Seen], list[str]]:
    def check(seen: Seen) -> list[str]:
        problems = []
        for name, value in rows(seen.msg, *names):
            pieces = split_top(value, ",")
            if any(_NEXT_CHALLENGE.match(p) for p in pieces[1:]):
                problems.append(f"two {name} values combined in one row")
        return problems

    return check


def _auth_present(names: tuple[str, ...]) -> Callable[[Seen], bool]:
    return lambda seen: bool(rows(seen.msg, *names))


def _unique_header_params(seen: Seen) -> list[str]:
    problems = []
    for name, value in values(seen.msg, *PARAM_HEADERS):
        names = [n for n, _ in header_params(value)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{name} parameter {', '.join(twice)} more than once")
    return problems


def _unique_uri_params(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in sip_uris(seen.msg):
        names = [n for n, _ in parsed.params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{where} URI {uri}: parameter {', '.join(twice)} more than once")
    return problems


_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_IPV6REF = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _quoted_params(seen: Seen) -> list[str]:
    problems = []
    for name, value in values(seen.msg, *PARAM_HEADERS):
        for pname, pvalue in header_params(value):
            if pvalue is None or pvalue == "":
                continue
            if _TOKEN.fullmatch(pvalue) or _QUOTED.fullmatch(pvalue) or _IPV6REF.fullmatch(pvalue):
                continue
            # Via received= and maddr= are hosts: an IPv6 address is written without brackets
            if pname in ("received", "maddr") and _IPV6.fullmatch(pvalue):
                continue
            problems.append(f"{name} parameter {pname}={pvalue} holds special characters unquoted")
    return problems


def _cseq_32bit(seen: Seen) -> list[str]:
    value = (seen.msg.get("CSeq") or "").strip()
    number = value.split()[0] if value else ""
    if not number.isdigit():
        return [f"CSeq {value!r} has no sequence number"]
    return [] if int(number) < 2**32 else [f"CSeq {number} is not a 32-bit unsigned integer"]


# --- §7.4 and §20.12-20.15 bodies ----------------------------------------------------------------


def _content_type(seen: Seen) -> list[str]:
    body = body_of(seen.msg)
    if body and seen.msg.get("Content-Type") is None:
        return [f"a body of {len(body)} bytes without Content-Type"]
    return []


def _has_body(seen: Seen) -> bool:
    return bool(body_of(seen.msg))


def _decode(body: bytes, coding: str) -> bytes | None:
    try:
        if coding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if coding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return None
    return body


def _content_encoding(seen: Seen) -> list[str]:
    msg = seen.msg
    body = body_of(msg)
    codings = [c.strip().lower() for c in msg.get_all("Content-Encoding") if c.strip()]
    if not codings:
        if body[:2] == b"\x1f\x8b":
            return ["a gzip-compressed body without Content-Encoding"]
        return []
    # §20.12: the codings are listed in the order applied, so they are undone in reverse
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            return []  # a coding the runner cannot undo: no verdict on the body
        decoded = _decode(body, coding)
        if decoded is None:
            return [f"Content-Encoding {', '.join(codings)}: the body does not decode"]
        body = decoded
    return []


def _encoded(seen: Seen) -> bool:
    return bool(seen.msg.get("Content-Encoding")) or body_of(seen.msg)[:2] == b"\x1f\x8b"


def _no_chunked(seen: Seen) -> list[str]:
    for name, value in rows(seen.msg, "Transfer-Encoding"):
        if "chunked" in value.lower():
            return [f"{name}: {value}"]
    return []


def _length_zero_without_body(seen: Seen) -> list[str]:
    value = seen.msg.get("Content-Length")
    if body_of(seen.msg) or value is None:
        return []
    return [] if value.strip() == "0" else [f"Content-Length: {value.strip()} without a body"]


def _length_on_stream(seen: Seen) -> list[str]:
    if seen.reliable and seen.msg.get("Content-Length") is None:
        return [f"no Content-Length over {seen.transport.upper()}"]
    return []


def _length_right(seen: Seen) -> list[str]:
    value = seen.msg.get("Content-Length")
    if value is None:
        return ["no Content-Length"]
    body = body_of(seen.msg)
    if not value.strip().isdigit():
        return [f"Content-Length: {value}"]
    # over a stream the framer cut the body at Content-Length: only a datagram shows a mismatch
    if not seen.reliable and int(value) != len(body):
        return [f"Content-Length: {value.strip()} for a body of {len(body)} bytes"]
    return []


# --- §19.1 URIs ----------------------------------------------------------------------------------

_URIC = re.compile(r"[A-Za-z0-9\-_.!~*'()%;/?:@&=+$,\[\]]*")
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]*")
_HNV = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/?:+$]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _uri_spaces(seen: Seen) -> list[str]:
    problems = []
    for where, uri in uris_of(seen.msg):
        if re.search(r"[\x00-\x20\x7f]", uri):
            problems.append(f"{where} URI {uri!r}: unescaped space or control character")
    return problems


def _uri_escaped(seen: Seen) -> list[str]:
    problems = []
    for where, uri, _ in sip_uris(seen.msg):
        if not _URIC.fullmatch(uri):
            bad = sorted({ch for ch in uri if not _URIC.fullmatch(ch)})
            problems.append(f"{where} URI {uri!r}: unescaped {''.join(bad)!r}")
        elif _BAD_ESCAPE.search(uri):
            problems.append(f"{where} URI {uri!r}: a % not followed by two hex digits")
    return problems


def _user_escaped(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in sip_uris(seen.msg):
        if parsed.userinfo is None:
            continue
        user = parsed.userinfo.split(":", 1)[0]
        if not _USER.fullmatch(user):
            problems.append(f"{where} URI {uri!r}: the user part has unescaped characters")
    return problems


def _has_user(seen: Seen) -> bool:
    return any(p.userinfo is not None for _, _, p in sip_uris(seen.msg))


def _uri_headers_escaped(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in sip_uris(seen.msg):
        if parsed.headers is None:
            continue
        for pair in parsed.headers.split("&"):
            name, _, value = pair.partition("=")
            if not (_HNV.fullmatch(name) and _HNV.fullmatch(value)):
                problems.append(f"{where} URI {uri!r}: reserved characters in {pair!r}")
    return problems


def _has_uri_headers(seen: Seen) -> bool:
    return any(p.headers is not None for _, _, p in sip_uris(seen.msg))


def _user_not_empty(seen: Seen) -> list[str]:
    return [
        f"{where} URI {uri}: '@' with an empty user"
        for where, uri, parsed in sip_uris(seen.msg)
        if parsed.userinfo is not None and not parsed.userinfo.split(":", 1)[0]
    ]


def _no_password(seen: Seen) -> list[str]:
    return [
        f"{where} URI {uri}: a password in the userinfo"
        for where, uri, parsed in sip_uris(seen.msg)
        if parsed.userinfo is not None and ":" in parsed.userinfo
    ]


def _sips_reliable(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in sip_uris(seen.msg):
        transport = dict(parsed.params).get("transport")
        if parsed.scheme == "sips" and (transport or "").lower() == "udp":
            problems.append(f"{where} URI {uri}: a SIPS URI with transport=udp")
    return problems


def _is_sips(seen: Seen) -> bool:
    return any(p.scheme == "sips" for _, _, p in sip_uris(seen.msg))


def _multicast(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_multicast
    except ValueError:
        return False


def _ttl(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in sip_uris(seen.msg):
        params = dict(parsed.params)
        if "ttl" not in params:
            continue
        maddr = params.get("maddr") or ""
        if not (_multicast(maddr) and (params.get("transport") or "").lower() == "udp"):
            problems.append(f"{where} URI {uri}: ttl without a multicast maddr over UDP")
    return problems


def _has_ttl(seen: Seen) -> bool:
    return any("ttl" in dict(p.params) for _, _, p in sip_uris(seen.msg))


_GLOBAL_NUMBER = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*(;.*)?")


def _phone_users(seen: Seen) -> list[tuple[str, str, SipUri]]:
    return [
        (w, u, p)
        for w, u, p in sip_uris(seen.msg)
        if p.userinfo is not None and _GLOBAL_NUMBER.fullmatch(p.userinfo)
    ]


def _user_phone(seen: Seen) -> list[str]:
    return [
        f"{where} URI {uri}: a telephone number without user=phone"
        for where, uri, parsed in _phone_users(seen)
        if (dict(parsed.params).get("user") or "").lower() != "phone"
    ]


def _phone_lower(seen: Seen) -> list[str]:
    problems = []
    for where, uri, parsed in _phone_users(seen):
        assert parsed.userinfo is not None
        _number, _, rest = parsed.userinfo.partition(";")
        if rest != rest.lower():
            problems.append(f"{where} URI {uri}: telephone-subscriber parameters not lower-case")
        names = [p.split("=", 1)[0].lower() for p in rest.split(";") if p]
        first = [n for n in names if n in ("isub", "postd")]
        rest_names = [n for n in names if n not in ("isub", "postd")]
        if names != sorted(first, key=["isub", "postd"].index) + sorted(rest_names):
            problems.append(f"{where} URI {uri}: telephone-subscriber parameters out of order")
    return problems


def _name_addr(names: tuple[str, ...]) -> Callable[[Seen], list[str]]:
    # URI parameters §19.1.1 defines: written after an addr-spec they would be header parameters
    uri_params = {"transport", "maddr", "ttl", "user", "method", "lr"}

    def check(seen: Seen) -> list[str]:
        problems = []
        for name, value in values(seen.msg, *names):
            if "<" in value or value.strip() == "*":
                continue
            addr = value.split(";", 1)[0]
            if "?" in addr or "," in addr:
                problems.append(f"{name}: {value}: a URI with ? or , outside <>")
            elif {n for n, _ in header_params(value)} & uri_params:
                problems.append(f"{name}: {value}: URI parameters outside <>")
        return problems

    return check


# --- §19.3 tags ----------------------------------------------------------------------------------


def tag_problems(tags: list[str]) -> list[str]:
    """Tags from several messages of one UA: distinct, and long enough to hold 32 random bits
    (6 token characters at the least: the token alphabet carries under 6.2 bits each)."""
    problems = [f"tag {t!r} is too short for 32 random bits" for t in tags if len(t) < 6]
    twice = sorted({t for t in tags if tags.count(t) > 1})
    if twice:
        problems.append(f"the same tag in several dialogs: {', '.join(twice)}")
    return problems


# --- §20 header fields: Tables 2 and 3 -----------------------------------------------------------

_METHODS = ("ACK", "BYE", "CANCEL", "INVITE", "OPTIONS", "REGISTER")
# header field, where, presence for ACK BYE CAN INV OPT REG (RFC 3261 Tables 2 and 3)
_TABLE = """
Accept R - o - o m* o
Accept 2xx - - - o m* o
Accept 415 - c - c c c
Accept-Encoding R - o - o o o
Accept-Encoding 2xx - - - o m* o
Accept-Encoding 415 - c - c c c
Accept-Language R - o - o o o
Accept-Language 2xx - - - o m* o
Accept-Language 415 - c - c c c
Alert-Info R - - - o - -
Alert-Info 180 - - - o - -
Allow R - o - o o o
Allow 2xx - o - m* m* o
Allow r - o - o o o
Allow 405 - m - m m m
Authentication-Info 2xx - o - o o o
Authorization R o o o o o o
Call-ID c m m m m m m
Call-Info . - - - o o o
Contact R o - - m o o
Contact 1xx - - - o - -
Contact 2xx - - - m o o
Contact 3xx - o - o o o
Contact 485 - o - o o o
Content-Disposition . o o - o o o
Content-Encoding . o o - o o o
Content-Language . o o - o o o
Content-Length . t t t t t t
Content-Type . * * - * * *
CSeq c m m m m m m
Date . o o o o o o
Error-Info 300-699 - o o o o o
Expires . - - - o - o
From c m m m m m m
In-Reply-To R - - - o - -
Max-Forwards R m m m m m m
Min-Expires 423 - - - - - m
MIME-Version . o o - o o o
Organization . - - - o o o
Priority R - - - o - -
Proxy-Authenticate 407 - m - m m m
Proxy-Authenticate 401 - o o o o o
Proxy-Authorization R o o - o o o
Proxy-Require R - o - o o o
Record-Route R o o o o o -
Record-Route 2xx,18x - o o o o -
Reply-To . - - - o - -
Require . - c - c c c
Retry-After 404,413,480,486,500,503,600,603 - o o o o o
Route R c c c c c c
Server r - o o o o o
Subject R - - - o - -
Supported R - o o m* o o
Supported 2xx - o o m* m* o
Timestamp . o o o o o o
To c m m m m m m
Unsupported 420 - m - m m m
User-Agent . o o o o o o
Via R m m m m m m
Via rc m m m m m m
Warning r - o o o o o
WWW-Authenticate 401 - m - m m m
WWW-Authenticate 407 - o - o o o
"""


@dataclass(frozen=True)
class TableRow:
    header: str
    where: str
    presence: dict[str, str]

    def matches(self, msg: Message) -> bool:
        """Whether this row speaks of ``msg`` (a request, or a response with its status)."""
        where = self.where
        if where in (".", "c"):
            return True
        if where == "R":
            return not msg.is_response
        if not msg.is_response:
            return False
        status = msg.status or 0
        if where in ("r", "rc"):
            return True
        for item in where.split(","):
            if re.fullmatch(r"\dxx", item) and status // 100 == int(item[0]):
                return True
            if re.fullmatch(r"\d{2}x", item) and status // 10 == int(item[:2]):
                return True
            if "-" in item:
                low, high = item.split("-")
                if int(low) <= status <= int(high):
                    return True
            if item.isdigit() and status == int(item):
                return True
        return False


def _rows_of_table() -> list[TableRow]:
    out = []
    for line in _TABLE.strip().splitlines():
        header, where, *cells = line.split()
        out.append(TableRow(header, where, dict(zip(_METHODS, cells, strict=True))))
    return out


TABLE = _rows_of_table()
_TABLE_HEADERS = {row.header.lower() for row in TABLE}


def _method_of(msg: Message) -> str:
    return (msg.method if not msg.is_response else msg.cseq[1]) or ""


def presence(msg: Message, header: str) -> set[str]:
    """The presence marks (m, m*, o, t, c, *, -) the tables give ``header`` in ``msg``; empty
    when no row speaks of it (a not applicable header field, or a method beyond the tables)."""
    method = _method_of(msg)
    if method not in _METHODS:
        return set()
    return {
        row.presence[method]
        for row in TABLE
        if row.header.lower() == header.lower() and row.matches(msg)
    }


#: the header fields mandatory in every request and response (Tables 2 and 3: m in every
#: column), for methods beyond the six columns too (§8.1.1, §8.2.6.2)
MANDATORY = ("To", "From", "CSeq", "Call-ID", "Via")


def _mandatory(seen: Seen) -> list[str]:
    msg = seen.msg
    needed = list(MANDATORY) + ([] if msg.is_response else ["Max-Forwards"])
    for row in TABLE:
        wanted = row.presence.get(_method_of(msg)) == "m"
        if wanted and row.header not in needed and row.matches(msg):
            needed.append(row.header)
    # "Contact 2xx INVITE m" and friends: rows of the method's column asking for presence
    missing = [h for h in needed if msg.get(h) is None]
    # Max-Forwards is mandatory in requests (Table 2: where R)
    if msg.is_response:
        missing = [h for h in missing if h != "Max-Forwards"]
    return [f"no {h}" for h in missing]


def _not_applicable(seen: Seen) -> list[str]:
    msg = seen.msg
    method = _method_of(msg)
    if method not in _METHODS:
        return []
    problems = []
    from conformance.sipmsg import COMPACT

    for name, _ in msg.headers:
        key = COMPACT.get(name.strip().lower(), name.strip().lower())
        if key not in _TABLE_HEADERS:
            continue  # an extension header field: the tables say nothing of it
        marks = presence(msg, key)
        if not marks or marks == {"-"}:
            kind = "request" if not msg.is_response else f"{msg.status} response"
            problems.append(f"{name} in a {method} {kind} (not applicable)")
    return sorted(set(problems))


def _should_send(seen: Seen) -> list[str]:
    """m* header fields (§20: SHOULD be sent) missing."""
    msg = seen.msg
    method = _method_of(msg)
    wanted = [row.header for row in TABLE if row.matches(msg) and row.presence.get(method) == "m*"]
    return [f"no {h} (m* in the tables)" for h in dict.fromkeys(wanted) if msg.get(h) is None]


def _t_send(seen: Seen) -> list[str]:
    """t header fields (Content-Length) SHOULD be sent."""
    return [] if seen.msg.get("Content-Length") is not None else ["no Content-Length"]


# --- §20.5, §20.32, §20.37, §20.42 ---------------------------------------------------------------


def _allow_lists(seen: Seen) -> list[str]:
    msg = seen.msg
    allowed = {m.strip().upper() for m in msg.get_all("Allow") if m.strip()}
    if not allowed:
        return []
    problems = []
    if "INVITE" in allowed:
        problems += [
            f"Allow lists INVITE but not {m}" for m in ("ACK", "CANCEL") if m not in allowed
        ]
    method = _method_of(msg)
    understood = (not msg.is_response) or 200 <= (msg.status or 0) < 300
    if understood and method and method not in ("ACK", "CANCEL") and method not in allowed:
        what = "sends" if not msg.is_response else "accepted"
        problems.append(f"Allow omits {method}, which it {what}")
    return problems


def _has_allow(seen: Seen) -> bool:
    return bool(seen.msg.get_all("Allow"))


#: option tags defined by standards-track RFCs (the IANA registry's, with their RFC)
STANDARDS_TRACK_TAGS = frozenset(
    {
        "100rel",  # RFC 3262
        "199",  # RFC 6228
        "answermode",  # RFC 5373
        "early-session",  # RFC 3959
        "eventlist",  # RFC 4662
        "explicitsub",  # RFC 7614
        "from-change",  # RFC 4916
        "geolocation-http",  # RFC 6442
        "geolocation-sip",  # RFC 6442
        "gin",  # RFC 6140
        "gruu",  # RFC 5627
        "histinfo",  # RFC 7044
        "ice",  # RFC 5768
        "join",  # RFC 3911
        "multiple-refer",  # RFC 5368
        "norefersub",  # RFC 4488
        "nosub",  # RFC 7614
        "outbound",  # RFC 5626
        "path",  # RFC 3327
        "policy",  # RFC 6794
        "precondition",  # RFC 3312
        "pref",  # RFC 3840
        "privacy",  # RFC 3323
        "recipient-list-invite",  # RFC 5366
        "recipient-list-message",  # RFC 5365
        "recipient-list-subscribe",  # RFC 5367
        "record-aware",  # RFC 7866
        "replaces",  # RFC 3891
        "resource-priority",  # RFC 4412
        "sdp-anat",  # RFC 4092
        "sec-agree",  # RFC 3329
        "siprec",  # RFC 7866
        "target-dialog",  # RFC 4538
        "tdialog",  # RFC 4538
        "timer",  # RFC 4028
        "trickle-ice",  # RFC 8840
        "uui",  # RFC 7433
    }
)


def _tags_known(names: tuple[str, ...]) -> Callable[[Seen], list[str]]:
    def check(seen: Seen) -> list[str]:
        return [
            f"{name} option tag {tag!r} is not from a standards-track RFC"
            for name in names
            for tag in seen.msg.option_tags(name)
            if tag not in STANDARDS_TRACK_TAGS
        ]

    return check


def _tags_present(names: tuple[str, ...]) -> Callable[[Seen], bool]:
    return lambda seen: any(seen.msg.option_tags(n) for n in names)


def _magic_cookie(seen: Seen) -> list[str]:
    if seen.msg.is_response:
        return []
    branch = seen.msg.branch or ""
    return [] if branch.startswith("z9hG4bK") else [f"top Via branch {branch or '(none)'}"]


def _is_request(seen: Seen) -> bool:
    return not seen.msg.is_response


# --- §7.3.1 (SHOULD): header fields proxies need, near the top -----------------------------------

PROXY_NEEDED = ("via", "route", "record-route", "proxy-require", "max-forwards")
PROXY_NEEDED += ("proxy-authorization", "v")
#: header fields of the end points only: a proxy never reads them
END_TO_END = {
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "content-language",
    "accept",
    "accept-encoding",
    "accept-language",
    "allow",
    "supported",
    "user-agent",
    "server",
    "subject",
    "organization",
    "date",
    "mime-version",
    "c",
    "l",
    "e",
    "k",
    "s",
}


def _proxy_fields_first(seen: Seen) -> list[str]:
    names = [n.strip().lower() for n, _ in seen.msg.headers]
    first_end = next((i for i, n in enumerate(names) if n in END_TO_END), len(names))
    late = sorted({n for i, n in enumerate(names) if n in PROXY_NEEDED and i > first_end})
    return [f"{', '.join(late)} after {names[first_end]}"] if late else []


# --- §20.20, §20.31 (SHOULD): anonymity ----------------------------------------------------------


def _anonymous_from(msg: Message) -> bool:
    value = (msg.get("From") or "").lower()
    return "anonymous" in value.split(">", 1)[0] and "@" in value


def _anonymous_display(seen: Seen) -> list[str]:
    value = seen.msg.get("From") or ""
    display = value.split("<", 1)[0].strip().strip('"') if "<" in value else ""
    return [] if display == "Anonymous" else [f"From: {value} without the display name Anonymous"]


def _anonymous_reply_to(seen: Seen) -> list[str]:
    value = seen.msg.get("Reply-To")
    if value is None or "anonymous" in value.lower():
        return []
    return [f"Reply-To: {value} beside an anonymous From"]


def _anonymous(seen: Seen) -> bool:
    return not seen.msg.is_response and _anonymous_from(seen.msg)


# --- the rules, by name --------------------------------------------------------------------------


def _rule(name: str, expected: str, check: Callable[[Seen], list[str]], **kw: object) -> Rule:
    return Rule(name, expected, check, **kw)  # type: ignore[arg-type]


RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        _rule("crlf", "CRLF after the start line, every header line and the empty line", _crlf),
        _rule("empty-line", "an empty line after the header fields", _empty_line),
        _rule("sip-version", "SIP-Version SIP/2.0", _version),
        _rule("sip-version-upper", "SIP/2.0 written in upper case", _version_upper),
        _rule(
            "request-uri",
            "a Request-URI without spaces, controls or <>",
            _request_uri,
            applies=_is_request,
        ),
        _rule(
            "auth-rows",
            "one credential or challenge per header row",
            _auth_rows(AUTH_HEADERS),
            applies=_auth_present(AUTH_HEADERS),
        ),
        _rule(
            "authorization-rows",
            "one Authorization value per row",
            _auth_rows(("Authorization",)),
            applies=_auth_present(("Authorization",)),
        ),
        _rule(
            "proxy-authorization-rows",
            "one Proxy-Authorization value per row",
            _auth_rows(("Proxy-Authorization",)),
            applies=_auth_present(("Proxy-Authorization",)),
        ),
        _rule(
            "header-params-unique",
            "no header parameter name twice in a value",
            _unique_header_params,
        ),
        _rule("uri-params-unique", "no URI parameter name twice in a URI", _unique_uri_params),
        _rule("quoted-params", "parameter values with special characters quoted", _quoted_params),
        _rule("cseq-32bit", "a CSeq number below 2**32", _cseq_32bit),
        _rule("content-type", "Content-Type with every body", _content_type, applies=_has_body),
        _rule(
            "content-encoding",
            "a body encoded as Content-Encoding says, in its order",
            _content_encoding,
            applies=_encoded,
        ),
        _rule("no-chunked", "no chunked transfer encoding", _no_chunked),
        _rule("length-zero", "Content-Length: 0 without a body", _length_zero_without_body),
        _rule("length-stream", "Content-Length over a stream transport", _length_on_stream),
        _rule("length-right", "Content-Length giving the size of the body", _length_right),
        _rule("uri-spaces", "URIs without unescaped space or control characters", _uri_spaces),
        _rule(
            "uri-escaped", "URIs with every character outside the grammar escaped", _uri_escaped
        ),
        _rule(
            "user-escaped",
            "user parts with characters outside the user rule escaped",
            _user_escaped,
            applies=_has_user,
        ),
        _rule(
            "uri-headers-escaped",
            "reserved characters in URI headers escaped",
            _uri_headers_escaped,
            applies=_has_uri_headers,
        ),
        _rule(
            "user-not-empty", "a user before every @ in a URI", _user_not_empty, applies=_has_user
        ),
        _rule("no-password", "no password in a URI", _no_password, applies=_has_user),
        _rule(
            "sips-reliable",
            "SIPS URIs with a reliable transport",
            _sips_reliable,
            applies=_is_sips,
        ),
        _rule("ttl-multicast", "ttl only with a multicast maddr over UDP", _ttl, applies=_has_ttl),
        _rule(
            "user-phone",
            "user=phone with a telephone number",
            _user_phone,
            applies=lambda s: bool(_phone_users(s)),
        ),
        _rule(
            "phone-lower",
            "telephone-subscriber parameters in lower case",
            _phone_lower,
            applies=lambda s: bool(_phone_users(s)),
        ),
        _rule(
            "name-addr",
            "<> around a URI with , ? or ; in Contact, From, To, Reply-To",
            _name_addr(("Contact", "From", "To", "Reply-To")),
        ),
        _rule(
            "name-addr-contact", "<> around a Contact URI with , ? or ;", _name_addr(("Contact",))
        ),
        _rule("name-addr-from", "<> around a From URI with , ? or ;", _name_addr(("From",))),
        _rule(
            "name-addr-reply-to",
            "<> around a Reply-To URI with , ? or ;",
            _name_addr(("Reply-To",)),
        ),
        _rule("mandatory", "the header fields Tables 2 and 3 mark mandatory", _mandatory),
        _rule(
            "not-applicable", "no header field Tables 2 and 3 mark not applicable", _not_applicable
        ),
        _rule("should-send", "the header fields Tables 2 and 3 mark m*", _should_send),
        _rule("t-send", "Content-Length (t in the tables)", _t_send),
        _rule(
            "allow-lists",
            "Allow naming ACK and CANCEL with INVITE, and the methods used",
            _allow_lists,
            applies=_has_allow,
        ),
        _rule(
            "require-tags",
            "Require option tags of standards-track RFCs",
            _tags_known(("Require",)),
            applies=_tags_present(("Require",)),
        ),
        _rule(
            "supported-tags",
            "Supported option tags of standards-track RFCs",
            _tags_known(("Supported",)),
            applies=_tags_present(("Supported",)),
        ),
        _rule(
            "magic-cookie", "a top Via branch starting z9hG4bK", _magic_cookie, applies=_is_request
        ),
        _rule(
            "proxy-fields-first",
            "Via, Route, Record-Route, Proxy-Require, Max-Forwards "
            "and Proxy-Authorization before the end-to-end header fields",
            _proxy_fields_first,
        ),
        _rule(
            "anonymous-display",
            "the display name Anonymous in an anonymous From",
            _anonymous_display,
            applies=_anonymous,
        ),
        _rule(
            "anonymous-reply-to",
            "no revealing Reply-To beside an anonymous From",
            _anonymous_reply_to,
            applies=_anonymous,
        ),
    ]
}

"""RFC 8866 (SDP) on the wire, in the UAC and UAS roles.

The sending side is a battery, shaped like the well-formedness battery of RFC 3261
(`conformance.cases.wellformed`), and run over the same exchanges (its ``gathered``: the
offer of a call the target makes as a UAC, the answer to the runner's offer as a UAS): each
rule reads every SDP body the target sent and names what breaks RFC 8866's grammar (§9) or
its field rules (§5, §6, §8.2).  The SDP is read here by a few lines of its own, from the raw
bytes: a stack's own parser cannot make its own case pass.

The receiving side: offers (UAS role) and answers (UAC role) with what a recipient must cope
with: attributes and bandwidth types it does not know, lines ended by LF alone, a k= line,
the obsolete a=cat / a=keywds, a charset named in lower case, a type letter nobody knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.cases.wellformed import gathered
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, Peer
from extensions.conformance.rfc3264 import _invite

#: after the well-formedness battery, whose exchanges these cases judge again
ORDER = 85

ROLES = ("uac", "uas")
SENT = "judged on every SDP body the target sent, whatever it answered: nothing confounds it"

#: the type letters of §5 (and §9): any other one is not SDP
LETTERS = "vosiuepcbtrzkam"
#: the order of the session-level lines (§9: session-description); t= and r= alternate
SESSION_RANK = {
    "v": 0,
    "o": 1,
    "s": 2,
    "i": 3,
    "u": 4,
    "e": 5,
    "p": 6,
    "c": 7,
    "b": 8,
    "t": 9,
    "r": 9,
    "z": 10,
    "k": 11,
    "a": 12,
}
#: the order of the lines of a media description (§9: media-description)
MEDIA_RANK = {"m": 0, "i": 1, "c": 2, "b": 3, "k": 4, "a": 5}
#: lines that appear at most once at their level (a media description may have several c=)
SINGLE = {"v", "o", "s", "i", "u", "c", "z", "k"}
MEDIA_SINGLE = {"m", "i", "k"}
#: token (§9): the characters of an attribute name, a bwtype, a proto element...
_TOKEN = re.compile(r"^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$")
_DIGITS = re.compile(r"^[0-9]+$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_IP4 = re.compile(r"^([0-9]{1,3})(\.[0-9]{1,3}){3}$")
#: character sets of the IANA registry a SIP stack uses (names and preferred MIME names)
CHARSETS = {
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-15",
    "utf-16",
    "iso-10646-ucs-2",
    "windows-1252",
    "shift_jis",
    "euc-jp",
    "iso-2022-jp",
    "gb2312",
    "big5",
    "koi8-r",
}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass
class Line:
    """One line of an SDP body as it came: its type letter, value, and raw bytes."""

    kind: str
    value: str
    raw: bytes
    ended: bytes  # b"\r\n", b"\n" or b"" (the last line, unterminated)


@dataclass
class Section:
    """The session level or one media description: its lines in order."""

    lines: list[Line] = field(default_factory=list)

    def all(self, kind: str) -> list[str]:
        return [line.value for line in self.lines if line.kind == kind]

    def first(self, kind: str) -> str | None:
        found = self.all(kind)
        return found[0] if found else None

    def attributes(self) -> list[tuple[str, str | None]]:
        out = []
        for value in self.all("a"):
            name, colon, rest = value.partition(":")
            out.append((name, rest if colon else None))
        return out


@dataclass
class Description:
    """An SDP body split into lines and sections, nothing interpreted."""

    body: bytes
    lines: list[Line]
    session: Section
    media: list[Section]

    def charset(self) -> str | None:
        for name, value in self.session.attributes():
            if name == "charset" and value is not None:
                return value.strip()
        return None


def read(body: bytes) -> Description:
    """Split ``body`` into its lines (CRLF or LF ended) and sections."""
    lines: list[Line] = []
    for raw in re.findall(rb"[^\n]*\n|[^\n]+$", body):
        ended = b"\r\n" if raw.endswith(b"\r\n") else b"\n" if raw.endswith(b"\n") else b""
        content = raw[: len(raw) - len(ended)]
        text = content.decode("utf-8", "replace")
        kind, _, value = text.partition("=")
        lines.append(Line(kind, value, content, ended))
    session, media = Section(), []
    for line in lines:
        if line.kind == "m":
            media.append(Section([line]))
        else:
            (media[-1] if media else session).lines.append(line)
    return Description(body, lines, session, media)


def sdp_bodies(ctx: Context) -> list[tuple[Message, Description]]:
    """Every SDP body the target sent in the gathered exchanges (``not_applicable`` when
    it sent none: a target that sends no SDP has nothing of RFC 8866 to judge)."""
    out = []
    for seen in gathered(ctx):
        msg = seen.msg
        if msg.body and "application/sdp" in (msg.get("Content-Type") or "").lower():
            out.append((msg, read(msg.body)))
    if not out:
        ctx.not_applicable("the target sent no SDP body in the exchanges of its role")
    return out


# --- the rules: each returns the problems of one description ---------------------------------


def _syntax(d: Description) -> list[str]:
    """§9: each line type=value, no space around '=', v=0 first, o=/s=/t= present, the
    session and media lines in their order, the fields of o=, c=, t=, m=, a= and b=."""
    problems = []
    if not d.lines or d.lines[0].raw != b"v=0":
        problems.append(
            f"the first line is {d.lines[0].raw[:30]!r}, not v=0" if d.lines else "empty"
        )
    for line in d.lines:
        if len(line.kind) != 1 or line.raw[1:2] != b"=":
            problems.append(f"{line.raw[:40]!r} is not <type>=<value>")
        elif line.value[:1] == " " and line.kind not in "si":
            problems.append(f"a space after '=' in {line.raw[:40]!r}")
    for kind in "ost":
        if d.session.first(kind) is None:
            problems.append(f"no {kind}= line")
    problems += _order(d.session, SESSION_RANK, "session level")
    for section in d.media:
        problems += _order(section, MEDIA_RANK, "media level")
    origin = d.session.first("o")
    if origin is not None:
        parts = origin.split(" ")
        if len(parts) != 6 or not all(parts):
            problems.append(f"o={origin} has not the 6 fields of §5.2")
        elif not (_DIGITS.match(parts[1]) and _DIGITS.match(parts[2])):
            problems.append(f"o={origin}: sess-id and sess-version not numeric")
    for value in d.session.all("t"):
        if not re.match(r"^[0-9]+ [0-9]+$", value):
            problems.append(f"t={value} is not two numbers")
    for section in (d.session, *d.media):
        for value in section.all("c"):
            if len(value.split(" ")) != 3:
                problems.append(f"c={value} has not the 3 fields of §5.7")
        for value in section.all("b"):
            bwtype, colon, bw = value.partition(":")
            if not (colon and _TOKEN.match(bwtype) and _DIGITS.match(bw)):
                problems.append(f"b={value} is not <bwtype>:<bandwidth>")
        for name, _ in section.attributes():
            if not _TOKEN.match(name):
                problems.append(f"a={name}... has no attribute name (a token)")
    for section in d.media:
        parts = (section.first("m") or "").split(" ")
        if (
            len(parts) < 4
            or not _TOKEN.match(parts[0])
            or not re.match(r"^[0-9]+(/[0-9]+)?$", parts[1])
            or not all(_TOKEN.match(p) for p in parts[2].split("/"))
            or not all(parts[3:])
        ):
            problems.append(f"m={section.first('m')} is not <media> <port> <proto> <fmt> ...")
    return problems


def _order(section: Section, ranks: dict[str, int], where: str) -> list[str]:
    problems, rank, seen = [], -1, set()
    for line in section.lines:
        if line.kind not in ranks:
            if line.kind in LETTERS and len(line.kind) == 1:
                problems.append(f"{line.kind}= not allowed at {where}")
            continue
        if ranks[line.kind] < rank:
            problems.append(f"{line.kind}= out of order at {where}")
        single = SINGLE if ranks is SESSION_RANK else MEDIA_SINGLE
        if line.kind in single and line.kind in seen:
            problems.append(f"{line.kind}= twice at {where}")
        seen.add(line.kind)
        rank = ranks[line.kind]
    return problems


def _crlf(d: Description) -> list[str]:
    """§9: every line ends with CRLF."""
    return [f"{line.raw[:30]!r} not ended by CRLF" for line in d.lines if line.ended != b"\r\n"]


def _letters(d: Description) -> list[str]:
    """§5: only the type letters of §5."""
    return [f"type letter {line.kind!r}" for line in d.lines if line.kind not in LETTERS]


def _utf8_fields(*kinds: str):
    """§5, §5.3, §5.4: without a=charset, the text fields are UTF-8."""

    def rule(d: Description) -> list[str]:
        if d.charset() is not None:
            return []
        problems = []
        for line in d.lines:
            if line.kind in kinds or not kinds:
                try:
                    line.raw.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(f"{line.raw[:30]!r} is not UTF-8")
        return problems

    return rule


def _hosts(d: Description) -> list[str]:
    """The unicast addresses of o= and c= that are domain names."""
    out = []
    origin = (d.session.first("o") or "").split(" ")
    if len(origin) == 6:
        out.append(origin[5])
    for section in (d.session, *d.media):
        for value in section.all("c"):
            parts = value.split(" ")
            if len(parts) == 3:
                out.append(parts[2].split("/")[0])
    return [h for h in out if not _IP4.match(h) and ":" not in h]


def _domains(d: Description) -> list[str]:
    """§5: domain names of RFC 1034/1035 (labels of letters, digits and '-', at most 63
    characters, 253 in all)."""
    problems = []
    for host in _hosts(d):
        labels = host.rstrip(".").split(".")
        if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
            problems.append(f"{host!r} is not a domain name")
    return problems


def _ace(d: Description) -> list[str]:
    """§5: IDNs in their ACE form (ASCII only)."""
    return [f"{h!r} not in ASCII (ACE) form" for h in _hosts(d) if not h.isascii()]


def _username(d: Description) -> list[str]:
    """§5.2: an o= of exactly 6 fields, so a username without spaces."""
    origin = d.session.first("o")
    if origin is not None and len(origin.split(" ")) != 6:
        return [f"o={origin} ({len(origin.split(' '))} fields: a space in the username?)"]
    return []


def _one_session_name(d: Description) -> list[str]:
    """§5.3: one and only one s= line."""
    n = len(d.session.all("s")) + sum(len(m.all("s")) for m in d.media)
    return [] if n == 1 else [f"{n} s= lines"]


def _session_name_not_empty(d: Description) -> list[str]:
    """§5.3: s= not empty."""
    return [f"s={value!r}" for value in d.session.all("s") if value == ""]


def _email_phone_first(d: Description) -> list[str]:
    """§5.6: e= and p= at session level, before the first m=."""
    return [f"{k}= in a media description" for m in d.media for k in "ep" if m.all(k)]


def _free_text_parenthesised(d: Description) -> list[str]:
    """§5.6: an e=/p= with free text has it in parentheses (or is 'text <address>')."""
    problems = []
    for kind in "ep":
        for value in d.session.all(kind):
            # a phone number may hold spaces and dashes (§9: phone)
            address = r"\+?[0-9][0-9 \-]*[0-9]" if kind == "p" else r"[^\s()<>]+"
            plain = re.match(rf"^{address}$", value)
            bracketed = re.match(r"^[^<>()]*<[^<>]+>$", value)
            parenthesised = re.match(rf"^{address} ?\([^()]*\)$", value)
            if not (plain or bracketed or parenthesised):
                problems.append(f"{kind}={value}")
    return problems


def _connections(d: Description) -> list[tuple[str, Section]]:
    return [(v, s) for s in (d.session, *d.media) for v in s.all("c")]


def _multicast4(address: str) -> bool:
    return bool(_IP4.match(address)) and 224 <= int(address.split(".")[0]) <= 239


def _connection_everywhere(d: Description) -> list[str]:
    """§5.7: c= at session level or in every media description."""
    if d.session.all("c"):
        return []
    return [f"no c= for m={m.first('m')}" for m in d.media if not m.all("c")]


def _ip4_ttl(d: Description) -> list[str]:
    """§5.7: IP4 multicast addresses carry a TTL of 0-255."""
    problems = []
    for value, _ in _connections(d):
        parts = value.split(" ")
        if len(parts) == 3 and parts[1] == "IP4" and _multicast4(parts[2].split("/")[0]):
            ttl = parts[2].split("/")[1:2]
            if not ttl or not _DIGITS.match(ttl[0]) or int(ttl[0]) > 255:
                problems.append(f"c={value}: no TTL in 0-255")
    return problems


def _ip6_no_ttl(d: Description) -> list[str]:
    """§5.7: IP6 multicast without TTL (one slash at most: the number of addresses)."""
    problems = []
    for value, _ in _connections(d):
        parts = value.split(" ")
        multicast = len(parts) == 3 and parts[1] == "IP6" and parts[2].lower().startswith("ff")
        if multicast and parts[2].count("/") > 1:
            problems.append(f"c={value}")
    return problems


def _session_single_connection(d: Description) -> list[str]:
    """§5.7: one c= at session level, a single address."""
    values = d.session.all("c")
    problems = [f"{len(values)} c= lines at session level"] if len(values) > 1 else []
    for value in values:
        address = value.split(" ")[-1]
        if address.count("/") >= (2 if value.split(" ")[1:2] == ["IP4"] else 1):
            problems.append(f"c={value}: several addresses at session level")
    return problems


def _unicast_no_slash(d: Description) -> list[str]:
    """§5.7: no slash notation on a unicast address."""
    problems = []
    for value, _ in _connections(d):
        parts = value.split(" ")
        if len(parts) != 3 or "/" not in parts[2]:
            continue
        address = parts[2].split("/")[0]
        multicast = _multicast4(address) or address.lower().startswith("ff")
        if not multicast:
            problems.append(f"c={value}")
    return problems


def _no_key(d: Description) -> list[str]:
    """§5.12: no k= line."""
    return [f"k={line.value}" for line in d.lines if line.kind == "k"]


def _ascii_attribute_names(d: Description) -> list[str]:
    """§5.13: attribute names in US-ASCII."""
    problems = []
    for section in (d.session, *d.media):
        for name, _ in section.attributes():
            if not name.isascii():
                problems.append(f"a={name}")
    return problems


def _rtcp_parity(d: Description) -> list[str]:
    """§5.14: an RTP port that is odd (breaking the even/odd rule) comes with a=rtcp:."""
    problems = []
    for m in d.media:
        parts = (m.first("m") or "").split(" ")
        if len(parts) < 3 or not parts[2].startswith("RTP/") or not parts[1][:1].isdigit():
            continue
        port = int(parts[1].split("/")[0])
        if port % 2 and not any(name == "rtcp" for name, _ in m.attributes()):
            problems.append(f"m={m.first('m')}: odd RTP port without a=rtcp")
    return problems


def _udp_formats(d: Description) -> list[str]:
    """§5.14: with proto udp, each fmt is a media subtype (a token, not a number)."""
    problems = []
    for m in d.media:
        parts = (m.first("m") or "").split(" ")
        if len(parts) >= 4 and parts[2].lower() == "udp":
            problems += [f"m={m.first('m')}: fmt {f}" for f in parts[3:] if _DIGITS.match(f)]
    return problems


def _charset_registered(d: Description) -> list[str]:
    """§6.10: a=charset names a registered character set."""
    name = d.charset()
    return [f"a=charset:{name}"] if name is not None and name.lower() not in CHARSETS else []


def _charset_fields_valid(d: Description) -> list[str]:
    """§6.10: the text fields are valid in the character set (UTF-8 without a=charset)."""
    codec = (d.charset() or "utf-8").lower()
    if codec not in CHARSETS:
        return []
    problems = []
    for line in d.lines:
        if line.kind in "siep":
            try:
                line.raw.decode(codec)
            except (UnicodeDecodeError, LookupError):
                problems.append(f"{line.raw[:30]!r} not {codec}")
    return problems


def _no_nul_cr_lf(d: Description) -> list[str]:
    """§6.10: no NUL, and no CR or LF inside a field."""
    problems = []
    for line in d.lines:
        if b"\x00" in line.raw or b"\r" in line.raw:
            problems.append(f"{line.raw[:30]!r}")
    return problems


def _rtp_payload_numbers(d: Description) -> list[str]:
    """§8.2.3: RTP/* formats are payload type numbers (0-127)."""
    problems = []
    for m in d.media:
        parts = (m.first("m") or "").split(" ")
        if len(parts) >= 4 and parts[2].startswith("RTP/"):
            for fmt in parts[3:]:
                if not (_DIGITS.match(fmt) and int(fmt) <= 127):
                    problems.append(f"m={m.first('m')}: fmt {fmt}")
    return problems


def _dynamic_rtpmap(d: Description) -> list[str]:
    """§8.2.3 (and §5.14): each dynamic payload type (96-127) has an a=rtpmap."""
    problems = []
    for m in d.media:
        parts = (m.first("m") or "").split(" ")
        if len(parts) < 4 or not parts[2].startswith("RTP/") or parts[1] == "0":
            continue
        mapped = {(v or "").split(" ")[0] for n, v in m.attributes() if n == "rtpmap"}
        mapped |= {(v or "").split(" ")[0] for n, v in d.session.attributes() if n == "rtpmap"}
        for fmt in parts[3:]:
            if _DIGITS.match(fmt) and 96 <= int(fmt) <= 127 and fmt not in mapped:
                problems.append(f"payload type {fmt} without a=rtpmap")
    return problems


# SHOULD rules


def _timestamp_version(d: Description) -> list[str]:
    """§5.2: sess-id and sess-version numeric (NTP timestamps recommended), fitting 64 bits."""
    parts = (d.session.first("o") or "").split(" ")
    if len(parts) == 6 and not all(_DIGITS.match(p) and int(p) < 2**63 for p in parts[1:3]):
        return [f"o={d.session.first('o')}"]
    return []


def _fqdn_or_address(d: Description) -> list[str]:
    """§5.2: a fully qualified domain name or an address, not a bare host name."""
    return [f"{h!r} is not fully qualified" for h in _hosts(d) if "." not in h.rstrip(".")]


def _session_name_dash(d: Description) -> list[str]:
    """§5.3: a name of meaning, or s=- / s=<space> (not a blank of several spaces)."""
    return [f"s={v!r}" for v in d.session.all("s") if v.strip() == "" and v != " "]


def _phone_e164(d: Description) -> list[str]:
    """§5.6: phone numbers as +E.164."""
    problems = []
    for value in d.session.all("p"):
        number = re.sub(r"\(.*\)|.*<|>.*", "", value).strip()
        if not re.match(r"^\+[0-9][0-9 \-]*$", number):
            problems.append(f"p={value}")
    return problems


def _bandwidth_ct(d: Description) -> list[str]:
    """§5.8: b=CT at session level (or for a bundle): a conference total is the session's."""
    problems = []
    for m in d.media:
        bundled = any(n == "group" or n == "mid" for n, _ in m.attributes())
        if not bundled:
            problems += [f"b={v} in m={m.first('m')}" for v in m.all("b") if v.startswith("CT:")]
    return problems


def _no_x_bwtype(d: Description) -> list[str]:
    """§5.8: no X- bandwidth types."""
    return [
        f"b={v}" for s in (d.session, *d.media) for v in s.all("b") if v.upper().startswith("X-")
    ]


def _stop_time(d: Description) -> list[str]:
    """§5.9: a bounded session gives a stop time not before its start."""
    problems = []
    for value in d.session.all("t"):
        parts = value.split(" ")
        if len(parts) == 2 and all(_DIGITS.match(p) for p in parts):
            start, stop = map(int, parts)
            if stop and stop < start:
                problems.append(f"t={value}")
    return problems


def _obsolete(name: str):
    """§6.1, §6.2: the obsolete a=cat and a=keywds not sent."""

    def rule(d: Description) -> list[str]:
        return [
            f"a={n}:{v}" for s in (d.session, *d.media) for n, v in s.attributes() if n == name
        ]

    return rule


def _one_sdplang(d: Description) -> list[str]:
    """§6.11: one a=sdplang per level."""
    return [
        f"{len(s.all('a'))} a=sdplang"
        for s in (d.session, *d.media)
        if sum(1 for n, _ in s.attributes() if n == "sdplang") > 1
    ]


def _no_control_data(d: Description) -> list[str]:
    """§8.2.2: the media types 'control' and 'data' not used."""
    return [
        f"m={m.first('m')}"
        for m in d.media
        if (m.first("m") or "").split(" ")[0] in ("control", "data")
    ]


def battery(ctx: Context, rules: list[tuple[str, object, int]], must: bool = True) -> None:
    """Run each rule on every SDP body the target sent (see `conformance.cases.wellformed`'s
    battery, of which this is the SDP counterpart)."""
    bodies = sdp_bodies(ctx)
    ctx.notes.append(f"{len(bodies)} SDP bodies from the target judged")
    for expected, rule, requirement in rules:
        problems = [
            f"{describe(msg)}: {p}"
            for msg, d in bodies
            for p in rule(d)  # type: ignore[operator]
        ]
        observed = "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        if must:
            ctx.check(not problems, expected, observed, requirement=requirement)
        else:
            ctx.should(not problems, expected, observed)


# === the sending side ===========================================================================


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% An SDP description MUST conform to the syntax defined in Section 9.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.2
##= type=test
##% The <username> MUST NOT contain spaces.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
##= type=test
##% There MUST be one and only one "s=" line per session description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
##= type=test
##% The "s=" line MUST NOT be empty.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##= type=test
##% If an email address or phone number is present, it MUST be specified
##% before the first media description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##= type=test
##% This MUST be enclosed in parentheses if it is present.
@case("rfc8866-sent-syntax", roles=ROLES, timeout=20, no_control=SENT)
def sent_syntax(ctx: Context) -> None:
    """Every SDP body the target sent follows §9: v=0 first, type=value lines ended by CRLF,
    the fields in their order, o= of six fields, one s= not empty, e=/p= before m=."""
    battery(
        ctx,
        [
            ("the SDP grammar of §9", _syntax, 0),
            ("lines ended by CRLF (§9)", _crlf, 0),
            ("an o= username without spaces (6 fields)", _username, 1),
            ("one and only one s= line", _one_session_name, 2),
            ("an s= line not empty", _session_name_not_empty, 3),
            ("e= and p= before the first m=", _email_phone_first, 4),
            ("free text of e=/p= in parentheses", _free_text_parenthesised, 5),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% A session description MUST contain either at least one "c=" line in
##% each media description or a single "c=" line at the session level.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Sessions using an "IP4" multicast connection address MUST also have a
##% time to live (TTL) value present in addition to the multicast
##% address.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% TTL values MUST be in the range 0-255.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Although the TTL MUST be specified, its use to scope multicast traffic is deprecated
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% "IP6" multicast does not use TTL scoping, and hence the TTL value MUST NOT be present
##% for "IP6" multicast.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Multiple addresses or "c=" lines MUST NOT be specified at session level.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% The slash notation for multiple addresses described above MUST NOT be
##% used for IP unicast addresses.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% Any domain name used in SDP MUST comply with [RFC1034] and [RFC1035].
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% Internationalized domain names (IDNs) MUST be represented using the
##% ASCII Compatible Encoding (ACE) form defined in [RFC5890] and MUST
##% NOT be directly represented in UTF-8 or any other encoding (this
##% requirement is for compatibility with [RFC2327] and other early SDP-related
##% standards, which predate the development of internationalized domain
##% names).
@case("rfc8866-sent-connection", roles=ROLES, timeout=20, no_control=SENT)
def sent_connection(ctx: Context) -> None:
    """The c= lines: at session level or in every m= section, one at session level, TTL
    only (and always) for IP4 multicast, no slash on unicast; host names as RFC 1034."""
    battery(
        ctx,
        [
            ("a c= at session level or in every media description", _connection_everywhere, 0),
            ("a TTL on IP4 multicast addresses", _ip4_ttl, 1),
            ("a TTL of 0-255", _ip4_ttl, 2),
            ("the TTL given for IP4 multicast", _ip4_ttl, 3),
            ("no TTL on IP6 multicast", _ip6_no_ttl, 4),
            ("one c= of one address at session level", _session_single_connection, 5),
            ("no slash notation on unicast addresses", _unicast_no_slash, 6),
            ("domain names as RFC 1034/1035", _domains, 7),
            ("domain names in ASCII (ACE)", _ace, 8),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% If the "a=charset:" attribute is not present, these
##% octet strings MUST be interpreted as containing ISO-10646 characters
##% in UTF-8 encoding.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
##= type=test
##% If a session-level "a=charset:" attribute is not present, the "s="
##% field MUST contain ISO 10646 characters in UTF-8 encoding.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.4
##= type=test
##% If the "a=charset:" attribute is not present, the "i=" line MUST contain ISO 10646
##% characters in UTF-8 encoding.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% The charset specified MUST be one of those registered in the IANA
##% Character Sets registry (http://www.iana.org/assignments/character-
##% sets), such as ISO-8859-1.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% Charset-dependent fields MUST contain only sequences of bytes that are
##% valid according to the definition of the selected character set.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% Furthermore, charset-dependent fields MUST NOT contain the bytes 0x00
##% (Nul), 0x0A (LF), and 0x0d (CR).
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
##= type=test
##% Attribute names MUST use the US-ASCII subset of ISO-10646/UTF-8.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.12
##= type=test
##% The "k=" line (key-field) is obsolete and MUST NOT be used.
@case("rfc8866-sent-text", roles=ROLES, timeout=20, no_control=SENT)
def sent_text(ctx: Context) -> None:
    """The text: UTF-8 without a=charset (s= and i= too), a registered charset, valid
    bytes and no NUL or bare CR, US-ASCII attribute names, no k= line."""
    battery(
        ctx,
        [
            ("UTF-8 text without a=charset", _utf8_fields(), 0),
            ("an s= in UTF-8", _utf8_fields("s"), 1),
            ("an i= in UTF-8", _utf8_fields("i"), 2),
            ("a registered a=charset", _charset_registered, 3),
            ("text valid in its character set", _charset_fields_valid, 4),
            ("no NUL or CR inside a field", _no_nul_cr_lf, 5),
            ("US-ASCII attribute names", _ascii_attribute_names, 6),
            ("no k= line", _no_key, 7),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
##= type=test
##% If noncontiguous ports are used or if they don't follow the parity rule of even RTP
##% ports and odd RTCP ports, the "a=rtcp:" attribute MUST be used.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
##= type=test
##% If the <proto> subfield is "udp", the <fmt> subfields MUST reference a media type
##% describing the format under the "audio", "video", "text", "application", or "message"
##% top-level media types.
##= https://www.rfc-editor.org/rfc/rfc8866#section-8.2.3
##= type=test
##% RTP payload formats under the "RTP/AVP" and other "RTP/*" profiles
##% MUST use the payload type number as their <fmt> value.
##= https://www.rfc-editor.org/rfc/rfc8866#section-8.2.3
##= type=test
##% If the payload type number is dynamically assigned by this session
##% description, an additional "a=rtpmap:" attribute MUST be included to
##% specify the format name and parameters as defined by the media type
##% registration for the payload format.
@case("rfc8866-sent-media", roles=ROLES, timeout=20, no_control=SENT)
def sent_media(ctx: Context) -> None:
    """The m= sections: payload type numbers as RTP formats, an a=rtpmap for each dynamic
    one, a=rtcp with an odd RTP port, media subtypes as udp formats."""
    battery(
        ctx,
        [
            ("a=rtcp where the RTP port is odd", _rtcp_parity, 0),
            ("media subtypes as the formats of proto udp", _udp_formats, 1),
            ("payload type numbers as RTP formats", _rtp_payload_numbers, 2),
            ("an a=rtpmap for every dynamic payload type", _dynamic_rtpmap, 3),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.2
##= type=test
##% Again, as with <sess-id> it is RECOMMENDED that a timestamp be used.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.2
##= type=test
##% For both "IP4" and "IP6", the fully qualified domain name is the form that SHOULD be
##% given unless this is unavailable, in which case a globally unique address MAY be
##% substituted.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
##= type=test
##% If a session has no meaningful name, then "s= " or "s=-" (i.e., a single space or dash
##% as the session name) is RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##= type=test
##% Phone numbers SHOULD be given in the form of an international public
##% telecommunication number (see ITU-T Recommendation E.164 [E164])
##% preceded by a "+".
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##= type=test
##% The free text string SHOULD be in the ISO-10646 character set with UTF-8 encoding, or
##% alternatively in ISO-8859-1 or other encodings if the appropriate session-level
##% "a=charset:" attribute is set.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% CT If the bandwidth of a session is different from the bandwidth
##% implicit from the scope, a "b=CT:" line SHOULD be supplied for the
##% session giving the proposed upper limit to the bandwidth used (the
##% "conference total" bandwidth).
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% Similarly, if the bandwidth of bundled media streams [RFC8843] in an "m=" line is
##% different from the implicit value from the scope, a "b=CT:" line SHOULD be supplied
##% in the media level.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% Use of the "X-" prefix is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.9
##= type=test
##% If behavior other than this is required, a <stop-time> SHOULD be given and modified as
##% appropriate when new information becomes available about when the session should
##% really end.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
##= type=test
##% For dynamic payload type assignments, the "a=rtpmap:" attribute (see Section 6.6)
##% SHOULD be used to map from an RTP payload type number to a media encoding name that
##% identifies the payload format.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.1
##= type=test
##% This attribute is obsolete and SHOULD NOT be used.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.2
##= type=test
##% This attribute is obsolete and SHOULD NOT be used.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.11
##= type=test
##% However, this is not possible with all transport mechanisms, and so multiple
##% "a=sdplang:" attributes are allowed although NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8866#section-8.2.2
##= type=test
##% Until that is done, applications SHOULD NOT use these types and SHOULD NOT declare
##% support for them in SIP capabilities declarations (even though they exist in the
##% registry created by [RFC3840]).
@case("rfc8866-sent-recommended", roles=ROLES, level="SHOULD", timeout=20, no_control=SENT)
def sent_recommended(ctx: Context) -> None:
    """The recommendations: numeric o= ids, fully qualified names, s=- for no name, +E.164
    phones, b=CT at session level and no X- bwtype, no a=cat / a=keywds, one a=sdplang,
    rtpmap for dynamic types, no 'control'/'data' media."""
    battery(
        ctx,
        [
            ("numeric (timestamp) o= session id and version", _timestamp_version, 0),
            ("fully qualified domain names", _fqdn_or_address, 1),
            ("s=- or s=<space> rather than a blank name", _session_name_dash, 2),
            ("phone numbers as +E.164", _phone_e164, 3),
            ("free text in UTF-8", _utf8_fields("e", "p"), 4),
            ("b=CT at session level", _bandwidth_ct, 5),
            ("b=CT at session level or for a bundle", _bandwidth_ct, 6),
            ("no X- bandwidth type", _no_x_bwtype, 7),
            ("a stop time not before the start", _stop_time, 8),
            ("an a=rtpmap for each dynamic payload type", _dynamic_rtpmap, 9),
            ("no a=cat", _obsolete("cat"), 10),
            ("no a=keywds", _obsolete("keywds"), 11),
            ("one a=sdplang per level", _one_sdplang, 12),
            ("no 'control' or 'data' media", _no_control_data, 13),
        ],
        must=False,
    )


# === the receiving side: the UAS answers offers ==================================================

_OFFER_HEAD = "v=0\no=tester 2890844526 2890844526 IN IP4 127.0.0.1\ns=-\n"
_PCMU = "m=audio 49170 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


def _offer(head: str = "", media: str = "", session: str = "", *, crlf: bool = True) -> bytes:
    """An offer of one PCMU stream, with ``head`` lines after s=, ``session`` lines after
    t= and ``media`` lines in the m= section (LF-ended lines when not ``crlf``)."""
    text = _OFFER_HEAD + head + "c=IN IP4 127.0.0.1\nt=0 0\n" + session + _PCMU + media
    return (text.replace("\n", "\r\n") if crlf else text).encode("latin-1")


def _taken(answer: Description) -> list[bool]:
    """For each m= line of ``answer``: whether the stream is accepted (port not 0)."""
    return [(m.first("m") or "").split(" ")[1:2] != ["0"] for m in answer.media]


def _answered(ctx: Context, offer: bytes, what: str, requirement: int = 0) -> Description:
    """After the control (the plain offer, accepted), INVITE with ``offer``: a check that
    it is accepted with a 2xx whose SDP answer treats the stream as the plain offer's
    answer did (taken, or rejected by a target that takes no media)."""
    link = ctx.link()
    plain = ctx.control(link, _invite(ctx, link, _offer()))
    invite = _invite(ctx, link, offer)
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to the INVITE")
    ctx.check(
        200 <= (final.status or 0) < 300,
        f"a 2xx to an offer with {what}",
        describe(final),
        requirement,
    )
    ctx.check(
        bool(final.body) and "sdp" in (final.get("Content-Type") or "").lower(),
        "an SDP answer in the 2xx",
        f"Content-Type {final.get('Content-Type')}, {len(final.body)} bytes",
        requirement,
    )
    answer = read(final.body)
    before = _taken(read(plain.body)) if plain.body else [True]
    ctx.check(
        _taken(answer) == before,
        f"the audio stream answered as in the plain offer's answer despite {what} "
        f"({'taken' if before == [True] else 'rejected'})",
        "; ".join(f"m={m.first('m')}" for m in answer.media) or "no m= line",
        requirement,
    )
    return answer


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% An
##% SDP parser MUST ignore any attribute it doesn't understand.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
##= type=test
##% If an attribute is received that is not understood, it MUST be
##% ignored by the receiver.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
##= type=test
##% If none of the media direction attributes is present at either session level or media
##% level, "a=sendrecv" SHOULD be assumed as the default.
@case("rfc8866-offer-unknown-attribute", roles=("uas",), timeout=10)
def offer_unknown_attribute(ctx: Context) -> None:
    """An offer with attributes nobody knows (session and media level, with and without a
    value): answered as the plain offer, the stream accepted; no direction offered, none
    but sendrecv answered (a SHOULD)."""
    answer = _answered(
        ctx,
        _offer(session="a=x-sipref-unknown\n", media="a=x-sipref-unknown:42 with words\n"),
        "unknown attributes",
    )
    ctx.check(
        not any(
            n.startswith("x-sipref")
            for s in (answer.session, *answer.media)
            for n, _ in s.attributes()
        ),
        "the unknown attributes not taken into the answer",
        answer.body[:200].decode("utf-8", "replace"),
        1,
    )
    direction = [
        n for s in (answer.session, *answer.media) for n, _ in s.attributes() if n in DIRECTIONS
    ]
    ctx.should(
        direction in ([], ["sendrecv"]),
        "sendrecv (the default of an offer without a direction)",
        ", ".join(direction),
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% SDP parsers MUST ignore bandwidth-fields with unknown <bwtype> names.
@case("rfc8866-offer-unknown-bwtype", roles=("uas",), timeout=10)
def offer_unknown_bwtype(ctx: Context) -> None:
    """An offer with b=SIPREFBW:64 at session and media level: the stream accepted."""
    _answered(
        ctx,
        _offer(head="", session="", media="")
        .replace(b"t=0 0\r\n", b"b=SIPREFBW:64\r\nt=0 0\r\n")
        .replace(b"RTP/AVP 0\r\n", b"RTP/AVP 0\r\nb=SIPREFBW:64\r\n"),
        "a bandwidth type nobody knows",
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.12
##= type=test
##% One MUST NOT include a "k=" line in an SDP, and MUST discard it if it
##% is received in an SDP.
@case("rfc8866-offer-key-discarded", roles=("uas",), timeout=10)
def offer_key(ctx: Context) -> None:
    """An offer with k=prompt (obsolete): the stream accepted, no k= in the answer."""
    offer = _offer().replace(b"t=0 0\r\n", b"t=0 0\r\nk=prompt\r\n")
    answer = _answered(ctx, offer, "a k= line")
    ctx.check(not _no_key(answer), "no k= in the answer", "; ".join(_no_key(answer)))


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The sequence CRLF (0x0d0a) is used to end a line, although
##% parsers SHOULD be tolerant and also accept lines terminated with a
##% single newline character.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.1
##= type=test
##% It SHOULD be ignored if received.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.2
##= type=test
##% It SHOULD be ignored if received.
@case("rfc8866-offer-lf-obsolete", roles=("uas",), level="SHOULD", timeout=10)
def offer_lf_obsolete(ctx: Context) -> None:
    """An offer with lines ended by LF alone, then one with a=cat and a=keywds: both
    answered, the stream accepted."""
    _answered(ctx, _offer(crlf=False), "lines ended by LF alone")
    _answered(ctx, _offer(session="a=cat:sipref.test\n"), "a=cat", 1)
    _answered(ctx, _offer(session="a=keywds:sipref\n"), "a=keywds", 2)


##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% The character set identifier is a string that MUST be compared against
##% identifiers from the "Name" or "Preferred MIME Name" field of the registry using a
##% case-insensitive comparison.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% If the identifier is not recognized or not supported, all strings
##% that are affected by it SHOULD be regarded as octet strings.
@case("rfc8866-offer-charset", roles=("uas",), timeout=10)
def offer_charset(ctx: Context) -> None:
    """An offer with a=charset:utf-8 (lower case: the registry's names compare without
    case) and an s= in UTF-8: accepted.  Then one with a charset nobody knows and an s= in
    ISO-8859-1: a 2xx too, its text taken as octets (a SHOULD: a warning)."""
    utf8 = _offer(session="a=charset:utf-8\n").replace(b"s=-", "s=Caf\u00e9".encode())
    _answered(ctx, utf8, "a=charset:utf-8 (lower case)")
    octets = _offer(session="a=charset:x-sipref-charset\n").replace(b"s=-", b"s=Caf\xe9")
    link = ctx.link()
    invite = _invite(ctx, link, octets)
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    ctx.should(
        final is not None and 200 <= (final.status or 0) < 300,
        "a 2xx to an offer with a charset nobody knows (its text taken as octets)",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The set of type letters is deliberately small and not intended to be
##% extensible -- an SDP parser MUST completely ignore or reject any
##% session description that contains a type letter that it does not
##% understand.
@case("rfc8866-offer-unknown-letter", roles=("uas",), timeout=10)
def offer_unknown_letter(ctx: Context) -> None:
    """An offer with a line y=: rejected (a 4xx or 6xx, 488 say), or ignored as a whole;
    never a server error, never an answer built on it (no y= echoed)."""
    link = ctx.link()
    ctx.control(link, _invite(ctx, link, _offer()))
    invite = _invite(ctx, link, _offer(session="y=sipref\n"))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to the INVITE")
    status = final.status or 0
    ctx.check(
        200 <= status < 500 or status >= 600,
        "the description rejected (4xx, 6xx) or ignored, no server error",
        describe(final),
    )
    if 200 <= status < 300 and final.body:
        ctx.check(
            not _letters(read(final.body)),
            "no answer built on the unknown line (no y= in it)",
            final.body[:200].decode("utf-8", "replace"),
        )


# === the receiving side: the UAC takes answers ===================================================


def _answer_for(invite: Message, extra_session: str = "", extra_media: str = "") -> bytes:
    """An answer to the target's offer (its first stream, first format) with extra lines."""
    streams = read(invite.body).media if invite.body else []
    fields = (streams[0].first("m") or "").split(" ") if streams else []
    if len(fields) < 4:
        fields = ["audio", "0", "RTP/AVP", "0"]
    media = f"m={fields[0]} 49170 {fields[2]} {fields[3]}\n"
    text = (
        "v=0\no=runner 2890844527 2890844527 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\n"
        f"t=0 0\n{extra_session}{media}{extra_media}"
    )
    return text.replace("\n", "\r\n").encode("latin-1")


def _call_with_answer(ctx: Context, body: Callable[[Message], bytes], what: str) -> Peer:
    """The target calls ([uac] invite); the runner answers 200 with ``body``: a check that
    the 2xx is ACKed and the call is not hung up at once (an answer the target could not
    take: ACK then BYE, RFC 3261 §13.2.2.4)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE", "an INVITE with an offer from the target ([uac] invite)")
    if not invite.body:
        ctx.not_applicable("the target's INVITE carries no offer (no SDP to answer)")
    peer.answer(invite, addr, 180)
    peer.answer(invite, addr, 200, body=body(invite))
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, f"an ACK for the 2xx with {what}", "none within 3 s")
    bye = peer.request("BYE", 0.6, invite.call_id)
    if bye is not None:
        peer.ok(*bye)
    ctx.check(bye is None, f"the call kept after an answer with {what}", describe(bye and bye[0]))
    return peer


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% An
##% SDP parser MUST ignore any attribute it doesn't understand.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
##= type=test
##% If an attribute is received that is not understood, it MUST be
##% ignored by the receiver.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% SDP parsers MUST ignore bandwidth-fields with unknown <bwtype> names.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.12
##= type=test
##% One MUST NOT include a "k=" line in an SDP, and MUST discard it if it
##% is received in an SDP.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% The character set identifier is a string that MUST be compared against
##% identifiers from the "Name" or "Preferred MIME Name" field of the registry using a
##% case-insensitive comparison.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
##= type=test
##% If none of the media direction attributes is present at either session level or media
##% level, "a=sendrecv" SHOULD be assumed as the default.
@case("rfc8866-answer-unknown-fields", roles=("uac",), timeout=15, no_control=RUNNER_ANSWERS)
def answer_unknown_fields(ctx: Context) -> None:
    """The runner's answer carries unknown attributes, an unknown bwtype, k=prompt and
    a=charset:utf-8 in lower case (no direction: sendrecv): the target ACKs and stays in
    the call."""
    _call_with_answer(
        ctx,
        lambda invite: _answer_for(
            invite,
            "k=prompt\na=charset:utf-8\na=x-sipref-unknown\n",
            "b=SIPREFBW:64\na=x-sipref-unknown:42 with words\n",
        ),
        "unknown attributes, an unknown bwtype, k= and a=charset:utf-8",
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The sequence CRLF (0x0d0a) is used to end a line, although
##% parsers SHOULD be tolerant and also accept lines terminated with a
##% single newline character.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.1
##= type=test
##% It SHOULD be ignored if received.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.2
##= type=test
##% It SHOULD be ignored if received.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.10
##= type=test
##% If the identifier is not recognized or not supported, all strings
##% that are affected by it SHOULD be regarded as octet strings.
@case(
    "rfc8866-answer-lf-obsolete",
    roles=("uac",),
    level="SHOULD",
    timeout=15,
    no_control=RUNNER_ANSWERS,
)
def answer_lf_obsolete(ctx: Context) -> None:
    """The runner's answer has lines ended by LF alone, a=cat, a=keywds and a charset
    nobody knows: the target ACKs and stays in the call."""
    _call_with_answer(
        ctx,
        lambda invite: _answer_for(
            invite, "a=cat:sipref.test\na=keywds:sipref\na=charset:x-sipref-charset\n"
        ).replace(b"\r\n", b"\n"),
        "LF line ends, a=cat, a=keywds and an unknown charset",
    )


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The set of type letters is deliberately small and not intended to be
##% extensible -- an SDP parser MUST completely ignore or reject any
##% session description that contains a type letter that it does not
##% understand.
@case("rfc8866-answer-unknown-letter", roles=("uac",), timeout=15, no_control=RUNNER_ANSWERS)
def answer_unknown_letter(ctx: Context) -> None:
    """The runner's answer has a line y=: the target ACKs the 2xx (RFC 3261 §13.2.2.4) and
    either ignores the description or rejects it (a BYE); it never sends it back to us in
    a new offer."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE", "an INVITE with an offer from the target ([uac] invite)")
    if not invite.body:
        ctx.not_applicable("the target's INVITE carries no offer (no SDP to answer)")
    peer.answer(invite, addr, 200, body=_answer_for(invite, "y=sipref\n"))
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, "an ACK for the 2xx (whatever its SDP)", "none within 3 s")
    assert ack is not None
    got = peer.expect(
        lambda m: m.call_id == invite.call_id and m.method in ("BYE", "INVITE", "UPDATE"), 0.8
    )
    if got is not None:
        peer.ok(*got)
    for msg in [ack[0]] + ([got[0]] if got is not None else []):
        if msg.body:
            ctx.check(
                not _letters(read(msg.body)),
                f"no y= line echoed (in the {msg.method})",
                msg.body[:200].decode("utf-8", "replace"),
            )

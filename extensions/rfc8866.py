"""SDP: Session Description Protocol (RFC 8866), the parts a SIP user agent uses.

A session description is a :class:`SessionDescription`: the session-level lines
(v= o= s= i= u= e= p= c= b=, one or more time descriptions t= r= z=, k=, a=) and
zero or more :class:`Media` sections (m= with their own i= c= b= k= a=).  Every field
is kept as the RFC spells it, so :func:`serialize` writes back what :func:`parse`
read (unknown attributes included, verbatim).  Helpers read the attributes a SIP UA
needs: ``rtpmap``/``fmtp`` (§6.6, §6.15) and the direction attributes (§6.7).

:func:`parse` checks the grammar of §9 line by line and raises :class:`SDPError`
naming the line number, the line type and the rule broken; it bounds the size of
what it accepts (:class:`Limits`), so a hostile description cannot make it grow
without bound.  Nothing here does I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

__all__ = [
    "DIRECTIONS",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Limits",
    "Media",
    "Origin",
    "RtpMap",
    "SDPError",
    "SessionDescription",
    "Timing",
    "parse",
    "serialize",
]

# The media direction attributes (§6.7).
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_NON_WS = re.compile(r"[\x21-\x7e\x80-\U0010ffff]+\Z")
_TIME = re.compile(r"(0|[1-9][0-9]{9,})\Z")
_TYPED_TIME = re.compile(r"[0-9]+[dhms]?\Z")
_REPEAT_INTERVAL = re.compile(r"[1-9][0-9]*[dhms]?\Z")
_FQDN = re.compile(r"[A-Za-z0-9.\-]{4,}\Z")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


class SDPError(ValueError):
    """A session description that breaks RFC 8866: where, which line type, which rule."""

    def __init__(self, line_number: int, line_type: str, rule: str) -> None:
        self.line_number = line_number
        self.line_type = line_type
        self.rule = rule
        where = f"line {line_number}" + (f" ({line_type}=)" if line_type else "")
        super().__init__(f"SDP {where}: {rule}")


@dataclass(frozen=True)
class Limits:
    """Bounds on what :func:`parse` accepts (none are in RFC 8866; a parser needs them)."""

    max_bytes: int = 65536
    max_lines: int = 1024
    max_media: int = 64
    max_line_length: int = 4096


DEFAULT_LIMITS = Limits()


# -- the model ---------------------------------------------------------------------------


@dataclass
class Origin:
    """o= (§5.2): who made the description, and which version of it this is."""

    username: str = "-"
    sess_id: str = "0"
    sess_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    unicast_address: str = "127.0.0.1"


@dataclass
class Connection:
    """c= (§5.7): where media goes; ``address`` keeps any /ttl/number suffix."""

    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    @property
    def host(self) -> str:
        """The address without its multicast /ttl or /number of addresses."""
        return self.address.split("/", 1)[0]


@dataclass
class Bandwidth:
    """b= (§5.8), in kilobits per second for CT and AS."""

    bwtype: str
    bandwidth: int


@dataclass
class Timing:
    """A time description (§5.9-§5.11): t=, its r= lines and an optional z= line."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)
    zone: str | None = None


@dataclass
class Attribute:
    """a= (§5.13): a property attribute (value None) or a value attribute."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class RtpMap:
    """An a=rtpmap value (§6.6): payload type, encoding name, clock rate, parameters."""

    payload_type: int
    encoding: str
    clock_rate: int
    parameters: str | None = None

    def __str__(self) -> str:
        tail = "" if self.parameters is None else f"/{self.parameters}"
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


class _Attributes:
    """Attribute helpers shared by the session and media levels."""

    attributes: list[Attribute]

    def attribute(self, name: str) -> str | None:
        """The value of the first ``name`` attribute ("" for a property), else None."""
        for a in self.attributes:
            if a.name == name:
                return "" if a.value is None else a.value
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    @property
    def own_direction(self) -> str | None:
        """The direction attribute written at this level, if any."""
        for a in self.attributes:
            if a.name in DIRECTIONS and a.value is None:
                return a.name
        return None

    def set_direction(self, direction: str | None) -> None:
        """Replace this level's direction attribute (None: remove it)."""
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"not a direction attribute (RFC 8866 §6.7): {direction!r}")
        kept = [a for a in self.attributes if not (a.name in DIRECTIONS and a.value is None)]
        if direction is not None:
            kept.append(Attribute(direction))
        self.attributes = kept


@dataclass
class Media(_Attributes):
    """A media description (§5.14): m= and its i=, c=, b=, k=, a= lines."""

    media: str = "audio"
    port: int = 0
    port_count: int | None = None
    proto: str = "RTP/AVP"
    formats: list[str] = field(default_factory=list)
    title: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def rtpmaps(self) -> dict[str, RtpMap]:
        """The a=rtpmap attributes by payload type (as written in the m= line)."""
        maps: dict[str, RtpMap] = {}
        for value in self.attribute_values("rtpmap"):
            parsed = parse_rtpmap(value)
            if parsed is not None:
                maps.setdefault(str(parsed.payload_type), parsed)
        return maps

    def rtpmap(self, fmt: str) -> RtpMap | None:
        """The encoding of ``fmt``: its a=rtpmap, or the static one of RFC 3551."""
        found = self.rtpmaps.get(fmt)
        if found is None and self.proto.startswith("RTP/") and fmt in STATIC_PAYLOAD_TYPES:
            encoding, rate, params = STATIC_PAYLOAD_TYPES[fmt]
            found = RtpMap(int(fmt), encoding, rate, params)
        return found

    def fmtp(self, fmt: str) -> str | None:
        """The a=fmtp parameters of ``fmt`` (§6.15), else None."""
        for value in self.attribute_values("fmtp"):
            pt, _, params = value.partition(" ")
            if pt == fmt:
                return params
        return None


@dataclass
class SessionDescription(_Attributes):
    """A whole SDP description (§5): the session level and its media sections."""

    version: int = 0
    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    times: list[Timing] = field(default_factory=lambda: [Timing()])
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    ##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
    ##% If any one of these appears in a media description, then it applies
    ##% for that media description.  If none appears in a media description,
    ##% then the one from session level, if any, applies to that media
    ##% description.
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
    ##% If none of the media direction attributes is present at either
    ##% session level or media level, "a=sendrecv" SHOULD be assumed as the
    ##% default.
    def direction(self, media: Media) -> str:
        """The direction in force for ``media``: its own, the session's, or sendrecv."""
        return media.own_direction or self.own_direction or "sendrecv"

    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5
    ##% The connection ("c=") information in the session-level section
    ##% applies to all the media descriptions of that session unless
    ##% overridden by connection information in the media description.
    def connection_of(self, media: Media) -> Connection | None:
        """The connection data in force for ``media`` (its first c=, else the session's)."""
        return media.connections[0] if media.connections else self.connection

    def copy(self) -> SessionDescription:
        """A deep copy (descriptions are edited to make the next offer)."""
        return parse(serialize(self))


# RFC 3551 §6: the static audio payload types a UA may see without an a=rtpmap.
STATIC_PAYLOAD_TYPES: dict[str, tuple[str, int, str | None]] = {
    "0": ("PCMU", 8000, "1"),
    "3": ("GSM", 8000, "1"),
    "4": ("G723", 8000, "1"),
    "5": ("DVI4", 8000, "1"),
    "6": ("DVI4", 16000, "1"),
    "7": ("LPC", 8000, "1"),
    "8": ("PCMA", 8000, "1"),
    "9": ("G722", 8000, "1"),
    "10": ("L16", 44100, "2"),
    "11": ("L16", 44100, "1"),
    "12": ("QCELP", 8000, "1"),
    "13": ("CN", 8000, "1"),
    "14": ("MPA", 90000, None),
    "15": ("G728", 8000, "1"),
    "16": ("DVI4", 11025, "1"),
    "17": ("DVI4", 22050, "1"),
    "18": ("G729", 8000, "1"),
}


def parse_rtpmap(value: str) -> RtpMap | None:
    """An a=rtpmap value (§6.6), or None when it does not follow the syntax."""
    pt, _, rest = value.partition(" ")
    parts = rest.split("/")
    if not _DIGITS.match(pt) or len(parts) not in (2, 3) or not _TOKEN.match(parts[0]):
        return None
    if not _DIGITS.match(parts[1]):
        return None
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-6.6
    ##% Note that the payload type number is indicated in a
    ##% 7-bit field, limiting the values to inclusively between 0 and 127.
    if int(pt) > 127:
        return None
    return RtpMap(int(pt), parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None)


# -- parsing -----------------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##% Some lines in each description are required and some are optional,
##% but when present, they must appear in exactly the order given here.
# The session-level order of §5 as ranks; a line may follow one of equal or lower rank
# (repeatable types) or lower rank only (single types).  t/r/z form a group of their own.
_SESSION_ORDER = {"v": 0, "o": 1, "s": 2, "i": 3, "u": 4, "e": 5, "p": 6, "c": 7, "b": 8}
_SESSION_ORDER.update({"t": 9, "r": 9, "z": 9, "k": 10, "a": 11})
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##% If an email address or phone number is present, it MUST be specified
##% before the first media description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##% Multiple addresses or "c=" lines MUST NOT be specified at session level.
# (Only the media level lists no e=, p= and repeatable c= lines.)
_MEDIA_ORDER = {"m": 0, "i": 1, "c": 2, "b": 3, "k": 4, "a": 5}


class _Parser:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.sd = SessionDescription(times=[])
        self.media: Media | None = None
        self.rank = -1
        self.seen: set[str] = set()
        self.number = 0
        self.kind = ""
        self.media_lines: list[int] = []

    def fail(self, rule: str) -> SDPError:
        return SDPError(self.number, self.kind, rule)

    # -- field syntax ---------------------------------------------------------------

    def token(self, text: str, what: str) -> str:
        if not _TOKEN.match(text):
            raise self.fail(f"{what} must be a token, got {text!r}")
        return text

    def integer(self, text: str, what: str, maximum: int | None = None) -> int:
        if not _DIGITS.match(text) or len(text) > 20:
            raise self.fail(f"{what} must be digits, got {text!r}")
        value = int(text)
        if maximum is not None and value > maximum:
            raise self.fail(f"{what} must be at most {maximum}, got {value}")
        return value

    def fields(self, value: str, count: int, what: str, *, at_least: bool = False) -> list[str]:
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5
        ##% In general, <value>
        ##% is either a number of subfields delimited by a single space character
        ##% or a free format string, and is case-significant unless a specific
        ##% field defines otherwise.
        parts = value.split(" ")
        if any(p == "" for p in parts) or (
            len(parts) < count if at_least else len(parts) != count
        ):
            many = "at least " if at_least else ""
            raise self.fail(f"{what} needs {many}{count} fields separated by single spaces")
        return parts

    def address(self, addrtype: str, address: str, *, unicast: bool) -> str:
        """The unicast-address / connection-address rules of §9 (IP4, IP6, FQDN)."""
        host, _, suffix = address.partition("/")
        if addrtype not in ("IP4", "IP6"):
            if not _NON_WS.match(address):
                raise self.fail(f"bad address {address!r}")
            return address  # extn-addr: another address family
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5
        ##% Any domain name used in SDP MUST comply with [RFC1034] and [RFC1035].
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5
        ##% Internationalized domain names (IDNs)
        ##% MUST be represented using the ASCII Compatible Encoding (ACE) form
        ##% defined in [RFC5890] and MUST NOT be directly represented in UTF-8 or
        ##% any other encoding
        # (The FQDN rule of §9 admits letters, digits, "-" and "." only: ACE, not UTF-8.)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            # (All digits and dots: a broken IPv4 address, not a domain name.)
            if not _FQDN.match(host) or suffix or not host.strip("0123456789."):
                raise self.fail(f"bad {addrtype} address {address!r}") from None
            return address
        if (ip.version == 4) != (addrtype == "IP4"):
            raise self.fail(f"address {host!r} is not an {addrtype} address")
        if unicast and suffix:
            raise self.fail(f"a unicast address takes no /suffix: {address!r}")
        if suffix:
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
            ##% Sessions using an "IP4" multicast connection address MUST also have
            ##% a time to live (TTL) value present in addition to the multicast
            ##% address.
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
            ##% "IP6" multicast does not use TTL scoping, and hence the TTL value
            ##% MUST NOT be present for "IP6" multicast.
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
            ##% The slash notation for multiple addresses described above MUST NOT
            ##% be used for IP unicast addresses.
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
            ##% TTL values MUST be in the range 0-255.
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
            ##% Although the TTL MUST be specified, its use to scope multicast traffic is
            ##% deprecated
            parts = suffix.split("/")
            if not ip.is_multicast or len(parts) > (2 if ip.version == 4 else 1):
                raise self.fail(f"bad multicast suffix in {address!r}")
            for part in parts:
                self.integer(part, "a multicast TTL or number of addresses")
            if ip.version == 4 and int(parts[0]) > 255:
                raise self.fail(f"a TTL must be 0-255 in {address!r}")
        elif ip.version == 4 and ip.is_multicast and not unicast:
            raise self.fail(f"an IP4 multicast address needs a TTL: {address!r}")
        return address

    def connection(self, value: str) -> Connection:
        nettype, addrtype, address = self.fields(value, 3, "c=<nettype> <addrtype> <address>")
        self.token(nettype, "nettype")
        self.token(addrtype, "addrtype")
        return Connection(nettype, addrtype, self.address(addrtype, address, unicast=False))

    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
    ##% SDP parsers MUST ignore bandwidth-fields with unknown <bwtype> names.
    # (Any token is kept as written; nothing here acts on a bandwidth.)
    def bandwidth(self, value: str) -> Bandwidth:
        bwtype, colon, amount = value.partition(":")
        if not colon:
            raise self.fail("b= must be <bwtype>:<bandwidth>")
        return Bandwidth(self.token(bwtype, "bwtype"), self.integer(amount, "bandwidth"))

    def attribute(self, value: str) -> Attribute:
        name, colon, rest = value.partition(":")
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
        ##% Attribute names MUST use the US-ASCII subset of ISO-10646/UTF-8.
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
        ##% If an attribute is received that is not understood, it MUST be ignored by
        ##% the receiver.
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5
        ##% An
        ##% SDP parser MUST ignore any attribute it doesn't understand.
        # (Every attribute is kept as written; only the helpers interpret the known ones.)
        self.token(name, "an attribute name")
        return Attribute(name, rest if colon else None)

    def key(self, value: str) -> str:
        method, colon, rest = value.partition(":")
        if value == "prompt" or (colon and method in ("clear", "uri") and rest):
            return value
        if colon and method == "base64" and _BASE64.match(rest):
            return value
        raise self.fail("k= must be prompt, clear:, base64: or uri: (§5.12)")

    def media_line(self, value: str) -> Media:
        parts = self.fields(value, 4, "m=<media> <port> <proto> <fmt> ...", at_least=True)
        kind, port_text, proto, formats = parts[0], parts[1], parts[2], parts[3:]
        self.token(kind, "the media type")
        port_text, slash, count_text = port_text.partition("/")
        port = self.integer(port_text, "the port", 65535)
        count = self.integer(count_text, "the number of ports", 65535) if slash else None
        if count is not None and count < 1:
            raise self.fail("the number of ports must be at least 1")
        if not all(_TOKEN.match(p) for p in proto.split("/")):
            raise self.fail(f"proto must be tokens separated by '/', got {proto!r}")
        for fmt in formats:
            self.token(fmt, "a format")
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
        ##% When a list of payload type numbers is given, this implies that all
        ##% of these payload formats MAY be used in the session, and these
        ##% payload formats are listed in order of preference, with the first
        ##% format listed being preferred.
        if proto.startswith("RTP/"):
            for fmt in formats:
                self.integer(fmt, "an RTP payload type", 127)
        return Media(kind, port, count, proto, formats)

    # -- order ------------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
    ##% There MUST be one and only one "s=" line per session description.
    # (Like v=, o= and t=: missing before a later line, or repeated, is an error here.)
    def order(self, kind: str, ranks: dict[str, int], where: str) -> None:
        rank = ranks.get(kind)
        if rank is None:
            raise self.fail(f"a {kind}= line may not appear {where}")
        key = kind if self.media is None else f"m{kind}"
        if self.media is None:
            for mandatory in ("v", "o", "s", "t"):
                if rank > ranks[mandatory] and mandatory not in self.seen:
                    raise self.fail(f"the mandatory {mandatory}= line is missing before it (§5)")
        repeatable = kind in ("e", "p", "b", "a", "t", "r", "z") or (
            self.media is not None and kind == "c"
        )
        if rank < self.rank or (key in self.seen and not repeatable):
            raise self.fail(f"{kind}= is out of order or repeated {where} (§5 order)")
        self.rank = rank
        self.seen.add(key)

    def line(self, kind: str, value: str) -> None:
        sd = self.sd
        if kind == "m":
            if self.rank < _SESSION_ORDER["t"] and self.media is None:
                raise self.fail("a description needs a t= line before its first m= (§5)")
            if len(sd.media) >= self.limits.max_media:
                raise self.fail(f"more than {self.limits.max_media} media descriptions")
            self.media = self.media_line(value)
            sd.media.append(self.media)
            self.media_lines.append(self.number)
            self.rank = 0
            self.seen = {k for k in self.seen if not k.startswith("m")} | {"mm"}
            return
        if self.media is not None:
            self.media_level(self.media, kind, value)
            return
        self.order(kind, _SESSION_ORDER, "at session level")
        if kind == "v":
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.1
            ##% The "v=" line (version-field) gives the version of the Session
            ##% Description Protocol.  This memo defines version 0.  There is no
            ##% minor version number.
            if value != "0":
                raise self.fail(f"only version 0 is defined, got {value!r}")
            sd.version = 0
        elif kind == "o":
            parts = self.fields(
                value,
                6,
                "o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>",
            )
            username, sess_id, version, nettype, addrtype, address = parts
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.2
            ##% The <username> MUST NOT contain spaces.
            if not _NON_WS.match(username):
                raise self.fail(f"bad username {username!r}")
            self.integer(sess_id, "sess-id")
            sd.origin = Origin(
                username,
                sess_id,
                self.integer(version, "sess-version"),
                self.token(nettype, "nettype"),
                self.token(addrtype, "addrtype"),
                self.address(addrtype, address, unicast=True),
            )
        elif kind == "s":
            # (Written "s=" in RFC 4317's examples and by several stacks: accepted,
            # never written by this UA, whose session name is "-".)
            sd.session_name = value
        elif kind == "i":
            sd.information = self.text(value)
        elif kind == "u":
            if not _NON_WS.match(value):
                raise self.fail("u= must be a URI without spaces")
            sd.uri = value
        elif kind == "e":
            sd.emails.append(self.text(value))
        elif kind == "p":
            sd.phones.append(self.text(value))
        elif kind == "c":
            sd.connection = self.connection(value)
        elif kind == "b":
            sd.bandwidths.append(self.bandwidth(value))
        elif kind in ("t", "r", "z"):
            self.timing(kind, value)
        elif kind == "k":
            sd.key = self.key(value)
        else:  # "a"
            sd.attributes.append(self.attribute(value))

    def text(self, value: str) -> str:
        if not value:
            raise self.fail("the text must not be empty")
        return value

    def timing(self, kind: str, value: str) -> None:
        times = self.sd.times
        if kind == "t":
            start, stop = self.fields(value, 2, "t=<start-time> <stop-time>")
            for what, text in (("start-time", start), ("stop-time", stop)):
                if not _TIME.match(text):
                    raise self.fail(f"{what} must be 0 or a 10-digit NTP time, got {text!r}")
            times.append(Timing(int(start), int(stop)))
            return
        if not times:
            raise self.fail(f"{kind}= must follow a t= line (§5.{10 if kind == 'r' else 11})")
        timing = times[-1]
        if kind == "r":
            if timing.zone is not None:
                raise self.fail("r= must come before z= (§9 time-description)")
            parts = self.fields(value, 3, "r=<interval> <duration> <offsets>", at_least=True)
            if not _REPEAT_INTERVAL.match(parts[0]) or not all(
                _TYPED_TIME.match(p) for p in parts[1:]
            ):
                raise self.fail("r= times must be numbers with an optional d/h/m/s unit")
            timing.repeats.append(value)
        else:
            if timing.zone is not None:
                raise self.fail("only one z= line per time description (§5.11)")
            parts = self.fields(value, 2, "z=<adjustment time> <offset> ...", at_least=True)
            if len(parts) % 2:
                raise self.fail("z= needs pairs of <adjustment time> <offset>")
            for time_text, offset in zip(parts[::2], parts[1::2], strict=True):
                if not _DIGITS.match(time_text) or not _TYPED_TIME.match(offset.lstrip("-")):
                    raise self.fail("z= times must be numbers, offsets signed typed times")
            timing.zone = value

    def media_level(self, media: Media, kind: str, value: str) -> None:
        self.order(kind, _MEDIA_ORDER, "in a media description")
        if kind == "i":
            media.title = self.text(value)
        elif kind == "c":
            media.connections.append(self.connection(value))
        elif kind == "b":
            media.bandwidths.append(self.bandwidth(value))
        elif kind == "k":
            media.key = self.key(value)
        else:  # "a"
            media.attributes.append(self.attribute(value))

    def finish(self) -> SessionDescription:
        sd = self.sd
        self.kind = ""
        for kind, what in (("v", "v="), ("o", "o="), ("s", "s=")):
            if kind not in self.seen:
                raise SDPError(self.number, kind, f"the mandatory {what} line is missing (§5)")
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.9
        ##% A "t=" line (time-field) begins a time description that specifies
        ##% the start and stop times for a session.
        if not sd.times:
            raise SDPError(self.number, "t", "the mandatory t= line is missing (§5)")
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
        ##% A session description MUST contain either at least one "c=" line in
        ##% each media description or a single "c=" line at the session level.
        if sd.connection is None:
            for index, media in enumerate(sd.media, 1):
                if not media.connections:
                    raise SDPError(
                        self.media_lines[index - 1],
                        "m",
                        f"media description {index} has no c= line and the "
                        "session has none (§5.7)",
                    )
        ##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
        ##% At most one occurrence of "a=recvonly", "a=sendrecv", "a=sendonly",
        ##% or "a=inactive" MAY appear at session level, and at most one MAY
        ##% appear in each media description.
        levels: list[tuple[str, _Attributes]] = [("the session", sd)]
        levels += [(f"media description {i}", m) for i, m in enumerate(sd.media, 1)]
        for where, level in levels:
            directions = [a for a in level.attributes if a.name in DIRECTIONS]
            if len(directions) > 1:
                raise SDPError(
                    self.number, "a", f"{where} has more than one direction attribute (§6.7)"
                )
        return sd


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##% An SDP description MUST conform to the syntax defined in Section 9.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##% The set of type letters is deliberately small and not intended to be
##% extensible -- an SDP parser MUST completely ignore or reject any
##% session description that contains a type letter that it does not
##% understand.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##% The sequence CRLF (0x0d0a) is used to end a line,
##% although parsers SHOULD be tolerant and also accept lines terminated
##% with a single newline character.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##% If the "a=charset:" attribute is
##% not present, these octet strings MUST be interpreted as containing
##% ISO-10646 characters in UTF-8 encoding.
def parse(data: bytes | str, limits: Limits = DEFAULT_LIMITS) -> SessionDescription:
    """Parse a session description; :class:`SDPError` names the line and rule broken."""
    if isinstance(data, bytes):
        if len(data) > limits.max_bytes:
            raise SDPError(0, "", f"the description is longer than {limits.max_bytes} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise SDPError(line, "", "not UTF-8 (and no a=charset is supported)") from None
    else:
        text = data
        if len(text) > limits.max_bytes:
            raise SDPError(0, "", f"the description is longer than {limits.max_bytes} bytes")
    if not text:
        raise SDPError(0, "", "the description is empty")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # (a last line without its end of line is accepted too)
    if len(lines) > limits.max_lines:
        raise SDPError(0, "", f"more than {limits.max_lines} lines")
    parser = _Parser(limits)
    for number, raw in enumerate(lines, 1):
        parser.number = number
        line = raw[:-1] if raw.endswith("\r") else raw
        parser.kind = line[:1] if len(line) > 1 and line[1] == "=" else ""
        if len(line) > limits.max_line_length:
            raise parser.fail(f"the line is longer than {limits.max_line_length} characters")
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise parser.fail("not a <type>=<value> line")
        if "\r" in line or "\x00" in line:
            raise parser.fail("a value may not contain CR or NUL")
        kind, value = line[0], line[2:]
        if number == 1 and kind != "v":
            raise parser.fail("a description starts with v= (§5)")
        if kind not in "vosiuepcbtrzkam":
            raise parser.fail(f"unknown line type {kind!r} (§5: the set of types is fixed)")
        parser.line(kind, value)
    return parser.finish()


# -- serializing -------------------------------------------------------------------------


def serialize(sd: SessionDescription) -> bytes:
    """The description as bytes, lines in the order of §5, each ended by CRLF."""
    o = sd.origin
    lines = [
        f"v={sd.version}",
        f"o={o.username} {o.sess_id} {o.sess_version} {o.nettype} {o.addrtype} "
        f"{o.unicast_address}",
        f"s={sd.session_name}",
    ]
    if sd.information is not None:
        lines.append(f"i={sd.information}")
    if sd.uri is not None:
        lines.append(f"u={sd.uri}")
    lines += [f"e={e}" for e in sd.emails] + [f"p={p}" for p in sd.phones]
    if sd.connection is not None:
        lines.append(_connection(sd.connection))
    lines += [f"b={b.bwtype}:{b.bandwidth}" for b in sd.bandwidths]
    for timing in sd.times:
        lines.append(f"t={timing.start} {timing.stop}")
        lines += [f"r={r}" for r in timing.repeats]
        if timing.zone is not None:
            lines.append(f"z={timing.zone}")
    if sd.key is not None:
        lines.append(f"k={sd.key}")
    lines += [f"a={a}" for a in sd.attributes]
    for m in sd.media:
        port = str(m.port) if m.port_count is None else f"{m.port}/{m.port_count}"
        lines.append(f"m={m.media} {port} {m.proto} {' '.join(m.formats)}")
        if m.title is not None:
            lines.append(f"i={m.title}")
        lines += [_connection(c) for c in m.connections]
        lines += [f"b={b.bwtype}:{b.bandwidth}" for b in m.bandwidths]
        if m.key is not None:
            lines.append(f"k={m.key}")
        lines += [f"a={a}" for a in m.attributes]
    return ("\r\n".join(lines) + "\r\n").encode()


def _connection(c: Connection) -> str:
    return f"c={c.nettype} {c.addrtype} {c.address}"


def with_version(sd: SessionDescription, version: int) -> SessionDescription:
    """``sd`` with another o= sess-version (RFC 3264 §8 counts them)."""
    return replace(sd, origin=replace(sd.origin, sess_version=version))

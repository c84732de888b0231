"""Hypothesis strategies that build SIP messages from the RFC 3261 §25 grammar.

``sip_messages()`` draws a ``Built``: the wire bytes of a request or response and the
values a parser must read from them (method, Call-ID, CSeq, Via hosts, body...).  The
wire form varies what the grammar lets vary: header name case and compact forms,
whitespace around the colon, folded lines, list headers as rows or comma lists,
quoted or token display names, unknown headers and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from hypothesis import strategies as st

ALPHANUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = ALPHANUM + "-.!%*_+`'~"
# word adds "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}"
WORD_CHARS = TOKEN_CHARS + '()<>:\\"/[]?{}'
# unreserved and user-unreserved characters for the user part of a SIP URI
USER_CHARS = ALPHANUM + "-_.!~*'()&=+$,;?/"

COMPACT = {
    "Via": "v",
    "From": "f",
    "To": "t",
    "Call-ID": "i",
    "Contact": "m",
    "Content-Length": "l",
    "Content-Type": "c",
    "Subject": "s",
    "Supported": "k",
}
METHODS = ["INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", "MESSAGE", "NOTIFY"]


# Strategy objects are built once and reused: hypothesis validates each new one.
@cache
def text(chars: str, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(chars, min_size=min_size, max_size=max_size)


@cache
def ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@cache
def one_of(*choices: object) -> st.SearchStrategy[object]:
    return st.sampled_from(choices)


@cache
def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), strategy)


@cache
def lists(strategy: st.SearchStrategy[object], min_size: int, max_size: int, unique: bool = False):
    return st.lists(strategy, min_size=min_size, max_size=max_size, unique=unique)


@cache
def tokens(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(TOKEN_CHARS, min_size=min_size, max_size=max_size)


@cache
def words(max_size: int = 16) -> st.SearchStrategy[str]:
    return st.text(WORD_CHARS, min_size=1, max_size=max_size)


@st.composite
def hostnames(draw: st.DrawFn) -> str:
    labels = draw(lists(text("abcdefghij0123456789", 1, 8), 0, 3))
    top = draw(text("abcdefghijklmnopqrstuvwxyz", 1, 6))
    return ".".join([*labels, top])


@st.composite
def hosts(draw: st.DrawFn) -> str:
    kind = draw(one_of("name", "ipv4", "ipv6"))
    if kind == "name":
        return draw(hostnames())
    if kind == "ipv4":
        return ".".join(str(draw(ints(0, 255))) for _ in range(4))
    groups = draw(lists(ints(0, 0xFFFF), 8, 8))
    return "[" + ":".join(f"{g:x}" for g in groups) + "]"


# uri-parameter values are paramchar (unreserved, escaped, param-unreserved); header
# parameter values are tokens.
URI_PARAM_CHARS = ALPHANUM + "-_.!~*'()[]/:&+$"


@st.composite
def params(draw: st.DrawFn, exclude: tuple[str, ...] = (), uri: bool = False) -> str:
    """``;name[=value]`` pairs with distinct unknown names (§7.3.1: no repeats)."""
    names = draw(lists(text("xyz", 1, 4), 0, 3, unique=True))
    out = []
    for name in names:
        name = f"x-{name}"
        if name in exclude:
            continue
        chars = URI_PARAM_CHARS if uri else TOKEN_CHARS
        value = draw(maybe(text(chars, 1, 8)))
        out.append(f";{name}" if value is None else f";{name}={value}")
    return "".join(out)


@st.composite
def sip_uris(draw: st.DrawFn) -> str:
    scheme = draw(one_of("sip", "sips"))
    user = draw(maybe(text(ALPHANUM + "-_.!~*'", 1, 10)))
    port = draw(maybe(ints(1, 65535)))
    uri = f"{scheme}:"
    if user is not None:
        uri += f"{user}@"
    uri += draw(hosts())
    if port is not None:
        uri += f":{port}"
    return uri + draw(params(uri=True))


@st.composite
def display_names(draw: st.DrawFn) -> str | None:
    kind = draw(one_of("none", "token", "quoted"))
    if kind == "none":
        return None
    if kind == "token":
        return " ".join(draw(lists(tokens(max_size=8), 1, 3)))
    quoted = draw(text(ALPHANUM + " ,;:<>@'()", 0, 12))
    return f'"{quoted}"'


@st.composite
def name_addrs(draw: st.DrawFn, tag: str | None = None) -> str:
    display = draw(display_names())
    uri = draw(sip_uris())
    value = f"<{uri}>" if display is None else f"{display} <{uri}>"
    if tag is not None:
        value += f";tag={tag}"
    return value + draw(params(exclude=("tag",)))


@st.composite
def vias(draw: st.DrawFn) -> tuple[str, str]:
    """(via-parm text, sent-by host)."""
    transport = draw(one_of("UDP", "TCP", "TLS", "SCTP", "WS"))
    host = draw(hosts())
    port = draw(maybe(ints(1, 65535)))
    branch = "z9hG4bK" + draw(tokens(max_size=10))
    sent_by = host if port is None else f"{host}:{port}"
    return f"SIP/2.0/{transport} {sent_by};branch={branch}" + draw(params()), host


VIAS = vias()


@dataclass
class Built:
    """A message drawn from the grammar and the values it must parse to."""

    wire: bytes
    is_request: bool
    method: str
    status: int | None
    call_id: str
    cseq: int
    via_hosts: list[str]
    from_tag: str
    body: bytes
    unknown: dict[str, str] = field(default_factory=dict)


@st.composite
def header_lines(draw: st.DrawFn, name: str, value: str) -> str:
    """One header field as a wire line: name spelling, colon spacing, maybe folded."""
    spellings = [name, name.lower(), name.upper()]
    if name in COMPACT:
        spellings += [COMPACT[name], COMPACT[name].upper()]
    written = draw(one_of(*spellings))
    before = draw(one_of("", "", " ", "\t", "  "))
    after = draw(one_of(" ", " ", "", "  ", "\t"))
    if " " in value and draw(st.booleans()):
        first, rest = value.split(" ", 1)
        fold = draw(one_of("\r\n ", "\r\n\t", "\r\n   "))
        value = f"{first}{fold}{rest}"
    return f"{written}{before}:{after}{value}"


METHOD = st.one_of(st.sampled_from(METHODS), tokens(max_size=10).map(str.upper))


@st.composite
def sip_messages(draw: st.DrawFn) -> Built:
    is_request = draw(st.booleans())
    method = draw(METHOD)
    status = None if is_request else draw(ints(100, 699))
    call_id = draw(words()) + ("@" + draw(words(8)) if draw(st.booleans()) else "")
    cseq = draw(ints(0, 2**31 - 1))
    via_list = draw(lists(VIAS, 1, 4))
    from_tag = draw(tokens(max_size=10))
    body = draw(st.binary(max_size=64))

    fields: list[tuple[str, str]] = []
    if draw(st.booleans()):
        fields.append(("Via", ", ".join(text for text, _ in via_list)))
    else:
        fields.extend(("Via", text) for text, _ in via_list)
    fields.append(("From", draw(name_addrs(tag=from_tag))))
    fields.append(("To", draw(name_addrs())))
    fields.append(("Call-ID", call_id))
    fields.append(("CSeq", f"{cseq} {method}"))
    if is_request:
        fields.append(("Max-Forwards", str(draw(ints(0, 255)))))
    unknown: dict[str, str] = {}
    for index in range(draw(ints(0, 3))):
        name = f"X-Ext{index}-" + draw(tokens(max_size=6))
        value = draw(text(TOKEN_CHARS + ' ;,=:/<>@"', 1, 20)).strip()
        if value:
            unknown[name] = value
            fields.append((name, value))
    if draw(st.booleans()):
        fields.append(("Subject", draw(text(ALPHANUM + " ", 0, 20)).strip()))
    order = draw(st.permutations(range(len(fields))))
    # Via rows keep their relative order (§7.3.1); the rest may move.
    via_rows = [f for f in fields if f[0] == "Via"]
    others = [fields[i] for i in order if fields[i][0] != "Via"]
    arranged = via_rows + others if draw(st.booleans()) else others + via_rows
    arranged.append(("Content-Length", str(len(body))))

    if is_request:
        start = f"{method} {draw(sip_uris())} SIP/2.0"
    else:
        reason = draw(text(ALPHANUM + " -'", 0, 20))
        start = f"SIP/2.0 {status} {reason}"
    lines = [start] + [draw(header_lines(name, value)) for name, value in arranged]
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return Built(
        wire=wire,
        is_request=is_request,
        method=method,
        status=status,
        call_id=call_id,
        cseq=cseq,
        via_hosts=[host for _, host in via_list],
        from_tag=from_tag,
        body=body,
        unknown=unknown,
    )


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A valid message with a few bytes inserted, deleted or replaced."""
    data = bytearray(draw(sip_messages()).wire)
    for _ in range(draw(ints(1, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(one_of("insert", "delete", "replace"))
        byte = draw(one_of(0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 92, 0xFF, 0xC3))
        if action == "insert":
            data.insert(position, byte)
        elif action == "delete":
            del data[position]
        else:
            data[position] = byte
    return bytes(data)

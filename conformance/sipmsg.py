"""A lenient reader and a small builder of SIP messages, independent of the stack under test.

The conformance runner judges other implementations, so it does not lean on `rfc3261`'s
strict parser: what comes back from a target is read as leniently as possible (start line,
header fields with compact forms and folding, body bounded by Content-Length), and
anything that cannot be read at all is kept as raw bytes and reported as garbage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["COMPACT", "Message", "StreamBuffer", "param", "parse_message", "uri_host_port"]

#: Compact header forms (RFC 3261 §7.3.3, RFC 3841, RFC 3515, RFC 4028...), lower case.
COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "e": "content-encoding",
    "k": "supported",
    "s": "subject",
    "o": "event",
    "r": "refer-to",
    "u": "allow-events",
    "x": "session-expires",  # RFC 4028 §4
}
_LIST_HEADERS = {
    "via",
    "contact",
    "route",
    "record-route",
    "allow",
    "supported",
    "require",
    "proxy-require",
    "unsupported",
    "accept",
    "accept-encoding",
    "accept-language",
    "content-encoding",
    "warning",
}
_STATUS = re.compile(r"SIP/(\d+\.\d+) (\d{3}) ?(.*)", re.S)
_REQUEST = re.compile(r"(\S+) (\S+) SIP/(\d+\.\d+)")


def _key(name: str) -> str:
    name = name.strip().lower()
    return COMPACT.get(name, name)


def _split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets."""
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
        elif not quoted and not depth and ch == ",":
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def param(value: str, name: str) -> str | None:
    """The value of ``;name=value`` in a header value (outside <...>), '' when valueless."""
    depth, cut = 0, 0
    for i, ch in enumerate(value):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
            cut = i + 1
    tail = value[cut:] if cut else value
    for piece in tail.split(";")[1:]:
        key, _, val = piece.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


def uri_host_port(uri: str) -> tuple[str, int | None]:
    """Host and port of a sip:/sips: URI (lenient)."""
    uri = uri.strip().strip("<>")
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    hostport = rest.rsplit("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    if hostport.startswith("["):
        host, _, tail = hostport.partition("]")
        port = tail[1:] if tail.startswith(":") else ""
        return host + "]", int(port) if port.isdigit() else None
    host, _, port = hostport.partition(":")
    return host, int(port) if port.isdigit() else None


@dataclass
class Message:
    """One SIP message as read off the wire, leniently."""

    raw: bytes
    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    status: int | None = None
    reason: str = ""
    method: str | None = None
    uri: str = ""

    @property
    def is_response(self) -> bool:
        return self.status is not None

    def get(self, name: str) -> str | None:
        """The first value of a header field (compact forms understood)."""
        key = _key(name)
        for written, value in self.headers:
            if _key(written) == key:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of a header field; list headers are split at top-level commas."""
        key = _key(name)
        values = [v for n, v in self.headers if _key(n) == key]
        if key in _LIST_HEADERS:
            return [item for v in values for item in _split_commas(v)]
        return values

    def count(self, name: str) -> int:
        key = _key(name)
        return sum(1 for n, _ in self.headers if _key(n) == key)

    @property
    def top_via(self) -> str:
        vias = self.get_all("via")
        return vias[0] if vias else ""

    @property
    def branch(self) -> str | None:
        return param(self.top_via, "branch")

    @property
    def to_tag(self) -> str | None:
        return param(self.get("to") or "", "tag")

    @property
    def call_id(self) -> str:
        return (self.get("call-id") or "").strip()

    @property
    def cseq(self) -> tuple[int | None, str]:
        number, _, method = (self.get("cseq") or "").strip().partition(" ")
        return (int(number) if number.isdigit() else None, method.strip())

    def option_tags(self, name: str) -> list[str]:
        return [t.strip().lower() for t in self.get_all(name) if t.strip()]

    def describe(self) -> str:
        return self.start_line if self.start_line else repr(self.raw[:60])


def parse_message(data: bytes) -> Message | None:
    """Read one datagram or framed message; None when not even a start line is there."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = data.partition(b"\n\n")
    text = head.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    start = lines[0]
    msg = Message(raw=data, start_line=start)
    if m := _STATUS.fullmatch(start):
        msg.status = int(m[2])
        msg.reason = m[3]
    elif m := _REQUEST.fullmatch(start):
        msg.method, msg.uri = m[1], m[2]
    else:
        return None
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and msg.headers:
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if colon:
            msg.headers.append((name.strip(), value.strip()))
    length = msg.get("content-length")
    if length is not None and length.strip().isdigit():
        msg.body = rest[: int(length.strip())]
    else:
        msg.body = rest
    return msg


class StreamBuffer:
    """Frames messages out of a byte stream (RFC 3261 §18.3), bounded in size."""

    def __init__(self, max_header: int = 65536, max_body: int = 1 << 20) -> None:
        self.buffer = b""
        self.max_header = max_header
        self.max_body = max_body
        self.broken = False

    def feed(self, data: bytes) -> list[bytes]:
        """Complete messages framed so far; sets ``broken`` on an unframeable stream."""
        self.buffer += data
        out = []
        while not self.broken:
            self.buffer = self.buffer.lstrip(b"\r\n")
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > self.max_header:
                    self.broken = True
                break
            head = self.buffer[:end].decode("utf-8", "replace")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if _key(name) == "content-length":
                    value = value.strip()
                    if not value.isdigit():
                        self.broken = True
                        break
                    length = int(value)
            if self.broken or length > self.max_body:
                self.broken = True
                break
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            out.append(self.buffer[:total])
            self.buffer = self.buffer[total:]
        return out

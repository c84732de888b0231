"""A naive split-on-delimiters SIP parser: the floor any real parser is compared with.

It validates nothing and knows no grammar (no folding, no compact forms, no quoting rules);
it only works on well-behaved messages such as the benchmark's.  Not for use elsewhere.
"""

from __future__ import annotations


class NaiveMessage:
    """Start line, headers as {lower-case name: [raw values]}, and body."""

    __slots__ = ("body", "headers", "start_line")

    def __init__(self, start_line: str, headers: dict[str, list[str]], body: bytes) -> None:
        self.start_line, self.headers, self.body = start_line, headers, body


def parse(data: bytes) -> NaiveMessage:
    """Split the head at CRLF and ': ', the body at the blank line."""
    head, _, body = data.partition(b"\r\n\r\n")
    start_line, *lines = head.decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return NaiveMessage(start_line, headers, body)


def param(value: str, name: str) -> str | None:
    """The value of ';name=' in a header value (no quoting rules)."""
    for part in value.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip() == name:
            return val.strip()
    return None


def uri_host(value: str) -> str:
    """The host of the first URI in a header value such as '<sip:user@host:port;p>'."""
    uri = value.partition("<")[2].partition(">")[0] or value
    return uri.partition(":")[2].rpartition("@")[2].partition(";")[0].partition(":")[0]


def serialize(message: NaiveMessage) -> bytes:
    """Join the parts back (header order is kept per name, names in first-seen order)."""
    lines = [message.start_line]
    for name, values in message.headers.items():
        lines.extend(f"{name}: {value}" for value in values)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + message.body

"""Requests the runner sends: built from scratch, or torture messages rewritten to loopback.

Built requests follow RFC 3261 §8.1.1 (Request-URI, To, From with tag, Call-ID, CSeq,
Max-Forwards, Via with a magic-cookie branch and ``rport``, Contact).  Torture messages
(RFC 4475, RFC 5118) are sent nearly as archived, with every address that could make the
target send anything off the machine rewritten to loopback, and their Call-ID and branch
made unique so that repeated runs never look like retransmissions.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field

from conformance.sipmsg import Message, uri_host_port
from conformance.target import Target

__all__ = [
    "Outgoing",
    "ack_for",
    "addresses_left",
    "aor_of",
    "bye_for",
    "loopback_like",
    "make_request",
    "rewrite_torture",
    "unique",
]

_counter = itertools.count(1)
_RUN = secrets.token_hex(3)


def unique(prefix: str = "") -> str:
    """A token unique within this run and across runs."""
    return f"{prefix}{_RUN}{next(_counter):05d}{secrets.token_hex(2)}"


@dataclass
class Outgoing:
    """A request being built: start line, ordered header fields, body."""

    method: str
    uri: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def set(self, name: str, value: str | None) -> Outgoing:
        """Replace (or with None remove) every field of that name; keeps the first's place."""
        found = [i for i, (n, _) in enumerate(self.headers) if n.lower() == name.lower()]
        if value is None:
            self.headers = [h for h in self.headers if h[0].lower() != name.lower()]
        elif found:
            self.headers[found[0]] = (name, value)
            for i in reversed(found[1:]):
                del self.headers[i]
        else:
            self.headers.insert(len(self.headers), (name, value))
        return self

    def add(self, name: str, value: str) -> Outgoing:
        self.headers.append((name, value))
        return self

    @property
    def branch(self) -> str:
        via = self.get("Via") or ""
        m = re.search(r";branch=([^;,\s]+)", via)
        return m[1] if m else ""

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq_number(self) -> int:
        return int((self.get("CSeq") or "0").split()[0])

    def __bytes__(self) -> bytes:
        lines = [f"{self.method} {self.uri} SIP/2.0"]
        lines += [f"{n}: {v}" for n, v in self.headers if n.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def make_request(
    method: str,
    target: Target,
    sent_by: str,
    *,
    user: str = "conformance",
    uri: str | None = None,
    cseq: int = 1,
    call_id: str | None = None,
    from_tag: str | None = None,
    to: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> Outgoing:
    """A well-formed request straight to the target (RFC 3261 §8.1.1)."""
    uri = uri or target.uri(user)
    req = Outgoing(method, uri)
    req.add("Via", f"SIP/2.0/{target.via_transport} {sent_by};branch={unique('z9hG4bK')};rport")
    req.add("Max-Forwards", "70")
    # RFC 3261 §19.1.1 Table 1: no port and no transport parameter in To and From URIs
    runner_host = sent_by.rsplit(":", 1)[0]
    req.add("From", f"<sip:tester@{runner_host}>;tag={from_tag or unique('t')}")
    req.add("To", to or f"<{aor_of(uri)}>")
    req.add("Call-ID", call_id or unique("c") + "@conformance.invalid")
    req.add("CSeq", f"{cseq} {method}")
    if method in ("INVITE", "SUBSCRIBE", "REFER", "REGISTER"):
        req.add("Contact", f"<sip:tester@{sent_by}{_transport_param(target)}>")
    for name, value in extra or []:
        req.add(name, value)
    if body:
        req.add("Content-Type", content_type or "application/sdp")
        req.body = body
    return req


_SIP_URI = re.compile(
    r"(?P<head>sips?:(?:[^@>]*@)?)(?P<host>\[[^\]]*\]|[^:;?>]+)(?::\d+)?[^?>]*", re.I
)


def aor_of(uri: str) -> str:
    """``uri`` as a To or From URI: a sip:/sips: URI without port and URI parameters (RFC 3261
    §19.1.1 Table 1 allows neither a port nor maddr, ttl, transport or lr there); other
    schemes unchanged."""
    m = _SIP_URI.fullmatch(uri.strip())
    if m is None:
        return uri
    return m["head"] + m["host"]


def _transport_param(target: Target) -> str:
    return "" if target.transport == "udp" else f";transport={target.transport}"


def ack_for(request: Outgoing, response: Message, target: Target) -> Outgoing:
    """The ACK for a final response to ``request`` (§17.1.1.3 for non-2xx, §13.2.2.4 for 2xx)."""
    status = response.status or 0
    to = response.get("To") or request.get("To") or ""
    if status >= 300:
        ack = Outgoing("ACK", request.uri)
        ack.add("Via", request.get("Via") or "")
    else:
        contact = response.get_all("Contact")
        uri = request.uri
        if contact:
            candidate = contact[0].split("<", 1)[-1].split(">", 1)[0].strip()
            host, _ = uri_host_port(candidate)
            if host.strip("[]") in (target.address[0], "localhost"):
                uri = candidate
        ack = Outgoing("ACK", uri)
        via = re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", request.get("Via") or "")
        ack.add("Via", via)
        routes = list(reversed(response.get_all("Record-Route")))
        if routes:
            ack.add("Route", ", ".join(routes))
    ack.add("Max-Forwards", "70")
    ack.add("From", request.get("From") or "")
    ack.add("To", to)
    ack.add("Call-ID", request.call_id)
    ack.add("CSeq", f"{request.cseq_number} ACK")
    return ack


def bye_for(request: Outgoing, response: Message, target: Target) -> Outgoing:
    """A BYE ending the dialog a 2xx to ``request`` established (§15.1.1)."""
    bye = ack_for(request, response, target)
    bye.method = "BYE"
    bye.set("Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", bye.get("Via") or ""))
    bye.set("CSeq", f"{request.cseq_number + 1} BYE")
    return bye


# --- torture messages -------------------------------------------------------------------------

_IPV4 = re.compile(
    r"(?<![\w.])(?<![0-9A-Fa-f:]:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.])"
)
_IPV6 = re.compile(
    r"(?:(?<![\w.:])|(?<=sip:)|(?<=sips:))(?=[0-9A-Fa-f:.]*::|(?:[0-9A-Fa-f]{1,4}:){3})"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:.])"
)
_HOSTNAME = re.compile(
    r"(?<![\w.-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|edu|example)(?![\w-])",
    re.I,
)
_LOOP4 = ["127.0.0.1", "127.0.0.10", "127.0.0.100", "127.0.10.100", "127.0.100.100"]
_LOOP4 += ["127.10.100.100", "127.100.100.100"]


def loopback_like(text: str) -> str:
    """A loopback address written in exactly ``len(text)`` characters (bodies keep length)."""
    n = len(text)
    if ":" not in text:
        return _LOOP4[n - 9] if 9 <= n <= 15 else ("127.1" + "0" * (n - 5))[:n]
    for k in range(7):
        for z in range(4):
            candidate = "0:" * k + ":" + "0" * z + "1"
            if len(candidate) == n:
                return candidate
    return ("0:" * 6 + "::1").rjust(n, "0")[-n:] if n < 15 else "0:0:0:0:0:0:0:1".rjust(n, "0")


def _loop_ipv6(m: re.Match[str]) -> str:
    """The same IPv6 text with every group zeroed but the last (1) and ffff kept, and
    embedded IPv4 made loopback: defects such as a third colon (RFC 5118 §4.10) stay."""
    text = m[0]
    tail = ""
    if "." in text:
        # ::0.0.0.1 is ::1; a mapped address (::ffff:a.b.c.d) gets 127.0.0.1
        mapped = "ffff" in text.lower()
        text, tail = text[: text.rfind(":") + 1], "127.0.0.1" if mapped else "0.0.0.1"
    groups = text.split(":")
    if not tail:
        last = max(i for i, g in enumerate(groups) if g) if any(groups) else len(groups) - 1
        groups = ["0" if g and g.lower() != "ffff" else g for g in groups]
        groups[last] = "1"
    else:
        groups = ["0" if g and g.lower() != "ffff" else g for g in groups]
    return ":".join(groups) + tail


def _loop_ipv4(m: re.Match[str]) -> str:
    return m[0] if m[1] == "127" else "127.0.0.1"


def rewrite_torture(
    data: bytes,
    target: Target,
    sent_by: str,
    fix_content_length: bool = False,
    request_host: str | None = None,
    user: str | None = None,
) -> bytes:
    """A torture message made safe to send to ``target`` from ``sent_by``.

    Header section: non-loopback IPv4/IPv6 literals and example.* host names become
    loopback; the Request-URI's host becomes the target; the top Via's transport and sent-by
    become the runner's; Contact and Record-Route point at the runner, Route at the target;
    Call-ID and branch get a unique prefix/suffix.  Folded header fields are rewritten as a
    whole, folding kept.  The body keeps its exact length (its addresses and host names are
    replaced by loopback ones of the same width) so that Content-Length defects stay as they
    are.  RFC 5118's LF-only files get CRLF line ends, and with ``fix_content_length`` their
    Content-Length is set to the body's length (three of them miscount it, RFC 5118 §4.6,
    §4.8, §4.9, yet the RFC calls them valid).  A ``received`` parameter in the top Via is
    pointed at the runner (the target would send its response there).  ``request_host``
    replaces the target as the Request-URI's host (a proxy then forwards to the runner).
    ``user`` replaces the user part of the Request-URI and of the To URI of a request (where
    they have one), so that the message reaches a user the target serves.
    """
    if b"\r" not in data:
        data = data.replace(b"\n", b"\r\n")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        # archived without the empty line that ends the headers (baddn.dat, RFC 5118 §4.10)
        head, sep, body = data.rstrip(b"\r\n"), b"\r\n\r\n", b""
    fields: list[str] = []
    for line in head.decode("latin-1").split("\r\n"):
        if fields and line[:1] in (" ", "\t"):
            fields[-1] += "\r\n" + line
        else:
            fields.append(line)
    uniq = unique()
    fields = [
        _HOSTNAME.sub("127.0.0.1", _IPV4.sub(_loop_ipv4, _IPV6.sub(_loop_ipv6, f))) for f in fields
    ]
    fields[0] = re.sub(
        r"^(\S+\s+<?sips?:(?:[^@\s>]*@)?)(\[[^\]]*\]|[A-Za-z0-9.\-]+)(:\d+)?(?=[;>?\s])",
        lambda m: m[1] + (request_host or target.hostport),
        fields[0],
        count=1,
    )
    is_request = not fields[0].startswith("SIP/")
    if user and is_request:
        fields[0] = re.sub(
            r"^(\S+\s+<?sips?:)[^@\s>]*@", lambda m: m[1] + user + "@", fields[0], count=1
        )
    to_user = ""
    for line in fields[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() in ("to", "t"):
            m = re.search(r"sips?:([^@\s>;,:]*)@", value)
            to_user = m[1] if m else ""
    top_via_done = False
    runner_host = sent_by.rsplit(":", 1)[0]
    for i, line in enumerate(fields[1:], start=1):
        name, colon, value = line.partition(":")
        key = name.strip().lower()
        if not colon:
            continue
        if key in ("via", "v") and not top_via_done:
            top_via_done = True
            first, comma, rest = value.partition(",")
            first = re.sub(
                # any version, not only 2.0: badvers.dat's Via says SIP/7.0 and the 505
                # must still come back to the runner
                r"(SIP\s*/\s*\d+\.\d+\s*/\s*)([A-Za-z]+)(\s+)(\[[^\]]*\]|[^\s;:,]+)(\s*:\s*\d+)?",
                lambda m: m[1] + target.via_transport + m[3] + sent_by,
                first,
                count=1,
            )
            first = re.sub(
                r"(branch\s*=\s*)([^\s;,]+)",
                lambda m: m[1] + ("z9hG4bK" + uniq if m[2].startswith("z9hG4bK") else m[2] + uniq),
                first,
                count=1,
            )
            first = re.sub(
                r"(received\s*=\s*)(\[[^\]]*\]|[^\s;,]+)",
                lambda m: m[1] + runner_host,
                first,
            )
            fields[i] = name + colon + first + comma + rest
        elif key in ("to", "t", "from", "f") and user and is_request:
            # From too when it names the same user as To (a REGISTER for oneself stays so)
            m = re.search(r"sips?:([^@\s>;,:]*)@", value)
            if m and (key in ("to", "t") or m[1] == to_user):
                fields[i] = name + colon + value[: m.start(1)] + user + value[m.end(1) :]
        elif key in ("call-id", "i"):
            fields[i] = (
                name + colon + re.sub(r"^(\s*)", lambda m: m[1] + uniq + ".", value, count=1)
            )
        elif key in ("contact", "m", "record-route", "route"):
            hostport = target.hostport if key == "route" else sent_by
            fields[i] = (
                name
                + colon
                + re.sub(
                    r"(sips?:(?:[^@\s>;,]*@)?)(\[[^\]]*\]|[A-Za-z0-9.\-]+)(:\d+)?",
                    lambda m, hostport=hostport: m[1] + hostport,
                    value,
                )
            )
    if fix_content_length:
        fields = [
            re.sub(
                r"^((?:Content-Length|l)\s*:\s*)\d+",
                lambda m: m[1] + str(len(body)),
                f,
                flags=re.I,
            )
            for f in fields
        ]
    text = body.decode("latin-1")
    text = _IPV6.sub(lambda m: loopback_like(m[0]), text)
    text = _IPV4.sub(lambda m: m[0] if m[1] == "127" else loopback_like(m[0]), text)
    text = _HOSTNAME.sub(lambda m: ("h" * max(len(m[0]) - 8, 1) + ".invalid")[-len(m[0]) :], text)
    return "\r\n".join(fields).encode("latin-1") + sep + text.encode("latin-1")


def addresses_left(data: bytes) -> list[str]:
    """Non-loopback IP literals and example.* host names in ``data`` (for the safety test)."""
    import ipaddress

    text = data.decode("latin-1")
    found = []
    for m in list(_IPV6.finditer(text)) + list(_IPV4.finditer(text)):
        try:
            address = ipaddress.ip_address(m[0])
            mapped = getattr(address, "ipv4_mapped", None)
            if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
                found.append(m[0])
        except ValueError:
            continue
    return found + [m[0] for m in _HOSTNAME.finditer(text)]

"""Adapters giving every parser under test the same small interface.

An `Adapter` knows how to parse wire bytes with one library, read the eight usual fields
(`read_fields`), serialize, and prepend a Via.  Reads return the library's own values; the
untimed `normalize` turns them into comparable Python values so that the harness can check,
before timing, that every parser really read the same thing.  A field a library cannot give
is `MISSING`, with the reason in `Adapter.missing`.

Our parser (`rfc3261.message`) is one adapter among the others; the naive split parser is
the baseline, not a competitor.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rfc3261.bench import naive
from rfc3261.bench.messages import BenchMessage

FIELDS = (
    "branch",
    "from_tag",
    "to_tag",
    "call_id",
    "cseq",
    "contact_host",
    "content_length",
    "body",
)
"""The usual fields, read in this order by every adapter (CSeq counts as one: number, method)."""

# The Via a proxy would add on top; the mutation workload prepends it.
PROXY_VIA = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-bench-proxy-1"
PROXY_BRANCH = "z9hG4bK-bench-proxy-1"


class _Missing:
    """A field the library does not give (the reason is in Adapter.missing)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass
class Adapter:
    """One parser under test."""

    name: str
    distribution: str
    parse: Callable[[bytes], Any] | None = None
    read_fields: Callable[[Any], tuple[Any, ...]] | None = None
    normalize: Callable[[tuple[Any, ...]], dict[str, Any]] | None = None
    serialize: Callable[[Any], bytes] | None = None
    prepend_via: Callable[[Any, str], None] | None = None
    api: dict[str, str] = field(default_factory=dict)
    """How each field (and parse/serialize/mutation) is reached in this library."""
    missing: dict[str, str] = field(default_factory=dict)
    """Field -> why this library cannot give it."""
    unsupported: dict[str, str] = field(default_factory=dict)
    """Message name -> why this library cannot parse it."""
    competitor: bool = True
    version: str | None = None
    error: str | None = None
    """Why the adapter is unavailable (library not installed, API not found)."""

    @property
    def available(self) -> bool:
        return self.error is None and self.parse is not None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _as_bytes(value: Any) -> Any:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return value


# --- ours -------------------------------------------------------------------------------


def _sipref() -> Adapter:
    adapter = Adapter(name="sipref", distribution="sipref", competitor=False)
    adapter.api = {
        "parse": "rfc3261.message.parse(data)",
        "branch": "m.top_via.branch",
        "from_tag": "m.from_.tag",
        "to_tag": "m.to.tag",
        "call_id": "m.call_id",
        "cseq": "m.cseq.number, m.cseq.method",
        "contact_host": "m.contact[0].uri.host",
        "content_length": "m.content_length",
        "body": "m.body",
        "serialize": "bytes(m)",
        "prepend_via": "m.headers.prepend('Via', value)",
    }
    try:
        message = importlib.import_module("rfc3261.message")
        parse = message.parse
    except (ImportError, AttributeError) as exc:
        adapter.error = f"rfc3261.message.parse not available yet ({exc})"
        return adapter

    def read_fields(m: Any) -> tuple[Any, ...]:
        cseq = m.cseq
        return (
            m.top_via.branch,
            m.from_.tag,
            m.to.tag,
            m.call_id,
            (cseq.number, cseq.method),
            m.contact[0].uri.host,
            m.content_length,
            m.body,
        )

    def prepend_via(m: Any, value: str) -> None:
        m.headers.prepend("Via", value)

    adapter.parse = parse
    adapter.read_fields = read_fields
    adapter.normalize = lambda values: dict(zip(FIELDS, values, strict=True))
    adapter.serialize = bytes
    adapter.prepend_via = prepend_via
    adapter.version = _version("sipref")
    return adapter


def sipref_reading_only(skipped: frozenset[str]) -> Callable[[Any], tuple[Any, ...]]:
    """sipref's reads of the usual fields but `skipped` ones, for a like-for-like count
    against a parser that cannot read them (a test per field: a few instructions more)."""
    read = {name: name not in skipped for name in FIELDS}

    def read_fields(m: Any) -> tuple[Any, ...]:
        cseq = m.cseq if read["cseq"] else None
        return (
            m.top_via.branch if read["branch"] else MISSING,
            m.from_.tag if read["from_tag"] else MISSING,
            m.to.tag if read["to_tag"] else MISSING,
            m.call_id if read["call_id"] else MISSING,
            (cseq.number, cseq.method) if cseq is not None else MISSING,
            m.contact[0].uri.host if read["contact_host"] else MISSING,
            m.content_length if read["content_length"] else MISSING,
            m.body if read["body"] else MISSING,
        )

    return read_fields


# --- naive baseline ---------------------------------------------------------------------


def _naive() -> Adapter:
    param, uri_host = naive.param, naive.uri_host

    def read_fields(m: naive.NaiveMessage) -> tuple[Any, ...]:
        h = m.headers
        number, method = h["cseq"][0].split()
        return (
            param(h["via"][0], "branch"),
            param(h["from"][0], "tag"),
            param(h["to"][0], "tag"),
            h["call-id"][0],
            (int(number), method),
            uri_host(h["contact"][0]),
            int(h["content-length"][0]),
            m.body,
        )

    def prepend_via(m: naive.NaiveMessage, value: str) -> None:
        m.headers["via"].insert(0, value)

    return Adapter(
        name="naive",
        distribution="sipref",
        competitor=False,
        parse=naive.parse,
        read_fields=read_fields,
        normalize=lambda values: dict(zip(FIELDS, values, strict=True)),
        serialize=naive.serialize,
        prepend_via=prepend_via,
        api={
            "parse": "rfc3261.bench.naive.parse(data): split at CRLFCRLF, CRLF and ':'",
            "branch": "param(h['via'][0], 'branch')",
            "from_tag": "param(h['from'][0], 'tag')",
            "to_tag": "param(h['to'][0], 'tag')",
            "call_id": "h['call-id'][0]",
            "cseq": "h['cseq'][0].split(), int() of the number",
            "contact_host": "uri_host(h['contact'][0]) (string slicing)",
            "content_length": "int(h['content-length'][0])",
            "body": "m.body (all octets after the blank line)",
            "serialize": "naive.serialize(m)",
            "prepend_via": "h['via'].insert(0, value)",
        },
        version=_version("sipref"),
    )


# --- sippy (the Sippy B2BUA's SIP stack) -----------------------------------------------


def _sippy() -> Adapter:
    adapter = Adapter(name="sippy", distribution="sippy")
    adapter.api = {
        "parse": "SipResponse(text) if text starts with 'SIP/' else SipRequest(text), "
        "text = data.decode() (sippy parses str); header bodies are parsed lazily",
        "branch": "m.getHFBody('via').getBranch()",
        "from_tag": "m.getHFBody('from').getTag()",
        "to_tag": "m.getHFBody('to').getTag()",
        "call_id": "str(m.getHFBody('call-id'))",
        "cseq": "m.getHFBody('cseq').getCSeq()",
        "contact_host": "m.getHFBody('contact').getUrl().host",
        "content_length": "m._SipMsg__content_length.getBody().number (private: sippy "
        "takes Content-Length out of the header list while framing the body)",
        "body": "m.body.content (str; m.body is None for an empty body)",
        "serialize": "str(m).encode()",
        "prepend_via": "m.insertHeaderBefore(m.getHF('via'), "
        "SipHeader(name='via', body=SipVia(value)))",
    }
    try:
        from sippy.SipHeader import SipHeader
        from sippy.SipRequest import SipRequest
        from sippy.SipResponse import SipResponse
        from sippy.SipVia import SipVia
    except ImportError as exc:
        adapter.error = f"sippy not installed ({exc})"
        return adapter

    def parse(data: bytes) -> Any:
        text = data.decode()
        if text.startswith("SIP/"):
            return SipResponse(text)
        return SipRequest(text)

    def read_fields(m: Any) -> tuple[Any, ...]:
        body = m.body
        return (
            m.getHFBody("via").getBranch(),
            m.getHFBody("from").getTag(),
            m.getHFBody("to").getTag(),
            str(m.getHFBody("call-id")),
            m.getHFBody("cseq").getCSeq(),
            m.getHFBody("contact").getUrl().host,
            m._SipMsg__content_length.getBody().number,
            None if body is None else body.content,
        )

    def normalize(values: tuple[Any, ...]) -> dict[str, Any]:
        fields = dict(zip(FIELDS, values, strict=True))
        fields["body"] = _as_bytes(fields["body"])
        return fields

    def prepend_via(m: Any, value: str) -> None:
        m.insertHeaderBefore(m.getHF("via"), SipHeader(name="via", body=SipVia(value)))

    adapter.parse = parse
    adapter.read_fields = read_fields
    adapter.normalize = normalize
    adapter.serialize = lambda m: str(m).encode()
    adapter.prepend_via = prepend_via
    adapter.version = _version("sippy")
    return adapter


# --- pyVoIP -----------------------------------------------------------------------------


def _pyvoip() -> Adapter:
    adapter = Adapter(name="pyVoIP", distribution="pyVoIP")
    adapter.api = {
        "parse": "pyVoIP.SIP.SIPMessage(data) (parses everything eagerly, SDP included)",
        "branch": "m.headers['Via'][0]['branch']",
        "from_tag": "m.headers['From']['tag'] ('' when absent)",
        "to_tag": "m.headers['To']['tag'] ('' when absent)",
        "call_id": "m.headers['Call-ID']",
        "cseq": "m.headers['CSeq']['check'], m.headers['CSeq']['method'] (number as str)",
        "contact_host": "m.headers['Contact'] read as raw text (not parsed)",
        "content_length": "m.headers['Content-Length']",
        "body": "m.body read (a dict of parsed SDP lines, not the octets)",
    }
    adapter.missing = {
        "contact_host": "pyVoIP keeps Contact as the raw header text; it has no URI parser",
        "body": "pyVoIP keeps no body octets: it parses SDP into a dict (m.body)",
    }
    adapter.unsupported = {
        "REGISTER": "pyVoIP.SIP.SIPMessage only accepts requests whose method is in "
        "pyVoIP.SIPCompatibleMethods (INVITE, ACK, BYE, CANCEL); REGISTER raises "
        "SIPParseError",
    }
    adapter.api["serialize"] = "none: pyVoIP builds outgoing messages from templates"
    try:
        # Importing pyVoIP.SIP first fails on a circular import; pyVoIP.VoIP pulls it in.
        # (pyVoIP.RTP imports the deprecated audioop: not our warning to show.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            importlib.import_module("pyVoIP.VoIP")
        from pyVoIP.SIP import SIPMessage
    except (ImportError, AttributeError) as exc:
        adapter.error = f"pyVoIP not installed ({exc})"
        return adapter

    def read_fields(m: Any) -> tuple[Any, ...]:
        h = m.headers
        cseq = h["CSeq"]
        return (
            h["Via"][0]["branch"],
            h["From"]["tag"],
            h["To"]["tag"],
            h["Call-ID"],
            (cseq["check"], cseq["method"]),
            h["Contact"],
            h["Content-Length"],
            m.body,
        )

    def normalize(values: tuple[Any, ...]) -> dict[str, Any]:
        fields = dict(zip(FIELDS, values, strict=True))
        fields["from_tag"] = fields["from_tag"] or None
        fields["to_tag"] = fields["to_tag"] or None
        number, method = fields["cseq"]
        fields["cseq"] = (int(number), method)
        fields["contact_host"] = MISSING
        fields["body"] = MISSING
        return fields

    adapter.parse = SIPMessage
    adapter.read_fields = read_fields
    adapter.normalize = normalize
    adapter.version = _version("pyVoIP")
    return adapter


# --- aiosipua ---------------------------------------------------------------------------


def _aiosipua() -> Adapter:
    adapter = Adapter(name="aiosipua", distribution="aiosipua")
    adapter.api = {
        "parse": "aiosipua.SipMessage.parse(data) (splits headers; values parsed on access)",
        "branch": "m.via[0].branch",
        "from_tag": "m.from_addr.tag",
        "to_tag": "m.to_addr.tag",
        "call_id": "m.call_id",
        "cseq": "m.cseq.seq, m.cseq.method",
        "contact_host": "m.contact[0].uri.host",
        "content_length": "m.content_length",
        "body": "m.body",
        "serialize": "bytes(m) (headers come out grouped by name; Content-Length rewritten)",
        "prepend_via": "m.headers.get('via').insert(0, value) (no prepend in the API; "
        "get() returns the stored list)",
    }
    try:
        from aiosipua import SipMessage
    except ImportError as exc:
        adapter.error = f"aiosipua not installed ({exc})"
        return adapter

    def read_fields(m: Any) -> tuple[Any, ...]:
        cseq = m.cseq
        return (
            m.via[0].branch,
            m.from_addr.tag,
            m.to_addr.tag,
            m.call_id,
            (cseq.seq, cseq.method),
            m.contact[0].uri.host,
            m.content_length,
            m.body,
        )

    def prepend_via(m: Any, value: str) -> None:
        m.headers.get("via").insert(0, value)

    adapter.parse = SipMessage.parse
    adapter.read_fields = read_fields
    adapter.normalize = lambda values: dict(zip(FIELDS, values, strict=True))
    adapter.serialize = bytes
    adapter.prepend_via = prepend_via
    adapter.version = _version("aiosipua")
    return adapter


# --- sipmessage -------------------------------------------------------------------------


def _sipmessage() -> Adapter:
    adapter = Adapter(name="sipmessage", distribution="sipmessage")
    adapter.api = {
        "parse": "sipmessage.Message.parse(data) (splits headers; values parsed on access, "
        "every access parses again)",
        "branch": "m.via[0].parameters['branch']",
        "from_tag": "m.from_address.parameters.get('tag')",
        "to_tag": "m.to_address.parameters.get('tag')",
        "call_id": "m.call_id",
        "cseq": "m.cseq.sequence, m.cseq.method",
        "contact_host": "m.contact[0].uri.host",
        "content_length": "m.content_length",
        "body": "m.body (all octets after the blank line; Content-Length not applied)",
        "serialize": "bytes(m) (headers come out grouped by name)",
        "prepend_via": "m.headers.setlist('Via', [value, *m.headers.getlist('Via')])",
    }
    try:
        from sipmessage import Message
    except ImportError as exc:
        adapter.error = f"sipmessage not installed ({exc})"
        return adapter

    def read_fields(m: Any) -> tuple[Any, ...]:
        cseq = m.cseq
        return (
            m.via[0].parameters["branch"],
            m.from_address.parameters.get("tag"),
            m.to_address.parameters.get("tag"),
            m.call_id,
            (cseq.sequence, cseq.method),
            m.contact[0].uri.host,
            m.content_length,
            m.body,
        )

    def prepend_via(m: Any, value: str) -> None:
        m.headers.setlist("Via", [value, *m.headers.getlist("Via")])

    adapter.parse = Message.parse
    adapter.read_fields = read_fields
    adapter.normalize = lambda values: dict(zip(FIELDS, values, strict=True))
    adapter.serialize = bytes
    adapter.prepend_via = prepend_via
    adapter.version = _version("sipmessage")
    return adapter


ADAPTER_FACTORIES: dict[str, Callable[[], Adapter]] = {
    "sipref": _sipref,
    "sippy": _sippy,
    "pyVoIP": _pyvoip,
    "aiosipua": _aiosipua,
    "sipmessage": _sipmessage,
    "naive": _naive,
}


def load_adapters(names: list[str] | None = None) -> list[Adapter]:
    """Build the adapters (all by default); a missing library gives an unavailable one."""
    unknown = set(names or ()) - set(ADAPTER_FACTORIES)
    if unknown:
        raise ValueError(f"unknown parsers {sorted(unknown)}; known: {list(ADAPTER_FACTORIES)}")
    adapters = []
    for name in names or list(ADAPTER_FACTORIES):
        try:
            adapters.append(ADAPTER_FACTORIES[name]())
        except Exception as exc:  # a broken install must not stop the other adapters
            adapters.append(Adapter(name=name, distribution=name, error=repr(exc)))
    return adapters


# --- fairness checks (run once per adapter and message, before timing) -----------------


class VerificationError(AssertionError):
    """An adapter read a value other than the expected one, or serialized a wrong message."""


def verify_fields(adapter: Adapter, message: BenchMessage) -> dict[str, Any]:
    """Parse `message`, read the usual fields and compare them with `message.expected`."""
    assert adapter.parse and adapter.read_fields and adapter.normalize
    values = adapter.normalize(adapter.read_fields(adapter.parse(message.data)))
    expected = asdict(message.expected)
    problems = []
    for name in FIELDS:
        got = values[name]
        if got is MISSING:
            if name not in adapter.missing:
                problems.append(f"{name}: not read, and no reason given")
        elif name in adapter.missing:
            problems.append(f"{name}: declared missing but read as {got!r}")
        elif got != expected[name]:
            problems.append(f"{name}: read {got!r}, expected {expected[name]!r}")
    if problems:
        raise VerificationError(f"{adapter.name} on {message.name}: " + "; ".join(problems))
    return values


def verify_serialization(adapter: Adapter, message: BenchMessage, add_via: bool) -> bytes:
    """Serialize a freshly parsed `message` (after prepending PROXY_VIA if `add_via`) and
    read the output back with the naive parser: same start line, Vias and usual fields."""
    assert adapter.parse and adapter.serialize
    parsed = adapter.parse(message.data)
    if add_via:
        assert adapter.prepend_via
        adapter.prepend_via(parsed, PROXY_VIA)
    output = adapter.serialize(parsed)
    back = naive.parse(output)
    expected = message.expected
    problems = []
    if back.start_line != message.data.partition(b"\r\n")[0].decode():
        problems.append(f"start line {back.start_line!r}")
    branches = [naive.param(v, "branch") for v in back.headers.get("via", [])]
    want = [PROXY_BRANCH, expected.branch] if add_via else [expected.branch]
    if branches != want:
        problems.append(f"Via branches {branches!r}, expected {want!r}")
    values = _naive().normalize(_naive().read_fields(back))  # type: ignore[misc]
    for name in FIELDS[1:]:
        if values[name] != getattr(expected, name):
            problems.append(f"{name}: {values[name]!r}, expected {getattr(expected, name)!r}")
    if problems:
        what = "serialize after adding a Via" if add_via else "serialize"
        raise VerificationError(f"{adapter.name} {what} on {message.name}: " + "; ".join(problems))
    return output

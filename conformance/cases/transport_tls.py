"""TLS and SIPS on the wire: RFC 3261 §26.2.1, §26.2.2, §26.3.1 and §19.1.1 (a SIPS URI's
transport).  These cases run over TLS only (a ``sips:`` target); over UDP and TCP they are
not applicable.  Each opens TLS connections of its own: restricted to one cipher suite, or
checking the certificate the target presents.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shlex
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conformance.cases.transport_server import _Exchange
from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import fill
from conformance.wire import Event, Link

#: load order of the case modules (conformance.discovery)
ORDER = 81

SERVERS = ("uas", "registrar", "redirect", "proxy")
#: §26.3.1 and §26.2.1 single out these (a UA need not have a site certificate)
NOT_UA = ("registrar", "redirect", "proxy")
TLS = ("tls",)

_X509_V_ERR_HOSTNAME_MISMATCH = 62
_X509_V_ERR_IP_ADDRESS_MISMATCH = 64


def _sips_request(ctx: Context, exchange: _Exchange, link: Link) -> Outgoing:
    """An OPTIONS with a SIPS Request-URI: to the target's user, or for a proxy to the proxy
    itself (the runner's downstream sockets speak UDP only)."""
    hostport = ctx.target.hostport
    if ctx.role == "proxy":
        return exchange.request(link, uri=f"sips:{hostport}")
    return exchange.request(link, uri=f"sips:{ctx.user}@{hostport}")


def _tls_link(ctx: Context, context: ssl.SSLContext) -> Link:
    """A TLS connection with the case's own client context (its failure is raised)."""
    target = dataclasses.replace(ctx.target, transport="tls")
    link = Link(target, ctx.ladder, ctx.deadline, context)
    ctx.links.append(link)
    return link


def _sips_uris(msg: Message) -> list[str]:
    """The SIPS URIs of a response's Contact and Record-Route values."""
    found = []
    for name in ("Contact", "Record-Route"):
        for value in msg.get_all(name):
            found += re.findall(r"sips:[^>,\s]+", value, re.I)
    return found


def _control(ctx: Context, exchange: _Exchange, link: Link) -> Message:
    """The control: an OPTIONS with a SIPS Request-URI over the run's TLS link is answered."""

    def run() -> tuple[Message | None, bool]:
        final = exchange.send(link, _sips_request(ctx, exchange, link), note="control")
        return final, final is not None

    return ctx.controlled("OPTIONS", run, "an OPTIONS with a SIPS Request-URI over TLS")


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP elements that support TLS MUST also support the SIPS URI scheme.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars MUST implement TLS, and MUST support both
##% mutual and one-way authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% For a SIPS URI, the transport parameter MUST indicate a reliable transport.
@case(
    "tls-sips-uri",
    roles=SERVERS,
    transports=TLS,
    no_control="judged on the answer to the SIPS request itself: any answer but 416 passes",
)
def sips_uri(ctx: Context) -> None:
    """Over TLS (one-way: the runner shows no certificate) a SIPS Request-URI is served, not
    416, and a SIPS URI in the answer's Contact or Record-Route names no unreliable transport."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    final = exchange.send(link, _sips_request(ctx, exchange, link))
    ctx.check(final is not None, "an answer over one-way TLS", "no response", requirement=1)
    assert final is not None
    ctx.check(final.status != 416, "the SIPS URI served", describe(final), requirement=0)
    for uri in _sips_uris(final):
        transport = re.search(r";transport=(\w+)", uri, re.I)
        ctx.check(
            transport is None or transport[1].lower() not in ("udp", "dccp"),
            "SIPS URIs with a reliable transport (or none)",
            uri,
            requirement=2,
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.1
##= type=test
##% The TLS_RSA_WITH_AES_128_CBC_SHA ciphersuite [6] MUST be supported at a minimum by
##% implementers when TLS is used in a SIP application.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
##= type=test
##% The use of SIPS in particular entails that mutual TLS authentication SHOULD be employed,
##% as SHOULD the ciphersuite TLS_RSA_WITH_AES_128_CBC_SHA.
@case("tls-aes128-sha", roles=SERVERS, transports=TLS)
def aes128_sha(ctx: Context) -> None:
    """A TLS 1.2 client offering only TLS_RSA_WITH_AES_128_CBC_SHA gets a handshake, and
    its request an answer."""
    exchange = _Exchange(ctx)
    _control(ctx, exchange, ctx.link())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers("AES128-SHA:@SECLEVEL=0")
    except ssl.SSLError:
        ctx.not_applicable("the runner's TLS library cannot offer TLS_RSA_WITH_AES_128_CBC_SHA")
    try:
        link = _tls_link(ctx, context)
    except OSError as exc:
        ctx.fail("a TLS handshake on TLS_RSA_WITH_AES_128_CBC_SHA", f"refused: {exc}")
        return
    cipher = link.sock.cipher() if isinstance(link.sock, ssl.SSLSocket) else None
    ctx.check(
        cipher is not None and cipher[0] == "AES128-SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA negotiated",
        str(cipher),
    )
    final = exchange.send(link, _sips_request(ctx, exchange, link))
    ctx.check(final is not None, "the request answered over it", "no response")


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.1
##= type=test
##% For purposes of backwards compatibility, proxy servers, redirect servers, and registrars
##% SHOULD support TLS_RSA_WITH_3DES_EDE_CBC_SHA.
@case("tls-3des", roles=NOT_UA, level="SHOULD", transports=TLS)
def triple_des(ctx: Context) -> None:
    """A TLS 1.2 client offering only TLS_RSA_WITH_3DES_EDE_CBC_SHA gets a handshake."""
    exchange = _Exchange(ctx)
    _control(ctx, exchange, ctx.link())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers("DES-CBC3-SHA:@SECLEVEL=0")
    except ssl.SSLError:
        # OpenSSL 3 builds without weak ciphers: the runner cannot test it, the target is
        # not to blame
        ctx.not_applicable(
            "the runner's TLS library cannot offer TLS_RSA_WITH_3DES_EDE_CBC_SHA "
            f"({ssl.OPENSSL_VERSION})"
        )
    try:
        link = _tls_link(ctx, context)
    except OSError as exc:
        ctx.fail("a TLS handshake on TLS_RSA_WITH_3DES_EDE_CBC_SHA", f"refused: {exc}")
        return
    final = exchange.send(link, _sips_request(ctx, exchange, link))
    ctx.check(final is not None, "the request answered over it", "no response")


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars SHOULD possess a site certificate whose
##% subject corresponds to their canonical hostname.
@case(
    "tls-site-certificate",
    roles=NOT_UA,
    level="SHOULD",
    transports=TLS,
    no_control="judged on the TLS handshake alone, before any SIP request",
)
def site_certificate(ctx: Context) -> None:
    """The certificate the target presents names its host (the target's address, or the
    profile's domain) in its subject or subjectAltName."""
    link = ctx.link()
    der = link.sock.getpeercert(binary_form=True) if isinstance(link.sock, ssl.SSLSocket) else None
    if not der:
        ctx.inconclusive("the target presented no certificate")
    names = [ctx.target.host.strip("[]")]
    if ctx.profile.domain and ctx.profile.domain not in names:
        names.append(ctx.profile.domain)
    mismatches = []
    for name in names:
        # trust the presented certificate itself (and the system's CAs, for a CA-issued
        # one): what is left to check is whether it names the host
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
        try:
            with (
                socket.create_connection(ctx.target.address, timeout=2.0) as raw,
                context.wrap_socket(raw, server_hostname=name),
            ):
                return
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code in (_X509_V_ERR_HOSTNAME_MISMATCH, _X509_V_ERR_IP_ADDRESS_MISMATCH):
                mismatches.append(f"{name}: {exc.verify_message}")
                continue
            ctx.inconclusive(f"the certificate cannot be checked: {exc.verify_message}")
        except OSError as exc:
            ctx.inconclusive(f"a second TLS connection failed: {exc}")
    ctx.fail(f"a certificate naming {' or '.join(names)}", "; ".join(mismatches))


# --- the target as a TLS client: the certificate it is shown --------------------------------

_CERTIFICATE: list[tuple[str, str]] = []


def untrusted_certificate() -> tuple[str, str] | None:
    """A self-signed certificate for 127.0.0.1 no target trusts (made once per run with
    openssl; None without it)."""
    if not _CERTIFICATE:
        from conformance.selftest import certificate

        made = certificate(Path(tempfile.mkdtemp(prefix="sipref-runner-tls-")))
        if made is None:
            return None
        _CERTIFICATE.append((str(made[0]), str(made[1])))
    return _CERTIFICATE[0]


class TlsServer:
    """A TLS listening socket of the runner's presenting ``certificate``: whether the target
    connects, completes the handshake (it trusted the certificate) and sends a request."""

    def __init__(self, ctx: Context, certificate: tuple[str, str]) -> None:
        self.ctx = ctx
        self.deadline = ctx.deadline
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*certificate)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.local = self.sock.getsockname()[:2]
        self.hostport = f"{self.local[0]}:{self.local[1]}"
        self.connected = 0
        self.handshakes = 0
        ctx.links.append(self)  # type: ignore[arg-type]

    def _event(self, peer: tuple[str, int], note: str, data: bytes = b"") -> None:
        kind = "received" if data else "event"
        self.ctx.ladder.add(Event(0, kind, "tls", peer, self.local, data, note))

    def watch(self, seconds: float, gone: Callable[[], bool] = lambda: False) -> bytes:
        """Accept connections for ``seconds`` (less once ``gone()``: the client exited);
        the first bytes of SIP received, if any."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(min(left, 0.2))
            try:
                raw, peer = self.sock.accept()
            except TimeoutError:
                if gone():
                    return b""
                continue
            except OSError:
                return b""
            self.connected += 1
            self._event(peer[:2], "the target connected (tcp)")
            raw.settimeout(2.0)
            try:
                conn = self.context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self._event(peer[:2], f"TLS handshake ended by the target: {exc}")
                raw.close()
                continue
            self.handshakes += 1
            self._event(peer[:2], "TLS handshake completed: the target trusted the certificate")
            try:
                data = conn.recv(65536)
            except (ssl.SSLError, OSError):
                data = b""
            conn.close()
            if data:
                self._event(peer[:2], "", data)
                return data
        return b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP elements that support TLS MUST have a mechanism for validating certificates
##% received during TLS negotiation; this entails possession of one or more root certificates
##% issued by certificate authorities (preferably well-known distributors of site
##% certificates comparable to those that issue root certificates for web browsers).
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
##= type=test
##% Certificates received in the authentication process SHOULD be validated with root
##% certificates held by the client; failure to validate a certificate SHOULD result in the
##% failure of the request.
@case(
    "tls-proxy-untrusted-certificate",
    roles=("proxy",),
    no_control="judged on the TLS handshake the proxy opens downstream",
)
def proxy_untrusted_certificate(ctx: Context) -> None:
    """Forwarding to a ``sips:`` URI whose server shows a self-signed certificate, the proxy
    ends the handshake: the request never reaches it."""
    made = untrusted_certificate()
    if made is None:
        ctx.inconclusive("openssl is needed to make the runner's certificate")
        return
    server = TlsServer(ctx, made)
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=f"sips:downstream@{server.hostport}", body=b"hi",
                      content_type="text/plain")  # fmt: skip
    link.send(bytes(req))
    data = server.watch(2.0)
    final = link.expect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200, 2.0
    )
    if not server.connected:
        ctx.not_applicable(f"the proxy opened no TLS connection to sips: ({describe(final)})")
    ctx.check(
        not data,
        "the handshake ended: the certificate not validated",
        "the request sent over it" if data else "",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP elements that support TLS MUST have a mechanism for validating certificates
##% received during TLS negotiation; this entails possession of one or more root certificates
##% issued by certificate authorities (preferably well-known distributors of site
##% certificates comparable to those that issue root certificates for web browsers).
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
##= type=test
##% Certificates received in the authentication process SHOULD be validated with root
##% certificates held by the client; failure to validate a certificate SHOULD result in the
##% failure of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP elements that support TLS MUST also support the SIPS URI scheme.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% It is strongly RECOMMENDED that UAs be capable initiating TLS
@case(
    "uac-tls-untrusted-certificate",
    roles=("uac",),
    timeout=30,
    no_control="the runner is the server: judged on the TLS handshake the UAC opens",
)
def uac_untrusted_certificate(ctx: Context) -> None:
    """Asked to send an OPTIONS to a ``sips:`` URI, the UAC opens TLS to it, and ends the
    handshake on the runner's self-signed certificate: the request never comes."""
    command = ctx.profile.triggers.get("options", "")
    if not command:
        ctx.not_applicable("the profile cannot make the target send options ([uac] options)")
    made = untrusted_certificate()
    if made is None:
        ctx.inconclusive("openssl is needed to make the runner's certificate")
        return
    server = TlsServer(ctx, made)
    filled = fill(command, ctx.profile, server.hostport)
    uri = f"sip:uas@{server.hostport}"
    if uri not in filled:
        ctx.not_applicable("the [uac] options command takes no {uri} to ask for sips: with")
    argv = shlex.split(filled.replace(uri, f"sips:uas@{server.hostport}"))
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError as exc:
        ctx.inconclusive(f"the [uac] options command did not start: {exc}")
        return

    def stop() -> bool:
        process.kill()
        process.wait(timeout=5)
        return True

    ctx.on_teardown("the options trigger stopped", stop)
    data = server.watch(8.0, gone=lambda: process.poll() is not None)
    ctx.check(
        server.connected > 0,
        "a TLS connection to the sips: URI",
        "none",
        requirement=3,
        level="SHOULD",
    )
    ctx.check(not data, "the handshake ended: the certificate not validated", "the request sent")

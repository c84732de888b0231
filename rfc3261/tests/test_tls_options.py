"""TLS as RFC 3261 §26.2 and §26.3.1 ask it of servers: one-way and mutual authentication,
and the suite §26.2.1 makes mandatory, offered on request (`rfc3261.programs.common`)."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

import pytest

from rfc3261.programs.common import RFC3261_CIPHER, client_ssl_context, server_ssl_context

from .transport_support import make_certificate


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[str, dict | None]:
    """A TLS handshake through memory buffers: (the client's cipher, the certificate the
    server saw from the client, or None).  Raises ssl.SSLError when it fails."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, side, out, peer_in in (("c", c, c_out, s_in), ("s", s, s_out, c_in)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            data = out.read()
            if data:
                peer_in.write(data)
        if all(done.values()):
            # TLS 1.3: the server checks a client certificate after the client finished.
            with contextlib.suppress(ssl.SSLWantReadError):
                c.read(1)
            cipher = c.cipher()
            assert cipher is not None
            return cipher[0], s.getpeercert()
    raise ssl.SSLError("handshake did not finish")


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    return str(cert), str(key)


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars MUST implement TLS, and
##% MUST support both mutual and one-way authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
##= type=test
##% The use of SIPS in particular entails that mutual TLS authentication
##% SHOULD be employed, as SHOULD the ciphersuite
##% TLS_RSA_WITH_AES_128_CBC_SHA.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% Since both of the participants in this TLS connection are servers that possess site
##% certificates, mutual TLS authentication SHOULD occur.
def test_one_way_and_mutual_authentication(pem: tuple[str, str]) -> None:
    cert, key = pem
    one_way = server_ssl_context(cert, key)
    mutual = server_ssl_context(cert, key, client_auth="require", ca=cert)
    anonymous = client_ssl_context(cert)
    identified = client_ssl_context(cert, cert=cert, key=key)
    assert handshake(one_way, anonymous)[1] is None  # the server asks nothing
    _cipher, seen = handshake(mutual, identified)
    assert seen is not None and ("commonName", "localhost") in seen["subject"][0]
    with pytest.raises(ssl.SSLError):
        handshake(mutual, anonymous)  # 'require': no certificate, no connection
    optional = server_ssl_context(cert, key, client_auth="optional", ca=cert)
    assert handshake(optional, anonymous)[1] is None
    assert handshake(optional, identified)[1] is not None


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.1
##= type=test
##% The TLS_RSA_WITH_AES_128_CBC_SHA ciphersuite [6] MUST be supported at
##% a minimum by implementers when TLS is used in a SIP application.
def test_the_rfc3261_suite_is_offered_on_request(pem: tuple[str, str]) -> None:
    cert, key = pem
    old_peer = client_ssl_context(cert)
    old_peer.maximum_version = ssl.TLSVersion.TLSv1_2
    old_peer.set_ciphers(RFC3261_CIPHER)  # a peer that speaks nothing else
    with pytest.raises(ssl.SSLError):
        handshake(server_ssl_context(cert, key), old_peer)
    cipher, _ = handshake(server_ssl_context(cert, key, rfc3261_ciphers=True), old_peer)
    assert cipher == RFC3261_CIPHER
    # Our client offers it too, after the modern suites (which still win).
    ours = client_ssl_context(cert, rfc3261_ciphers=True)
    assert RFC3261_CIPHER in [c["name"] for c in ours.get_ciphers()]
    assert handshake(server_ssl_context(cert, key), ours)[0] != RFC3261_CIPHER


def test_a_server_without_a_certificate_has_no_tls(tmp_path: Path) -> None:
    assert server_ssl_context(None, None) is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars MUST implement TLS, and
##% MUST support both mutual and one-way authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% The registrar SHOULD offer a certificate to the UA
def test_registrar_with_mutual_tls_serves_only_clients_with_a_certificate(
    tmp_path: Path, pem: tuple[str, str]
) -> None:
    from .test_programs_servers import DOMAIN, Client, ServerProcess

    cert, key = pem
    server = ServerProcess(
        "registrar", "--listen", "sips:127.0.0.1:0", "--cert", cert, "--key", key,
        "--ca", cert, "--tls-client-auth", "require", "--domain", DOMAIN,
        "--db", str(tmp_path / "location.db"), cwd=tmp_path,
    )  # fmt: skip
    try:
        port = server.ports["TLS"]
        identified = ssl.create_default_context(cafile=cert)
        identified.load_cert_chain(cert, key)
        client = Client("TLS", ("127.0.0.1", port), identified)
        assert client.register(port, "carol", "<sip:carol@127.0.0.1:5997>", 600).status == 200
        client.close()
        anonymous = ssl.create_default_context(cafile=cert)
        with pytest.raises((ssl.SSLError, OSError)):
            stranger = Client("TLS", ("127.0.0.1", port), anonymous)
            stranger.register(port, "mallory", "<sip:mallory@127.0.0.1:5998>", 600)
    finally:
        assert server.stop() == 0

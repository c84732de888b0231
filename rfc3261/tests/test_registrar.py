"""The registrar (RFC 3261 §10.3): every step's failure and the success paths."""

from __future__ import annotations

import email.utils
import time

import pytest

from rfc3261.auth_headers import parse_authentication_info
from rfc3261.digest import DigestChallenge, DigestCredentials, compute_response
from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials
from rfc3261.location import LocationError, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.registrar import Registrar, RegistrarConfig, canonical_aor
from rfc3261.tests.server_support import register
from rfc3261.uri import parse_uri

AOR = "sip:alice@example.com"


def make(**config) -> Registrar:
    config.setdefault("domains", frozenset({"example.com"}))
    return Registrar(SqliteLocationService(), RegistrarConfig(**config))


def contacts(response: Response) -> list[tuple[str, int | None]]:
    return [(str(c.uri), c.expires) for c in response.contact]


def wire(response: Response) -> Response:
    parsed = parse(bytes(response))
    assert isinstance(parsed, Response)
    return parsed


# -- the success paths --------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar returns a 200 (OK) response.  The response MUST
##% contain Contact header field values enumerating all current
##% bindings.  Each Contact value MUST feature an "expires" parameter
##% indicating its expiration interval chosen by the registrar.  The
##% response SHOULD include a Date header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the binding does not exist, it is tentatively added.
def test_add_binding_200_lists_all_bindings_with_expires_and_date() -> None:
    registrar = make()
    r1 = wire(registrar.handle(register(expires=600), 1000.0))
    assert r1.status == 200
    assert contacts(r1) == [("sip:alice@192.0.2.10:5060", 600)]
    r2 = registrar.handle(
        register(contacts=("<sip:alice@192.0.2.11>;q=0.5",), call_id="other", expires=300), 1010.0
    )
    assert contacts(wire(r2)) == [
        ("sip:alice@192.0.2.10:5060", 590),
        ("sip:alice@192.0.2.11", 300),
    ]
    assert wire(r2).contact[1].q == 0.5
    assert r2.headers.get("Date") == email.utils.formatdate(1010.0, usegmt=True)
    assert r2.to.tag is not None


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar checks whether the request contains the Contact
##% header field.  If not, it skips to the last step.
def test_query_without_contact_lists_bindings() -> None:
    registrar = make()
    registrar.handle(register(expires=600), 0.0)
    response = registrar.handle(register(contacts=(), call_id="q"), 100.0)
    assert response.status == 200
    assert contacts(wire(response)) == [("sip:alice@192.0.2.10:5060", 500)]


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If they are the same, the
##% registrar compares the CSeq value.  If the value is higher than
##% that of the existing binding, it MUST update or remove the
##% binding as above.  If not, the update MUST be aborted and the
##% request fails.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% This algorithm ensures that out-of-order requests from the same UA
##% are ignored.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST be processed by a registrar in the order that they
##% are received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Each REGISTER message MUST be processed independently of any other
##% registration or binding changes.
def test_refresh_with_higher_cseq_and_out_of_order_rejected() -> None:
    registrar = make()
    assert registrar.handle(register(cseq=2, expires=600), 0.0).status == 200
    refreshed = registrar.handle(register(cseq=3, expires=1200), 10.0)
    assert contacts(wire(refreshed)) == [("sip:alice@192.0.2.10:5060", 1200)]
    stale = registrar.handle(register(cseq=3, expires=60), 20.0)
    assert stale.status == 400 and "Out-of-Order" in stale.reason
    older = registrar.handle(register(cseq=1, expires=0), 20.0)
    assert older.status == 400
    # Nothing changed.
    [binding] = registrar.location.bindings(AOR, 20.0)
    assert (binding.cseq, binding.expires_at) == (3, 1210.0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% For each address, the registrar then searches the list of
##% current bindings using the URI comparison rules.  If the binding
##% does not exist, it is tentatively added.  If the binding does
##% exist, the registrar checks the Call-ID value.  If the Call-ID
##% value in the existing binding differs from the Call-ID value in
##% the request, the binding MUST be removed if the expiration time
##% is zero and updated otherwise.
def test_different_call_id_updates_or_removes_regardless_of_cseq() -> None:
    registrar = make()
    registrar.handle(register(cseq=50, expires=600), 0.0)
    # Same contact written differently (host case, default transport param): same binding.
    other = register(contacts=("<sip:alice@192.0.2.10:5060>",), call_id="new", cseq=1)
    assert contacts(wire(registrar.handle(other, 1.0))) == [("sip:alice@192.0.2.10:5060", 3600)]
    [binding] = registrar.location.bindings(AOR, 1.0)
    assert (binding.call_id, binding.cseq) == ("new", 1)
    removed = registrar.handle(register(call_id="third", cseq=1, expires=0), 2.0)
    assert removed.status == 200 and removed.contact == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% A UA requests the immediate removal of a binding by specifying an
##% expiration interval of "0" for that contact address in a REGISTER
##% request.
def test_remove_one_binding_keeps_others() -> None:
    registrar = make()
    registrar.handle(
        register(contacts=("<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"), expires=600), 0
    )
    response = registrar.handle(
        register(contacts=("<sip:alice@192.0.2.10>;expires=0",), cseq=2), 5.0
    )
    assert contacts(wire(response)) == [("sip:alice@192.0.2.11", 595)]


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the
##% Contact header field is present, the registrar checks if there
##% is one Contact field value that contains the special value "*"
##% and an Expires field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If not, the registrar checks whether
##% the Call-ID agrees with the value stored for each binding.  If
##% not, it MUST remove the binding.  If it does agree, it MUST
##% remove the binding only if the CSeq in the request is higher
##% than the value stored for that binding.  Otherwise, the update
##% MUST be aborted and the request fails.
def test_star_with_expires_zero_removes_all() -> None:
    registrar = make()
    registrar.handle(register(contacts=("<sip:a@192.0.2.1>",), call_id="c1", cseq=5), 0)
    registrar.handle(register(contacts=("<sip:b@192.0.2.2>",), call_id="c2", cseq=9), 0)
    # Same Call-ID as c2's binding but not a higher CSeq: the whole update fails.
    fail = registrar.handle(register(contacts=("*",), call_id="c2", cseq=9, expires=0), 1)
    assert fail.status == 400
    assert registrar.location.count(1) == 2
    ok = registrar.handle(register(contacts=("*",), call_id="c2", cseq=10, expires=0), 1)
    assert ok.status == 200 and ok.contact == []
    assert registrar.location.count(1) == 0


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the request has additional Contact
##% fields or an expiration time other than zero, the request is
##% invalid, and the server MUST return a 400 (Invalid Request) and
##% skip the remaining steps.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% The REGISTER-specific Contact header field value of "*" applies to
##% all registrations, but it MUST NOT be used unless the Expires header
##% field is present with a value of "0".
@pytest.mark.parametrize(
    ("contact_values", "expires"),
    [(("*", "<sip:a@192.0.2.1>"), 0), (("*",), 60), (("*",), None)],
)
def test_star_invalid_forms_400(contact_values: tuple[str, ...], expires: int | None) -> None:
    registrar = make()
    registrar.handle(register(), 0)
    response = registrar.handle(register(contacts=contact_values, expires=expires, cseq=2), 1)
    assert response.status == 400
    assert registrar.location.count(1) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the field value has an "expires" parameter, that value MUST
##% be taken as the requested expiration.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If there is no such parameter, but the request has an Expires
##% header field, that value MUST be taken as the requested
##% expiration.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If there is neither, a locally-configured default value MUST
##% be taken as the requested expiration.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar MAY choose an expiration less than the requested
##% expiration interval.
def test_expiration_sources_and_maximum() -> None:
    registrar = make(default_expires=1800, max_expires=7200)
    response = registrar.handle(
        register(
            contacts=("<sip:a@192.0.2.1>;expires=120", "<sip:b@192.0.2.2>", "<sip:c@192.0.2.3>"),
            expires=900,
        ),
        0,
    )
    assert [e for _, e in contacts(wire(response))] == [120, 900, 900]
    response = registrar.handle(register(contacts=("<sip:d@192.0.2.4>",), call_id="x"), 0)
    assert contacts(wire(response))[-1] == ("sip:d@192.0.2.4", 1800)
    response = registrar.handle(
        register(contacts=("<sip:e@192.0.2.5>",), call_id="y", expires=99999), 0
    )
    assert contacts(wire(response))[-1] == ("sip:e@192.0.2.5", 7200)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If and only if the requested expiration interval
##% is greater than zero AND smaller than one hour AND less than a
##% registrar-configured minimum, the registrar MAY reject the
##% registration with a response of 423 (Interval Too Brief).  This
##% response MUST contain a Min-Expires header field that states the
##% minimum expiration interval the registrar is willing to honor.  It
##% then skips the remaining steps.
def test_423_interval_too_brief_with_min_expires() -> None:
    registrar = make(min_expires=3700)
    brief = registrar.handle(register(expires=30), 0)
    assert brief.status == 423 and brief.headers.get("Min-Expires") == "3700"
    assert registrar.location.count(0) == 0
    # "smaller than one hour": 3600 is accepted although below the minimum.
    assert registrar.handle(register(expires=3600, call_id="b"), 0).status == 200
    # Zero is a removal, never 423.
    assert registrar.handle(register(expires=0, call_id="c"), 0).status == 200


# -- the failure of each step ------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar inspects the Request-URI to determine whether it
##% has access to bindings for the domain identified in the
##% Request-URI.
def test_step1_foreign_domain_404_and_non_sip_416() -> None:
    registrar = make()
    assert registrar.handle(register(uri="sip:elsewhere.example.org"), 0).status == 404
    assert registrar.handle(register(uri="tel:+15551234"), 0).status == 416
    assert registrar.location.count(0) == 0


##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.4
##= type=test
##% A registrar would reject this request with a 400 Bad Request response, since the To:
##% header field is required to contain a SIP or SIPS URI as an AOR.
def test_step5_to_not_sip_400() -> None:
    registrar = make()
    response = registrar.handle(register("tel:+15551234", uri="sip:example.com"), 0)
    assert response.status == 400
    assert registrar.location.count(0) == 0


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% To guarantee that the registrar supports any necessary extensions,
##% the registrar MUST process the Require header field values as
##% described for UASs in Section 8.2.2.
def test_step2_require_unknown_420_with_unsupported() -> None:
    registrar = make(supported=frozenset({"path"}))
    response = registrar.handle(register(extra=(("Require", "path, foo"),)), 0)
    assert response.status == 420 and response.headers.get("Unsupported") == "foo"
    assert registrar.handle(register(extra=(("Require", "path"),)), 0).status == 200


def _authorization(challenge_text: str, request: Request, user: str, password: str, nc: int = 1):
    from rfc3261.auth_headers import Challenge

    ch = DigestChallenge.from_header(Challenge.parse(challenge_text))
    nc_text = f"{nc:08x}"
    response = compute_response(
        method=request.method,
        uri=str(request.uri),
        nonce=ch.nonce,
        realm=ch.realm,
        username=user,
        password=password,
        algorithm=ch.algorithm,
        qop="auth",
        nc=nc_text,
        cnonce="0a4f113b",
    )
    creds = DigestCredentials(
        username=user,
        realm=ch.realm,
        nonce=ch.nonce,
        uri=str(request.uri),
        response=response,
        algorithm=ch.algorithm,
        qop="auth",
        nc=nc_text,
        cnonce="0a4f113b",
    )
    return str(creds.to_header())


def authed_registrar() -> Registrar:
    creds = MemoryCredentials.from_passwords(
        {"alice": "wonderland", "bob": "builder"}, "example.com"
    )
    auth = DigestAuthenticator("example.com", creds, secret=b"k" * 32)
    return Registrar(
        SqliteLocationService(),
        RegistrarConfig(domains=frozenset({"example.com"})),
        authenticator=auth,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% A registrar SHOULD authenticate the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Additionally, registrars and redirect servers MAY make use of 401
##% (Unauthorized) responses for authentication
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.6
##= type=test
##% A UAS MAY include this header field
##% in a 2xx response to a request that was successfully authenticated
##% using digest based on the Authorization header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% When the UA sends the REGISTER request over the existing TLS connection, the
##% registrar SHOULD challenge the request with a 401 (Proxy Authentication Required)
##% response.
def test_step3_authentication_401_then_success() -> None:
    registrar = authed_registrar()
    first = registrar.handle(register(cseq=1), 0)
    assert first.status == 401
    challenges = first.headers.get_all("WWW-Authenticate")
    assert len(challenges) == 2 and "SHA-256" in challenges[0] and "MD5" in challenges[1]
    assert registrar.location.count(0) == 0
    retry = register(cseq=2, extra=())
    retry.headers.add("Authorization", _authorization(challenges[0], retry, "alice", "wonderland"))
    ok = registrar.handle(retry, 1)
    assert ok.status == 200
    assert registrar.location.count(1) == 1
    # The 200 proves the registrar knows the secret too: rspauth for this request's nc.
    info = parse_authentication_info(ok.headers.get("Authentication-Info") or "")
    assert (info.get("qop"), info.get("nc"), info.get("cnonce")) == (
        "auth",
        "00000001",
        "0a4f113b",
    )
    assert info.get("rspauth") and len(info.get("rspauth") or "") == 64  # SHA-256, hex
    wrong = register(cseq=3)
    wrong.headers.add("Authorization", _authorization(challenges[1], wrong, "alice", "guess"))
    assert registrar.handle(wrong, 2).status == 401


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the authenticated user is not authorized to modify bindings,
##% the registrar MUST return a 403 (Forbidden) and skip the remaining
##% steps.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar SHOULD determine if the authenticated user is
##% authorized to modify registrations for this address-of-record.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Once the originator has been identified, the recipient of the request SHOULD
##% ascertain whether or not this user is authorized to make the request in
##% question.
def test_step4_other_users_bindings_cannot_be_overwritten() -> None:
    registrar = authed_registrar()
    # Bob registers legitimately.
    bob = register("sip:bob@example.com", contacts=("<sip:bob@192.0.2.20>",), cseq=1)
    challenge = registrar.handle(bob, 0).headers.get_all("WWW-Authenticate")[0]
    bob2 = register("sip:bob@example.com", contacts=("<sip:bob@192.0.2.20>",), cseq=2)
    bob2.headers.add("Authorization", _authorization(challenge, bob2, "bob", "builder"))
    assert registrar.handle(bob2, 1).status == 200
    # Unauthenticated attempt to replace Bob's bindings: challenged, nothing changes.
    attack = register("sip:bob@example.com", contacts=("*",), expires=0, call_id="evil", cseq=9)
    refused = registrar.handle(attack, 2)
    assert refused.status == 401
    fresh = refused.headers.get_all("WWW-Authenticate")[0]
    # Alice authenticates as herself and tries Bob's AOR: 403.
    attack2 = register(
        "sip:bob@example.com",
        contacts=("<sip:mallory@203.0.113.5>",),
        call_id="evil2",
        cseq=1,
        from_="sip:alice@example.com",
    )
    attack2.headers.add("Authorization", _authorization(fresh, attack2, "alice", "wonderland"))
    response = registrar.handle(attack2, 3)
    assert response.status == 403
    assert [b.contact for b in registrar.location.bindings("sip:bob@example.com", 3)] == [
        "sip:bob@192.0.2.20"
    ]


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If no authentication mechanism is
##% available, the registrar MAY take the From address as the
##% asserted identity of the originator of the request.
def test_step4_without_authentication_from_must_match_to_or_be_granted() -> None:
    registrar = make(
        authorizations={"sip:secretary@example.com": frozenset({"sip:boss@example.com"})}
    )
    third = register("sip:bob@example.com", from_="sip:alice@example.com")
    assert registrar.handle(third, 0).status == 403
    granted = register("sip:boss@example.com", from_="sip:secretary@example.com")
    assert registrar.handle(granted, 0).status == 200


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the address-of-record is not valid for the
##% domain in the Request-URI, the registrar MUST send a 404 (Not
##% Found) response and skip the remaining steps.
def test_step5_aor_of_another_domain_404() -> None:
    registrar = make(domains=frozenset({"example.com", "example.net"}))
    request = register("sip:alice@example.net", uri="sip:example.com")
    assert registrar.handle(request, 0).status == 404


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The URI
##% MUST then be converted to a canonical form.  To do that, all URI
##% parameters MUST be removed (including the user-param), and any
##% escaped characters MUST be converted to their unescaped form.
def test_step5_canonical_aor() -> None:
    assert canonical_aor(parse_uri("sip:%61lice@EXAMPLE.com;user=phone;transport=tcp")) == (
        "sip:alice@example.com"
    )
    assert (
        canonical_aor(parse_uri("sips:bob:secret@example.com:5061")) == "sip:bob@example.com:5061"
    )
    assert canonical_aor(parse_uri("tel:+1555")) is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If any one of them fails (for example, because the back-end
##% database commit failed), the request MUST fail with a 500 (Server
##% Error) response and all tentative binding updates MUST be removed.
def test_step7_commit_failure_500() -> None:
    registrar = make()

    def broken(*args, **kwargs):
        raise LocationError("disk full")

    registrar.location.update = broken  # type: ignore[method-assign]
    assert registrar.handle(register(), 0).status == 500


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Registrars MUST ignore the Record-Route header field if it is
##% included in a REGISTER request.  Registrars MUST NOT include a
##% Record-Route header field in any response to a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% A registrar MUST not generate 6xx responses.
def test_record_route_ignored_and_no_6xx() -> None:
    registrar = make()
    request = register(extra=(("Record-Route", "<sip:p1.example.com;lr>"),))
    response = registrar.handle(request, 0)
    assert response.status == 200 and "Record-Route" not in response.headers
    assert registrar.handle(register(contacts=("*", "<sip:x@h>"), expires=0), 0).status < 600
    options = Request("OPTIONS", "sip:example.com", register().headers.copy())
    assert registrar.handle(options, 0).status == 405


def test_malformed_expires_400() -> None:
    registrar = make()
    assert registrar.handle(register(extra=(("Expires", "soon"),)), 0).status == 400


# -- expiry, restart, limits ---------------------------------------------------------------


def test_bindings_expire_on_time() -> None:
    registrar = make()
    registrar.handle(register(expires=120), 1000.0)
    registrar.handle(register(contacts=("<sip:b@192.0.2.2>",), call_id="2", expires=60), 1000.0)
    assert registrar.next_deadline() == 1060.0
    assert registrar.location.count(1059.999) == 2
    assert [b.contact for b in registrar.location.lookup(AOR, 1060.0)] == [
        "sip:alice@192.0.2.10:5060"
    ]
    assert registrar.handle_timer(1060.0) == 1
    assert registrar.next_deadline() == 1120.0
    assert registrar.handle(register(contacts=(), call_id="q"), 1120.0).contact == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST also be processed atomically, meaning that a
##% particular REGISTER request is either processed completely or not at
##% all.
def test_restart_bindings_persist_in_sqlite_file(tmp_path) -> None:
    path = str(tmp_path / "bindings.sqlite")
    now = time.time()
    config = RegistrarConfig(domains=frozenset({"example.com"}))
    first = Registrar(SqliteLocationService(path), config)
    first.handle(register(expires=60), now)
    first.handle(register(contacts=("<sip:b@192.0.2.2>",), call_id="2", expires=3600), now)
    first.location.close()  # type: ignore[attr-defined]
    second = Registrar(SqliteLocationService(path), config)
    response = second.handle(register(contacts=(), call_id="q"), now + 30)
    assert contacts(wire(response)) == [
        ("sip:alice@192.0.2.10:5060", 30),
        ("sip:b@192.0.2.2", 3570),
    ]
    # Refresh after the restart: CSeq ordering still applies to the stored binding.
    assert second.handle(register(cseq=1, expires=60), now + 31).status == 400
    assert second.handle(register(cseq=2, expires=60), now + 31).status == 200
    assert second.handle_timer(now + 3599) == 1
    assert [b.contact for b in second.location.lookup(AOR, now + 3599)] == ["sip:b@192.0.2.2"]
    assert second.location.lookup(AOR, now + 3600) == []


def test_flood_of_new_call_ids_for_same_contact_is_bounded() -> None:
    registrar = make(max_bindings_per_aor=3)
    for i in range(200):
        response = registrar.handle(register(call_id=f"flood-{i}", cseq=1), float(i))
        assert response.status == 200
    assert registrar.location.count(200.0) == 1


def test_flood_of_new_contacts_403_per_aor_then_503_when_full() -> None:
    registrar = make(max_bindings_per_aor=3, max_bindings_total=5)
    statuses = [
        registrar.handle(
            register(contacts=(f"<sip:alice@192.0.2.{i}>",), call_id=f"f{i}"), 0.0
        ).status
        for i in range(10)
    ]
    assert statuses == [200, 200, 200] + [403] * 7
    assert registrar.location.count(0.0) == 3
    # Other users fill the rest of the table; then new bindings get 503 + Retry-After.
    for user in ("bob", "carol"):
        ok = registrar.handle(register(f"sip:{user}@example.com", call_id=user), 0.0)
        assert ok.status == 200
    full = registrar.handle(register("sip:dave@example.com", call_id="dave"), 0.0)
    assert full.status == 503 and full.headers.get("Retry-After") == "60"
    # Refreshes and removals still work when the table is full.
    refresh = registrar.handle(register("sip:bob@example.com", call_id="bob", cseq=2), 1.0)
    assert refresh.status == 200

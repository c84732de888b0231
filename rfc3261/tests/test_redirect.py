"""The redirect server (RFC 3261 §8.3): 3xx from the registrar's bindings, 404/480, CANCEL."""

from __future__ import annotations

import pytest

from rfc3261.location import LocationError, SqliteLocationService
from rfc3261.message import Response, parse
from rfc3261.redirect import RedirectConfig, RedirectServer
from rfc3261.registrar import Registrar, RegistrarConfig
from rfc3261.tests.server_support import invite, register

DOMAIN = "example.com"


def make(users: set[str] | None = None, **config) -> RedirectServer:
    location = SqliteLocationService()
    registrar = Registrar(location, RegistrarConfig(domains=frozenset({DOMAIN})))
    config.setdefault("domains", frozenset({DOMAIN}))
    return RedirectServer(
        location,
        RedirectConfig(**config),
        registrar,
        users=None if users is None else users.__contains__,
    )


def wire(response: Response | None) -> Response:
    assert response is not None
    parsed = parse(bytes(response))
    assert isinstance(parsed, Response)
    return parsed


def registered(server: RedirectServer, *contacts: str, now: float = 1000.0) -> None:
    reg = register(f"sip:alice@{DOMAIN}", contacts=contacts, expires=600)
    assert wire(server.respond(reg, now)).status == 200


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% When a redirect server returns a 3xx response to a request, it
##% populates the list of (one or more) alternative locations into the
##% Contact header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% After
##% receiving a request other than CANCEL, the server either refuses the
##% request or gathers the list of alternative locations from the
##% location service and returns a final response of class 3xx.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% An "expires" parameter to the Contact header
##% field values may also be supplied to indicate the lifetime of the
##% Contact data.
def test_invite_for_a_registered_user_gets_302_with_every_binding() -> None:
    server = make()
    registered(server, "<sip:alice@192.0.2.10:5060>;q=0.4", "<sip:alice@192.0.2.11>;q=0.9")
    response = wire(server.respond(invite(f"sip:alice@{DOMAIN}"), 1100.0))
    assert response.status == 302
    values = [(str(c.uri), c.expires, c.q) for c in response.contact]
    # most preferred first, with the seconds each binding has left
    assert values == [("sip:alice@192.0.2.11", 500, 0.9), ("sip:alice@192.0.2.10:5060", 500, 0.4)]
    assert response.to.tag is not None


def test_the_request_uri_port_names_the_server_not_the_user() -> None:
    server = make()
    registered(server, "<sip:alice@192.0.2.10>")
    response = server.respond(invite(f"sip:alice@{DOMAIN}:5070"), 1000.0)
    assert response is not None and response.status == 302


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% However, redirect servers MUST NOT redirect a request to a URI equal
##% to the one in the Request-URI; instead, provided that the URI does
##% not point to itself, the server MAY proxy the request to the
##% destination URI, or MAY reject it with a 404.
def test_never_redirects_to_the_request_uri_itself() -> None:
    server = make()
    registered(server, f"<sip:alice@{DOMAIN}>", "<sip:alice@192.0.2.10>")
    response = wire(server.respond(invite(f"sip:alice@{DOMAIN}"), 1000.0))
    assert [str(c.uri) for c in response.contact] == ["sip:alice@192.0.2.10"]
    only_self = make(users={f"sip:alice@{DOMAIN}"})
    registered(only_self, f"<sip:alice@{DOMAIN}>")
    response = wire(only_self.respond(invite(f"sip:alice@{DOMAIN}"), 1000.0))
    assert response.status == 404 and not response.contact


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
##= type=test
##% The callee's end system was contacted successfully but the callee is
##% currently unavailable (for example, is not logged in, logged in but
##% in a state that precludes communication with the callee, or has
##% activated the "do not disturb" feature).
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.10
##= type=test
##% If the server does not know, or has no facility to determine,
##% whether or not the condition is permanent, the status code 404
##% (Not Found) SHOULD be used instead.
def test_unknown_user_404_known_but_unregistered_480() -> None:
    server = make(users={f"sip:bob@{DOMAIN}"})
    assert server.respond(invite(f"sip:carol@{DOMAIN}"), 0.0).status == 404
    assert server.respond(invite(f"sip:bob@{DOMAIN}"), 0.0).status == 480
    # without a directory, no binding means 404
    assert make().respond(invite(f"sip:bob@{DOMAIN}"), 0.0).status == 404


def test_expired_bindings_are_not_offered() -> None:
    server = make(users={f"sip:alice@{DOMAIN}"})
    registered(server, "<sip:alice@192.0.2.10>", now=0.0)
    assert server.respond(invite(f"sip:alice@{DOMAIN}"), 599.0).status == 302
    assert server.respond(invite(f"sip:alice@{DOMAIN}"), 601.0).status == 480


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% For
##% well-formed CANCEL requests, it SHOULD return a 2xx response.
def test_cancel_gets_200_and_ack_is_absorbed() -> None:
    server = make()
    assert server.respond(invite(f"sip:alice@{DOMAIN}", method="CANCEL"), 0.0).status == 200
    assert server.respond(invite(f"sip:alice@{DOMAIN}", method="ACK"), 0.0) is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% A redirect server does not issue any SIP requests of its own.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% Redirect servers MUST ignore features that are not understood
##% (including unrecognized header fields, any unknown option tags in
##% Require, or even method names) and proceed with the redirection of
##% the request in question.
def test_register_goes_to_the_registrar_and_other_methods_are_redirected() -> None:
    server = make()
    registered(server, "<sip:alice@192.0.2.10>")
    # an unknown method and an unknown Require are redirected all the same (§8.3)
    odd = invite(f"sip:alice@{DOMAIN}", method="FROBNICATE", extra=(("Require", "x-odd"),))
    assert server.respond(odd, 1000.0).status == 302
    # the only messages it produces are responses
    assert isinstance(server.respond(invite(f"sip:alice@{DOMAIN}"), 1000.0), Response)


def test_other_domains_schemes_and_the_server_itself() -> None:
    server = make()
    assert server.respond(invite("sip:alice@elsewhere.example"), 0.0).status == 404
    assert server.respond(invite("tel:+15551234", uri="tel:+15551234"), 0.0).status == 416
    options = wire(server.respond(invite(f"sip:{DOMAIN}", method="OPTIONS"), 0.0))
    assert options.status == 200 and "INVITE" in (options.headers.get("Allow") or "")
    assert server.respond(invite(f"sip:{DOMAIN}"), 0.0).status == 404


def test_a_failing_location_service_gets_500_with_retry_after() -> None:
    class Broken(SqliteLocationService):
        def lookup(self, aor: str, now: float) -> list:
            raise LocationError("down")

    server = RedirectServer(Broken(), RedirectConfig(domains=frozenset({DOMAIN})))
    response = wire(server.respond(invite(f"sip:alice@{DOMAIN}"), 0.0))
    assert response.status == 500 and response.headers.get("Retry-After") == "5"


def test_the_status_must_be_a_3xx() -> None:
    with pytest.raises(ValueError, match="3xx"):
        RedirectConfig(domains=frozenset({DOMAIN}), status=200)
    moved = make(status=301)
    registered(moved, "<sip:alice@192.0.2.10>")
    assert moved.respond(invite(f"sip:alice@{DOMAIN}"), 1000.0).status == 301


def test_static_contacts_follow_the_registered_ones_without_expires() -> None:
    location = SqliteLocationService()
    registrar = Registrar(location, RegistrarConfig(domains=frozenset({DOMAIN})))
    server = RedirectServer(
        location,
        RedirectConfig(domains=frozenset({DOMAIN})),
        registrar,
        static={f"sip:alice@{DOMAIN}": ("sip:alice@192.0.2.99",)},
    )
    first = wire(server.respond(invite(f"sip:alice@{DOMAIN}"), 0.0))
    assert [(str(c.uri), c.expires) for c in first.contact] == [("sip:alice@192.0.2.99", None)]
    registered(server, "<sip:alice@192.0.2.10>")
    both = wire(server.respond(invite(f"sip:alice@{DOMAIN}"), 1000.0))
    assert [str(c.uri) for c in both.contact] == ["sip:alice@192.0.2.10", "sip:alice@192.0.2.99"]


def test_the_program_flags_make_the_server() -> None:
    from rfc3261.programs import common
    from rfc3261.programs.redirect import build_parser, make_redirect

    args = build_parser().parse_args(
        [
            "--domain",
            DOMAIN,
            "--user",
            "bob",
            "--static",
            "alice=sip:alice@192.0.2.9",
            "--t1",
            "0.1",
        ]
    )
    location = SqliteLocationService()
    server = make_redirect(
        args, Registrar(location, RegistrarConfig(domains=frozenset())), location
    )
    assert args.t1 == 0.1 and server.config.status == 302
    assert server.respond(invite(f"sip:bob@{DOMAIN}"), 0.0).status == 480
    assert server.respond(invite(f"sip:alice@{DOMAIN}"), 0.0).status == 302
    args.static = ["no-uri"]
    with pytest.raises(common.ConfigError, match="USER=URI"):
        make_redirect(args, server.registrar, location)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--domain", DOMAIN, "--t1", "5"])

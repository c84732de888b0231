"""The registrar: processing REGISTER requests (RFC 3261 §10.3).

:meth:`Registrar.handle` runs the steps of §10.3 in order, one method per step, each
annotated with the RFC's words:

1. :meth:`~Registrar.check_request_uri` -- does this registrar keep bindings for the domain?
2. :meth:`~Registrar.check_require` -- extensions (§8.2.2.3, 420);
3. :meth:`~Registrar.authenticate` -- Digest (§22, 401), or the From address;
4. :meth:`~Registrar.authorize` -- may this user change this address-of-record (403)?
5. :meth:`~Registrar.address_of_record` -- the AOR from To, canonical (404);
6. :meth:`~Registrar.check_star` -- ``Contact: *`` with ``Expires: 0`` (400);
7. :meth:`~Registrar.apply_contacts` -- each contact's expiration (423 + Min-Expires),
   add / refresh / remove by Call-ID and CSeq, commit all or nothing (500);
8. :meth:`~Registrar.ok_response` -- 200 listing every current binding with its expires.

A failing step raises :class:`Reject` carrying its response, which "skips the remaining
steps".  :meth:`Registrar.handle` is :meth:`~Registrar.screen` (steps 1-5, no location
service) then :meth:`~Registrar.bind` (steps 6-8, one location transaction): an edge
with a database server may run the second on a worker while it receives more requests.

Extensions (RFC 3327 Path, RFC 5626 outbound) plug in per registrar instance
as :class:`RegistrarExtension` objects: their option-tags count as supported in step 2,
they see (and may change or refuse) each binding before step 7 commits it, and they
may add header fields to the 200 OK of step 8.

The logic is sans-I/O: no sockets and no clock; ``now`` is passed in (seconds since
the epoch, because bindings outlive the process; see :mod:`rfc3261.location`).
Bindings expire on time because every lookup ignores bindings whose time is up;
:meth:`Registrar.handle_timer` also deletes them, at :meth:`Registrar.next_deadline`.

Flood protection (limits the RFC leaves to policy):

- ``max_bindings_per_aor``: a REGISTER that would leave an AOR with more bindings is
  refused with 403 (Forbidden): the client's request is understood and will never be
  accepted as it is (§21.4.4 "Authorization will not help, and the request SHOULD NOT be
  repeated"); a flood of REGISTERs with new Call-IDs for the *same* contact replaces the
  binding (step 7: a different Call-ID updates it) and so cannot grow the table at all;
- ``max_bindings_total``: when the whole table is full, a REGISTER that adds bindings is
  refused with 503 (Service Unavailable) and Retry-After: the condition is the server's
  temporary overload, not the client's fault (§21.5.4), and refreshes and removals still
  succeed, so registered users stay reachable.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .capabilities import method_check, require_check
from .digest_server import DigestAuthenticator
from .errors import ParseError
from .headers import Contact
from .location import Binding, LocationError, LocationService
from .message import Request, Response
from .uri import AbsoluteURI, SipURI, parse_uri, unescape, uri_equal

__all__ = [
    "Registrar",
    "RegistrarConfig",
    "RegistrarExtension",
    "Reject",
    "Screened",
    "canonical_aor",
]


class Reject(Exception):
    """A step of §10.3 failed: send ``response`` and skip the remaining steps."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"{response.status} {response.reason}")
        self.response = response


class RegistrarExtension:
    """Hooks of a :class:`Registrar` for an extension; override what you need.

    ``option_tags`` are supported in Require (step 2).  ``on_binding`` may refuse the
    REGISTER by raising :class:`Reject` with its response (e.g. 420, 421 or 439 for
    RFC 5626); nothing of the request is committed then.  ``on_response`` runs after
    the commit, so it must not refuse.
    """

    #: A short name, by which the programs load it (``extensions/``, see
    #: :mod:`rfc3261.programs.plugins`); "" for none.
    name: str = ""
    option_tags: frozenset[str] = frozenset()

    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        """Step 7: the binding about to be stored for one Contact of ``request`` (added
        or refreshed), which came from ``source``; return it, or a copy with other
        ``path``/``flow``/``extra`` (``dataclasses.replace``).  Not called for removals."""
        return binding

    def replaces(self, binding: Binding, bindings: list[Binding]) -> list[Binding]:
        """Step 7: which of the AOR's other ``bindings`` the new ``binding`` replaces
        (RFC 5626 §6: the same instance-id and reg-id under another contact); they are
        removed in the same commit.  Called after :meth:`on_binding`."""
        return []

    def on_response(self, request: Request, response: Response, bindings: list[Binding]) -> None:
        """Step 8: add header fields (e.g. Path, Require, Supported) to the 200 OK that
        lists ``bindings``."""


@dataclass
class RegistrarConfig:
    """Local policy of a registrar (§10.3)."""

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% A registrar has to know (for example, through configuration) the set
    ##% of domain(s) for which it maintains bindings.
    domains: frozenset[str]
    # Step 7: "a locally-configured default value", the minimum (423) and a maximum.
    default_expires: int = 3600
    min_expires: int = 60
    max_expires: int = 86400
    # Flood protection (see the module docstring).
    max_bindings_per_aor: int = 10
    max_bindings_total: int = 1_000_000
    retry_after: int = 60
    location_retry_after: int = 5  # Retry-After of a 500 when the location store failed
    # Option-tags this registrar supports (step 2).
    supported: frozenset[str] = frozenset()
    # Step 4: user name (or canonical From AOR without authentication) -> AORs it may
    # modify besides its own (third-party registration).
    authorizations: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domains = frozenset(d.lower() for d in self.domains)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##% The URI
##% MUST then be converted to a canonical form.  To do that, all URI
##% parameters MUST be removed (including the user-param), and any
##% escaped characters MUST be converted to their unescaped form.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##% The result serves as an index into the list of bindings.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##% When accessing the location service constructed by a registrar, the
##% Request-URI MUST first be canonicalized as described in Section 10.3
##% before being used as an index.
def canonical_aor(uri: SipURI | AbsoluteURI) -> str | None:
    """The canonical address-of-record of a SIP/SIPS URI; None for other schemes.

    Parameters, headers and the password go; the user part is unescaped; the host is
    lower-cased.  SIP and SIPS name the same AOR here ("sip:"), so a SIPS call reaches
    a user who registered over SIP; the proxy still forwards over TLS for a SIPS
    Request-URI (§16.6 step 7).
    """
    if not isinstance(uri, SipURI):
        return None
    user = "" if uri.user is None else unescape(uri.user) + "@"
    port = "" if uri.port is None else f":{uri.port}"
    return f"sip:{user}{uri.host_lower}{port}"


class _ContactIndex:
    """The bindings of one AOR found by the URI comparison rules (§19.1.4) in constant time.

    Equal URIs hash alike (:class:`~rfc3261.uri.SipURI` hashes the components §19.1.4
    compares), so a contact is compared only with the stored URIs of its hash bucket,
    each parsed once: a REGISTER with n Contacts costs O(n), not O(n²) URI parses.
    """

    def __init__(self, bindings: dict[str, Binding]) -> None:
        self._buckets: dict[int, list[tuple[SipURI | AbsoluteURI, str]]] = {}
        # Stored spelling -> its bucket (None: unparsable, it matches only its spelling).
        self._texts: dict[str, int | None] = {}
        for text in bindings:
            try:
                self.add(text, parse_uri(text))
            except ValueError:
                self._texts[text] = None

    def add(self, text: str, uri: SipURI | AbsoluteURI) -> None:
        key = hash(uri)
        self._texts[text] = key
        self._buckets.setdefault(key, []).append((uri, text))

    def remove(self, text: str) -> None:
        key = self._texts.pop(text, None)
        if key is not None:
            bucket = self._buckets[key]
            bucket[:] = [entry for entry in bucket if entry[1] != text]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% For each address, the registrar then searches the list of
    ##% current bindings using the URI comparison rules.
    def find(self, text: str, uri: SipURI | AbsoluteURI) -> str | None:
        """The stored spelling of the binding whose contact equals ``uri``, or None."""
        if text in self._texts:
            return text
        for stored, stored_text in self._buckets.get(hash(uri), ()):
            if uri_equal(uri, stored):
                return stored_text
        return None


@dataclass(frozen=True, slots=True)
class Screened:
    """A REGISTER that passed steps 1 to 5 (:meth:`Registrar.screen`): its canonical
    address-of-record and who sent it (identity, authenticated)."""

    aor: str
    identity: tuple[str, bool]


class Registrar:
    """A registrar for the domains of ``config``, storing bindings in ``location``."""

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% A registrar is a UAS that responds to REGISTER requests and maintains
    ##% a list of bindings that are accessible to proxy servers and redirect
    ##% servers within its administrative domain.
    def __init__(
        self,
        location: LocationService,
        config: RegistrarConfig,
        authenticator: DigestAuthenticator | None = None,
        *,
        extensions: Iterable[RegistrarExtension] = (),
    ) -> None:
        self.location = location
        self.config = config
        self.authenticator = authenticator
        self.extensions: tuple[RegistrarExtension, ...] = tuple(extensions)
        for extension in self.extensions:
            if not isinstance(extension, RegistrarExtension):
                raise TypeError(f"{extension!r} is not a RegistrarExtension")
        self._extension_tags = frozenset(
            tag.lower() for extension in self.extensions for tag in extension.option_tags
        )
        self._total_count = 0
        self._total_at = float("-inf")
        # Seconds between counts of the whole table (see _total); registrars sharing a
        # process's load (the program's database workers) count less often each.
        self.recount_interval = 1.0

    # -- the procedure

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% When receiving a REGISTER request, a registrar follows these steps:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% A registrar MUST not generate 6xx responses.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% REGISTER requests MUST be processed by a registrar in the order that
    ##% they are received.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% Each REGISTER message MUST be processed independently of any other
    ##% registration or binding changes.
    def handle(self, request: Request, now: float, *, source: object = None) -> Response:
        """The final response to a REGISTER ``request`` received at ``now``.

        Called once per request, in arrival order; every change of one request is
        committed in one location-service transaction.  ``source`` (the transport
        address it came from) is stored with new bindings as ``received``.
        """
        screened = self.screen(request, now)
        if isinstance(screened, Response):
            return screened
        return self.bind(request, screened, now, source=source)

    def screen(self, request: Request, now: float) -> Screened | Response:
        """Steps 1 to 5, which need no location service: the refusal to send, or what
        :meth:`bind` needs.  :meth:`handle` calls both in turn; an edge may run
        :meth:`bind` elsewhere (a worker with its own database connection), as long as
        the REGISTERs of one AOR reach it in the order they arrived."""
        # "it accepts only REGISTER requests" (§10.3): a UAS answers 405 (§8.2.1).
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.5
        ##% A registrar aware of the definition of REFER SHOULD return a 405
        ##% response.
        refusal = method_check(request, ("REGISTER",))
        if refusal is not None:
            return refusal
        try:
            self.check_request_uri(request)  # step 1
            self.check_require(request)  # step 2
            identity = self.authenticate(request, now)  # step 3
            self.authorize(request, identity)  # step 4
            return Screened(self.address_of_record(request), identity)  # step 5
        except Reject as reject:
            return reject.response
        except ParseError as exc:
            return request.make_response(400, f"Bad Request ({exc})"[:120])

    def bind(
        self, request: Request, screened: Screened, now: float, *, source: object = None
    ) -> Response:
        """Steps 6 to 8 for a REGISTER :meth:`screen` let through: the final response."""
        aor, identity = screened.aor, screened.identity
        try:
            # Steps 6 and 7 read, check and write the AOR in one location transaction:
            # a Reject rolls it back; other processes sharing the store wait for it.
            with self.location.transaction(aor, now):
                current = self.location.bindings(aor, now)
                if self.check_star(request, aor, current, now):  # step 6
                    response = self.ok_response(request, [], now)  # all removed: step 8
                elif not request.contact:  # step 6 "skips to the last"
                    response = self.ok_response(request, current, now)
                else:
                    bindings = self.apply_contacts(request, aor, current, now, source)  # step 7
                    response = self.ok_response(request, bindings, now)  # step 8
            if identity[1] and self.authenticator is not None:
                # Mutual authentication (§20.6, RFC 7616 §3.5): rspauth in the 200.
                info = self.authenticator.authentication_info(request, response.body)
                if info is not None:
                    response.headers.add("Authentication-Info", str(info))
            return response
        except Reject as reject:
            return reject.response
        except LocationError:
            # The store failed (unreachable, commit refused): nothing was committed.
            return self._server_error(request)
        except ParseError as exc:
            # A header field the steps need is malformed (Contact, Expires, To...).
            return request.make_response(400, f"Bad Request ({exc})"[:120])

    def is_responsible(self, uri: SipURI | AbsoluteURI) -> bool:
        """Whether this registrar keeps bindings for the domain of ``uri`` (step 1)."""
        return isinstance(uri, SipURI) and uri.host_lower in self.config.domains

    def next_deadline(self) -> float | None:
        """When the next binding expires (call :meth:`handle_timer` then)."""
        return self.location.next_expiry()

    def handle_timer(self, now: float) -> int:
        """Delete the bindings that have expired by ``now``; return how many."""
        return self.location.expire(now)

    # -- step 1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar inspects the Request-URI to determine whether it
    ##% has access to bindings for the domain identified in the
    ##% Request-URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If not, and if the server also acts as a proxy server, the
    ##% server SHOULD forward the request to the addressed domain,
    ##% following the general behavior for proxying messages described
    ##% in Section 16.
    def check_request_uri(self, request: Request) -> None:
        """Step 1: the Request-URI names a domain of ours.

        A proxy with an embedded registrar forwards REGISTERs for other domains before
        calling :meth:`handle` (:class:`rfc3261.proxy.Proxy`); a registrar alone
        answers 404 (Not Found): it has no bindings to offer for that domain.
        """
        uri = request.uri
        if not isinstance(uri, SipURI):
            raise Reject(request.make_response(416))
        if not self.is_responsible(uri):
            raise Reject(request.make_response(404, "Domain Not Served"))

    # -- step 2

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% To guarantee that the registrar supports any necessary extensions,
    ##% the registrar MUST process the Require header field values as
    ##% described for UASs in Section 8.2.2.
    def check_require(self, request: Request) -> None:
        """Step 2: every option-tag in Require is supported (by the configuration or an
        extension), or 420 with Unsupported."""
        refusal = require_check(request, self.config.supported | self._extension_tags)
        if refusal is not None:
            raise Reject(refusal)

    # -- step 3

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% A registrar SHOULD authenticate the UAC.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% Registration behavior in no way overrides the generic
    ##% authentication framework for SIP.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If no authentication mechanism is
    ##% available, the registrar MAY take the From address as the
    ##% asserted identity of the originator of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Additionally, registrars and redirect servers MAY make use of 401
    ##% (Unauthorized) responses for authentication
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
    ##% When the UA sends the REGISTER request over the existing TLS connection, the
    ##% registrar SHOULD challenge the request with a 401 (Proxy Authentication Required)
    ##% response.
    def authenticate(self, request: Request, now: float) -> tuple[str, bool]:
        """Step 3: (identity, authenticated).  With Digest the identity is the user name;
        without, the canonical From address."""
        if self.authenticator is None:
            return canonical_aor(request.from_.uri) or "", False
        username, challenge = self.authenticator.authenticate(request, now)
        if challenge is not None:
            raise Reject(challenge)
        assert username is not None
        return username, True

    # -- step 4

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar SHOULD determine if the authenticated user is
    ##% authorized to modify registrations for this address-of-record.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If the authenticated user is not authorized to modify bindings,
    ##% the registrar MUST return a 403 (Forbidden) and skip the remaining
    ##% steps.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22
    ##% Once the originator has been identified, the recipient of the
    ##% request SHOULD ascertain whether or not this user is authorized to
    ##% make the request in question.
    def authorize(self, request: Request, identity: tuple[str, bool]) -> None:
        """Step 4: the identity may modify the AOR of the To header field, or 403.

        A user may modify its own AOR (user part equal to the user name, or, without
        authentication, From equal to To) and those ``config.authorizations`` grants it
        (third-party registration).
        """
        name, authenticated = identity
        aor = canonical_aor(request.to.uri)
        if aor is None:
            return  # step 5 rejects it with 404
        if name in self.config.authorizations and aor in self.config.authorizations[name]:
            return
        if authenticated:
            to_uri = request.to.uri
            assert isinstance(to_uri, SipURI)
            own = to_uri.user is not None and unescape(to_uri.user) == name
        else:
            own = aor == name
        if not own:
            raise Reject(request.make_response(403, "Not Authorized For This AOR"))

    # -- step 5

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar extracts the address-of-record from the To header
    ##% field of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If the address-of-record is not valid for the
    ##% domain in the Request-URI, the registrar MUST send a 404 (Not
    ##% Found) response and skip the remaining steps.
    ##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.4
    ##% A registrar would reject this request with a 400 Bad Request response, since the To:
    ##% header field is required to contain a SIP or SIPS URI as an AOR.
    def address_of_record(self, request: Request) -> str:
        """Step 5: the canonical AOR from To; 400 unless a SIP or SIPS URI, 404 unless in
        the Request-URI's domain."""
        to_uri = request.to.uri
        if not isinstance(to_uri, SipURI):
            raise Reject(request.make_response(400, "Bad Request (To is not a SIP or SIPS AOR)"))
        aor = canonical_aor(to_uri)
        request_uri = request.uri
        if (
            aor is None
            or not isinstance(to_uri, SipURI)
            or not isinstance(request_uri, SipURI)
            or to_uri.host_lower != request_uri.host_lower
        ):
            raise Reject(request.make_response(404, "AOR Not In This Domain"))
        return aor

    # -- step 6

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar checks whether the request contains the Contact
    ##% header field.  If not, it skips to the last step.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If the
    ##% Contact header field is present, the registrar checks if there
    ##% is one Contact field value that contains the special value "*"
    ##% and an Expires field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If the request has additional Contact
    ##% fields or an expiration time other than zero, the request is
    ##% invalid, and the server MUST return a 400 (Invalid Request) and
    ##% skip the remaining steps.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If not, the registrar checks whether
    ##% the Call-ID agrees with the value stored for each binding.  If
    ##% not, it MUST remove the binding.  If it does agree, it MUST
    ##% remove the binding only if the CSeq in the request is higher
    ##% than the value stored for that binding.  Otherwise, the update
    ##% MUST be aborted and the request fails.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% The REGISTER-specific Contact header field value of "*" applies to
    ##% all registrations, but it MUST NOT be used unless the Expires header
    ##% field is present with a value of "0".
    def check_star(self, request: Request, aor: str, current: list[Binding], now: float) -> bool:
        """Step 6: ``Contact: *``: remove every binding (True) or 400; False without "*"."""
        contacts = request.contact
        if not any(c.is_star for c in contacts):
            return False
        if len(contacts) != 1 or request.expires != 0:
            raise Reject(request.make_response(400, "Invalid Request (* needs Expires: 0)"))
        call_id, cseq = request.call_id, request.cseq.number
        for binding in current:
            if binding.call_id == call_id and cseq <= binding.cseq:
                raise Reject(self._out_of_order(request))
        self._commit(request, aor, [], [b.contact for b in current], now)
        return True

    # -- step 7

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar now processes each contact address in the Contact
    ##% header field in turn.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% For each address, the registrar then searches the list of
    ##% current bindings using the URI comparison rules.  If the binding
    ##% does not exist, it is tentatively added.  If the binding does
    ##% exist, the registrar checks the Call-ID value.  If the Call-ID
    ##% value in the existing binding differs from the Call-ID value in
    ##% the request, the binding MUST be removed if the expiration time
    ##% is zero and updated otherwise.  If they are the same, the
    ##% registrar compares the CSeq value.  If the value is higher than
    ##% that of the existing binding, it MUST update or remove the
    ##% binding as above.  If not, the update MUST be aborted and the
    ##% request fails.
    def apply_contacts(
        self,
        request: Request,
        aor: str,
        current: list[Binding],
        now: float,
        source: object = None,
    ) -> list[Binding]:
        """Step 7: add, refresh or remove a binding per contact; commit all or none.

        Returns the bindings of ``aor`` after the update, in registration order.
        """
        call_id, cseq = request.call_id, request.cseq.number
        contacts = request.contact
        self.check_contact_count(request, contacts, current)
        # Contact text -> binding, in registration order; a refreshed binding keeps its place.
        result: dict[str, Binding] = {b.contact: b for b in current}
        # The same bindings found by URI comparison, each URI parsed once (linear time).
        index = _ContactIndex(result)
        # What this request changes: contact text -> new binding, or None to remove.
        changed: dict[str, Binding | None] = {}
        for contact in contacts:
            expires = self.expiration(request, contact)
            text = str(contact.uri)
            found = index.find(text, contact.uri)
            existing = None if found is None else result[found]
            if existing is not None:
                text = existing.contact  # the stored spelling is the database key
                stale = existing.call_id == call_id and cseq <= existing.cseq
                if stale and text not in changed:
                    raise Reject(self._out_of_order(request))
            if expires == 0:
                if existing is not None:
                    del result[text]
                    index.remove(text)
                    changed[text] = None
                continue
            received = None if source is None else str(source)
            binding = Binding(aor, text, now + expires, call_id, cseq, contact.q, received)
            binding = self._extend(request, binding, source)
            if existing is None:
                index.add(text, contact.uri)
            result[text] = binding
            changed[text] = binding
            for extension in self.extensions:
                for old in extension.replaces(binding, list(result.values())):
                    if old.contact != text and old.contact in result:
                        del result[old.contact]
                        index.remove(old.contact)
                        changed[old.contact] = None
        after = list(result.values())
        self.check_limits(request, aor, current, after, now)
        store = [b for b in changed.values() if b is not None]
        remove = [text for text, b in changed.items() if b is None]
        self._commit(request, aor, store, remove, now)
        return after

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% For each address, it determines the expiration interval as
    ##% follows:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If the field value has an "expires" parameter, that value MUST
    ##% be taken as the requested expiration.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If there is no such parameter, but the request has an Expires
    ##% header field, that value MUST be taken as the requested
    ##% expiration.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If there is neither, a locally-configured default value MUST
    ##% be taken as the requested expiration.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar MAY choose an expiration less than the requested
    ##% expiration interval.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If and only if the requested expiration interval
    ##% is greater than zero AND smaller than one hour AND less than a
    ##% registrar-configured minimum, the registrar MAY reject the
    ##% registration with a response of 423 (Interval Too Brief).  This
    ##% response MUST contain a Min-Expires header field that states the
    ##% minimum expiration interval the registrar is willing to honor.  It
    ##% then skips the remaining steps.
    def expiration(self, request: Request, contact: Contact) -> int:
        """The expiration interval granted to ``contact`` (seconds), or 423."""
        requested = contact.expires
        if requested is None:
            requested = request.expires
        if requested is None:
            requested = self.config.default_expires
        if 0 < requested < 3600 and requested < self.config.min_expires:
            response = request.make_response(423)
            response.headers.add("Min-Expires", self.config.min_expires)
            raise Reject(response)
        return min(requested, self.config.max_expires)

    def _extend(self, request: Request, binding: Binding, source: Any) -> Binding:
        """Pass a binding to be stored through every extension's ``on_binding``."""
        for extension in self.extensions:
            changed = extension.on_binding(request, binding, source)
            if not isinstance(changed, Binding):
                raise TypeError(f"{extension!r}.on_binding returned {changed!r}, not a Binding")
            if (changed.aor, changed.contact) != (binding.aor, binding.contact):
                raise ValueError(f"{extension!r}.on_binding changed the AOR or contact")
            binding = changed
        return binding

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
    ##% Attackers might also attempt to deplete
    ##% available memory and disk resources of a registrar by registering
    ##% huge numbers of bindings.
    def check_contact_count(
        self, request: Request, contacts: list[Contact], current: list[Binding]
    ) -> None:
        """Flood protection, before any work per contact: 403 for more Contact values than
        the AOR could end up with plus those it has (each value adds, refreshes or
        removes at most one binding, so a longer list cannot be accepted anyway)."""
        if len(contacts) > self.config.max_bindings_per_aor + len(current):
            raise Reject(request.make_response(403, "Too Many Bindings For This AOR"))

    def check_limits(
        self, request: Request, aor: str, before: list[Binding], after: list[Binding], now: float
    ) -> None:
        """Flood protection: 403 over the per-AOR limit, 503 when the table is full."""
        if len(after) > len(before) and len(after) > self.config.max_bindings_per_aor:
            raise Reject(request.make_response(403, "Too Many Bindings For This AOR"))
        added = len(after) - len(before)
        if added > 0 and self._total(now) + added > self.config.max_bindings_total:
            response = request.make_response(503, "Registrar Full")
            response.headers.add("Retry-After", self.config.retry_after)
            raise Reject(response)
        if added > 0:
            self._total_count += added

    def _total(self, now: float) -> int:
        """The number of bindings, counted at most every ``recount_interval`` seconds
        (counting is O(n)); in between, bindings this registrar added are added to the
        last count."""
        if now - self._total_at >= self.recount_interval or now < self._total_at:
            self._total_count = self.location.count(now)
            self._total_at = now
        return self._total_count

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If any one of them fails (for example, because the back-end
    ##% database commit failed), the request MUST fail with a 500 (Server
    ##% Error) response and all tentative binding updates MUST be removed.
    def _commit(
        self,
        request: Request,
        aor: str,
        store: list[Binding],
        remove: Iterable[str],
        now: float,
    ) -> None:
        try:
            # The location service rolls the whole update back when it fails.
            self.location.update(aor, store, list(remove), now)
        except LocationError as exc:
            raise Reject(self._server_error(request)) from exc

    def _server_error(self, request: Request) -> Response:
        # 500, with Retry-After (§21.5.1 "MAY"): a location store that failed (a database
        # restarting) is usually back within seconds.
        response = request.make_response(500, "Server Error (binding update failed)")
        response.headers.add("Retry-After", self.config.location_retry_after)
        return response

    def _out_of_order(self, request: Request) -> Response:
        # §10.3 says only that "the request fails"; 400 because the fault is the
        # request's (an older REGISTER arriving after a newer one of the same Call-ID),
        # and repeating it unchanged will never succeed.
        return request.make_response(400, "Out-of-Order CSeq")

    # -- step 8

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The registrar returns a 200 (OK) response.  The response MUST
    ##% contain Contact header field values enumerating all current
    ##% bindings.  Each Contact value MUST feature an "expires" parameter
    ##% indicating its expiration interval chosen by the registrar.  The
    ##% response SHOULD include a Date header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% Registrars MUST ignore the Record-Route header field if it is
    ##% included in a REGISTER request.  Registrars MUST NOT include a
    ##% Record-Route header field in any response to a REGISTER request.
    def ok_response(self, request: Request, bindings: list[Binding], now: float) -> Response:
        """Step 8: 200 with a Contact per current binding (with expires) and a Date.

        The response is built by ``make_response``, which copies no Record-Route.
        """
        response = request.make_response(200)
        for binding in bindings:
            value = f"<{binding.contact}>;expires={binding.expires_in(now)}"
            if binding.q is not None:
                value += f";q={binding.q:g}"
            response.headers.add("Contact", value)
        response.headers.add("Date", email.utils.formatdate(now, usegmt=True))
        for extension in self.extensions:
            extension.on_response(request, response, bindings)
        return response

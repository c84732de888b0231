"""UAC behaviour: requests a user agent sends and the responses it gets (RFC 3261 §8.1).

:class:`UacBehaviour` is one half of :class:`~rfc3261.ua_core.UserAgent` (the other is
:class:`~rfc3261.uas.UasBehaviour`); read it beside these sections:

- §8.1.1 generating the request: :meth:`~UacBehaviour.build_request` (§8.1.1.1
  Request-URI and route set, §8.1.1.2 To, §8.1.1.3 From, §8.1.1.6 Max-Forwards,
  §8.1.1.8 Contact, §8.1.1.9 Supported / Require, §8.1.1.10 body); the identifiers
  themselves (tags, Call-ID, branch, CSeq: §8.1.1.3-§8.1.1.7) are the UA's;
- §8.1.2 sending the request: :meth:`~UacBehaviour.destination_for`,
  :meth:`~UacBehaviour.send`, and :meth:`~UacBehaviour.in_dialog` for requests within
  a dialog (§12.2.1.1);
- §8.1.3 processing responses: transaction errors as 408 / 503 (§8.1.3.1), unknown
  codes as their x00 (§8.1.3.2), more than one Via (§8.1.3.3), redirection over a
  target set (§8.1.3.4), and the retries of §8.1.3.5: 401/407 with
  :mod:`rfc3261.auth_client` (§22.2), 416 with a SIP URI, 420 without the unsupported
  extensions, and whatever the installed extensions' ``retry`` hooks ask for.

It is a mixin: its state (``_clients``: the client transactions and the requests they
carry) and everything it uses from the UA (configuration, route set, identifiers,
installed extensions, the effect plumbing ``_process`` and ``drop``) are set up by
:class:`~rfc3261.ua_core.UserAgent`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .capabilities import unsupported_tags
from .dialog import Dialog, build_route
from .extension import (
    ClientRequest,
    ResponseEvent,
    UAEffect,
    UAEvent,
    effective_status,
    local_response,
)
from .headers import NameAddr, canonical_name
from .message import Request, Response, parse
from .params import Parameters
from .transaction import SendMessage, Transaction
from .uri import AbsoluteURI, SipURI, parse_uri

if TYPE_CHECKING:
    from .auth_client import AuthClient
    from .extension import UAExtension
    from .transaction_layer import TransactionLayer
    from .ua_core import UAConfig

__all__ = [
    "MAX_EXTENSION_RETRIES",
    "InsecureRedirect",
    "InvalidURIRequest",
    "UacBehaviour",
    "telephone_subscriber",
]


class InvalidURIRequest(ValueError):
    """A URI asks for a request the UA must not send (§19.1.5): invalid, or beyond it."""


@dataclass
class InsecureRedirect(UAEvent):
    """A request to a SIPS URI is being retried at a non-SIPS ``target`` (§8.1.3.4)."""

    client: ClientRequest
    target: SipURI | AbsoluteURI


class UacBehaviour:
    """The UAC side of a user agent core (§8.1), mixed into :class:`UserAgent`."""

    # What the UAC reads from the user agent it is part of.
    config: UAConfig
    layer: TransactionLayer
    aor: NameAddr
    route_set: list[NameAddr]
    auth: AuthClient
    extensions: list[UAExtension]
    dialog_methods: frozenset[str]
    supported: tuple[str, ...]
    accept: tuple[str, ...]
    _sent_by: tuple[str, int | None]
    # Its own state: each live client transaction and the request it carries.
    _clients: dict[Transaction, ClientRequest]

    # -- building requests (§8.1.1) -------------------------------------------------

    def build_request(
        self,
        method: str,
        to: str | NameAddr,
        *,
        request_uri: str | SipURI | AbsoluteURI | None = None,
        call_id: str | None = None,
        from_tag: str | None = None,
        cseq: int | None = None,
        contact: bool | None = None,
        headers: Iterable[tuple[str, Any]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        from_: NameAddr | None = None,
        anonymous: bool = False,
        require: Iterable[str] = (),
        proxy_require: Iterable[str] = (),
    ) -> Request:
        """A request outside any dialog with the six mandatory header fields (§8.1.1).

        ``anonymous`` hides the caller's identity in From (§8.1.1.3); ``require``
        and ``proxy_require`` list the option tags the UAS / the proxies must
        understand (§8.1.1.9).
        """
        to_addr = NameAddr.parse(to) if isinstance(to, str) else to
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
        ##% A request outside of a dialog MUST NOT contain a To tag; the tag in
        ##% the To field of a request identifies the peer of the dialog.
        to_addr = NameAddr(to_addr.display_name, to_addr.uri, Parameters(
            [(n, v) for n, v in to_addr.params if n.lower() != "tag"]
        ))  # fmt: skip
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
        ##% The initial Request-URI of the message SHOULD be set to the value of
        ##% the URI in the To field.
        target = to_addr.uri if request_uri is None else request_uri
        if isinstance(target, str):
            target = parse_uri(target)
        target = target.copy()
        if isinstance(target, SipURI):
            target.headers = []
        request_uri_value, route = build_route(target, self.route_set)
        base_from = from_ or self.aor
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
        ##% A UAC SHOULD
        ##% use the display name "Anonymous", along with a syntactically correct, but
        ##% otherwise meaningless URI (like sip:thisis@anonymous.invalid), if the
        ##% identity of the client is to remain hidden.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
        ##% A system SHOULD use the display name "Anonymous" if the identity of the client is to
        ##% remain hidden.
        if anonymous:
            base_from = NameAddr("Anonymous", parse_uri("sip:thisis@anonymous.invalid"))
        from_params = base_from.params.copy()
        from_params.set("tag", from_tag or self.new_tag())
        fields: list[tuple[str, Any]] = [("Route", str(r)) for r in route]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC supports extensions to SIP that can be applied by the
        ##% server to the response, the UAC SHOULD include a Supported header
        ##% field in the request listing the option tags (Section 19.2) for those
        ##% extensions.
        if self.supported:
            fields.append(("Supported", ", ".join(self.supported)))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC wishes to insist that a UAS understand an extension that
        ##% the UAC will apply to the request in order to process the request, it
        ##% MUST insert a Require header field into the request listing the
        ##% option tag for that extension.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC wishes to apply an
        ##% extension to the request and insist that any proxies that are
        ##% traversed understand that extension, it MUST insert a Proxy-Require
        ##% header field into the request listing the option tag for that
        ##% extension.
        require, proxy_require = list(require), list(proxy_require)
        if require:
            fields.append(("Require", ", ".join(require)))
        if proxy_require:
            fields.append(("Proxy-Require", ", ".join(proxy_require)))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.1
        ##% An Accept header field SHOULD be included to indicate the type of
        ##% message body the UAC wishes to receive in the response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% An Accept (Section 20.1) header field MAY be present in the INVITE.
        if method in ("OPTIONS", "INVITE") and self.accept:
            fields.append(("Accept", ", ".join(self.accept)))
        fields.extend(headers)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
        ##% The Contact header field MUST be present and contain exactly one SIP
        ##% or SIPS URI in any request that can result in the establishment of a
        ##% dialog.
        if contact is None:
            contact = method in self.dialog_methods
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.6
        ##% A UAC MUST insert a Max-Forwards header field into each request it
        ##% originates with a value that SHOULD be 70.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.10
        ##% SIP requests MAY contain a MIME-encoded message-body.
        return Request.build(
            method,
            request_uri_value,
            via=self.new_via(),
            from_=NameAddr(base_from.display_name, base_from.uri, from_params),
            to=to_addr,
            call_id=call_id or self.new_call_id(),
            cseq=cseq if cseq is not None else self.initial_cseq(),
            max_forwards=70,
            contact=self.contact(self.needs_sips(request_uri_value, route)) if contact else None,
            headers=fields,
            body=body,
            content_type=content_type,
        )

    # -- forming a request from a URI (§19.1.5) -------------------------------------------

    def form_request(self, uri: str | SipURI) -> Request:
        """The request a SIP or SIPS URI asks for: a link clicked, a business card (§19.1.5).

        The method parameter names the method (INVITE when absent, §19.1.1); every other
        parameter stays in the Request-URI; the URI's headers become header fields of the
        request, except those a URI may not set (`_NOT_FROM_URI`).  Raises
        :class:`InvalidURIRequest`, and nothing is sent, when the request would not be valid
        SIP or requires an extension the UA does not support.
        """
        target = parse_uri(uri) if isinstance(uri, str) else uri.copy()
        if not isinstance(target, SipURI):
            raise InvalidURIRequest(f"a request is formed from a SIP or SIPS URI, not {target}")
        method = "INVITE"
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
        ##% If the URI contains a method parameter, its value MUST be used as the method of
        ##% the request.
        if target.params.get("method"):
            method = str(target.params.get("method"))

        request_uri = target.copy()
        request_uri.headers = []
        params: list[tuple[str, str | None]] = []
        for name, value in target.params:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
            ##% The method parameter MUST NOT be placed in the Request-URI.
            if name.lower() == "method":
                continue

            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
            ##% An implementation MUST include any provided transport, maddr, ttl, or
            ##% user parameter in the Request-URI of the formed request.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
            ##% Unknown URI parameters MUST be placed in the message's Request-URI.
            params.append((name, value))
        request_uri.params = Parameters(params)
        # (key: the header field's canonical name; name: as the URI writes it)
        requested = [
            (canonical_name(unquote(n)), unquote(n), unquote(v)) for n, v in target.headers
        ]
        body = next((v.encode() for key, _, v in requested if key == "body"), None)
        to: str | NameAddr = NameAddr(None, request_uri.copy())
        content_type = None
        fields: list[tuple[str, str]] = []
        for key, name, value in requested:
            if key in _NOT_FROM_URI or key == "body":
                continue

            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
            ##% An implementation SHOULD verify the accuracy of any requested descriptive
            ##% header fields, including: Content-Disposition, Content-Encoding,
            ##% Content-Language, Content-Length, Content-Type, Date, Mime-Version, and
            ##% Timestamp.
            # A field describing the body is accurate only with a body; the UA vouches for
            # no Content-Length, Date or Timestamp it did not compute itself.
            if (key in _DESCRIBING_BODY and body is None) or key in _MEASURED:
                continue

            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
            ##% An implementation SHOULD treat the presence of any headers or body parts in
            ##% the URI as a desire to include them in the message, and choose to honor the
            ##% request on a per-component basis.
            if key == "to":
                to = value
            elif key == "content-type":
                content_type = value
            else:
                fields.append((name, value))
        try:
            request = self.build_request(
                method,
                to,
                request_uri=request_uri,
                headers=fields,
                body=body or b"",
                content_type=content_type,
            )
        except ValueError as error:
            raise InvalidURIRequest(f"{target}: {error}") from error
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
        ##% An implementation MUST NOT proceed with transmitting the request.
        # Every header field taken from the URI is parsed: one malformed makes the URI
        # invalid, and the request is never sent.
        try:
            for name, _ in fields:
                request.headers.typed(name)
            parse(bytes(request))
        except ValueError as error:
            raise InvalidURIRequest(f"{target} forms an invalid request: {error}") from error

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
        ##% An implementation MUST NOT send a request requiring an extension that it does
        ##% not support.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
        ##% An implementation SHOULD refuse to send these requests rather than modifying
        ##% them to match their capabilities.
        unknown = [
            tag
            for header in ("Require", "Proxy-Require")
            for tag in unsupported_tags(request, header, self.supported)
        ]
        if unknown:
            raise InvalidURIRequest(f"{target} requires unsupported extensions: {unknown}")

        return request

    def request_from_uri(
        self, uri: str | SipURI, now: float, *, owner: Any = None
    ) -> tuple[ClientRequest, list[UAEffect]]:
        """Form the request ``uri`` asks for (:meth:`form_request`, §19.1.5) and send it."""
        return self.send(self.form_request(uri), now, owner=owner)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% If the
    ##% first element in the route set indicated a strict router (resulting
    ##% in forming the request as described in Section 12.2.1.1), the
    ##% procedures MUST be applied to the Request-URI of the request.
    ##% Otherwise, the procedures are applied to the first Route header field
    ##% value in the request (if one exists), or to the request's Request-URI
    ##% if there is no Route header field present.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% If the request
    ##% contains a Route header field, the request SHOULD be sent to the
    ##% locations derived from its topmost value
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% In particular, a UAC configured with an outbound proxy SHOULD
    ##% attempt to send the request to the location indicated in the first
    ##% Route header field value instead of adopting the policy of sending
    ##% all messages to the outbound proxy.
    @staticmethod
    def destination_for(request: Request) -> SipURI | AbsoluteURI:
        """The URI the RFC 3263 procedures are applied to for ``request`` (§8.1.2)."""
        routes = request.route
        if routes:
            first = routes[0].uri
            if isinstance(first, SipURI) and first.lr:
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
                ##% Independent of which URI is used as input to the procedures of [4],
                ##% if the Request-URI specifies a SIPS resource, the UAC MUST follow
                ##% the procedures of [4] as if the input URI were a SIPS URI.
                uri = request.uri
                if isinstance(uri, SipURI) and uri.is_secure and not first.is_secure:
                    first = first.copy()
                    first.scheme = "sips"
                return first
        return request.uri

    # -- sending -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        to: str | NameAddr,
        now: float,
        *,
        owner: Any = None,
        **build: Any,
    ) -> tuple[ClientRequest, list[UAEffect]]:
        """Build a request outside any dialog (§8.1.1) and send it (§8.1.2)."""
        request = self.build_request(method, to, **build)
        return self.send(request, now, owner=owner)

    def send(
        self,
        request: Request,
        now: float,
        *,
        owner: Any = None,
        dialog: Dialog | None = None,
        authorize: bool = True,
    ) -> tuple[ClientRequest, list[UAEffect]]:
        """Send a request built by the caller in a new client transaction.

        ``authorize`` adds the credentials of earlier challenges (§22.1); a CANCEL,
        which cannot be challenged, goes without.
        """
        if authorize:
            self.auth.preauthorize(request)
        client = ClientRequest(request, None, owner=owner, dialog=dialog)
        client.target_set = [request.uri]
        return client, self._start(client, request, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2
    ##% Once a dialog has been established between two UAs, either of them
    ##% MAY initiate new transactions as needed within the dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% An OPTIONS request MAY be sent as part of an established dialog to
    ##% query the peer on capabilities that may be utilized later in the
    ##% dialog.
    def in_dialog(
        self,
        dialog: Dialog,
        method: str,
        now: float,
        *,
        owner: Any = None,
        headers: list[tuple[str, Any]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        contact: bool | None = None,
    ) -> tuple[ClientRequest, list[UAEffect]]:
        """Build a request within ``dialog`` (§12.2.1.1) and send it.

        ``contact`` (default: for the methods that create dialogs, the target refresh
        requests) adds the UA's Contact.
        """
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
        ##% A UAC SHOULD include a Contact header field in any target refresh
        ##% requests within a dialog, and unless there is a need to change it,
        ##% the URI SHOULD be the same as used in previous requests within the
        ##% dialog.
        request = dialog.create_request(
            method,
            self.new_via(),
            dialog.next_local_seq(self.initial_cseq()),
            contact=self.contact(dialog.secure)
            if (method in self.dialog_methods if contact is None else contact)
            else None,
            headers=headers,
            body=body,
            content_type=content_type,
        )
        return self.send(request, now, owner=owner, dialog=dialog)

    def before_transaction(self, request: Request) -> None:
        """A hook called with every request just before its client transaction starts.

        New requests, retries, CANCELs and requests inside dialogs all pass here (after
        every extension's :meth:`~UAExtension.outgoing_request`), while the request can
        still change; the transaction is reliable or not by its top Via.  A program
        overrides it to make the top Via name the transport the request will go over
        (§18.1.1).  The UA core itself changes nothing here.
        """

    def _start(self, client: ClientRequest, request: Request, now: float) -> list[UAEffect]:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.41
        ##% Implementers SHOULD make the User-Agent header field a configurable option.
        if self.config.user_agent and "User-Agent" not in request.headers:
            request.headers.add("User-Agent", self.config.user_agent)

        for extension in self.extensions:
            extension.outgoing_request(request, client)
        self.before_transaction(request)
        client.request = request
        client.destination = self.destination_for(request)
        client.provisional = False
        transaction, effects = self.layer.send_request(request, client.destination, now)
        client.transaction = transaction
        self._clients[transaction] = client
        return self._process(effects, now)

    def _retry(
        self, client: ClientRequest, request: Request, now: float, keep_cseq: bool = False
    ) -> list[UAEffect]:
        """Send ``request`` (an amended copy) as a new transaction for ``client`` (with
        ``keep_cseq``, under the same CSeq: RFC 3263 §4.3's retry at the next server)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% In all of the above cases, the request is retried by creating a new
        ##% request with the appropriate modifications.  This new request
        ##% constitutes a new transaction and SHOULD have the same value of the
        ##% Call-ID, To, and From of the previous request, but the CSeq should
        ##% contain a new sequence number that is one higher than the previous.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
        ##% When a UAC resubmits a request with its credentials after receiving a
        ##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
        ##% it MUST increment the CSeq header field value as it would normally
        ##% when sending an updated request.
        if keep_cseq:
            number = client.request.cseq.number
        elif client.dialog is not None:
            number = client.dialog.next_local_seq(self.initial_cseq())
        else:
            number = client.request.cseq.number + 1
        request.headers.set("CSeq", f"{number} {request.method}")
        request.headers.remove("Via")
        request.headers.prepend("Via", str(self.new_via()))
        return self._start(client, request, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
    ##% A UAC core that generates an ACK for 2xx MUST instead follow the rules described in
    ##% Section 13.
    def send_direct(self, request: Request, destination: Any) -> list[UAEffect]:
        """Send ``request`` to the transport without a transaction (the ACK for a 2xx)."""
        for extension in self.extensions:
            extension.outgoing_request(request, None)
        return [SendMessage(request, destination, None)]  # type: ignore[arg-type]

    # -- processing responses (§8.1.3) --------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
    ##% When a timeout error is received from the transaction layer, it MUST be
    ##% treated as if a 408 (Request Timeout) status code has been received.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
    ##% If a fatal transport error is reported by the transport layer
    ##% (generally, due to fatal ICMP errors in UDP or connection failures in
    ##% TCP), the condition MUST be treated as a 503 (Service Unavailable)
    ##% status code.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
    ##% If the client transaction returns a timeout, this is treated
    ##% as a 408 (Request Timeout) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2
    ##% If the
    ##% INVITE client transaction returns a timeout rather than a response the
    ##% TU acts as if a 408 (Request Timeout) response had been received, as
    ##% described in Section 8.1.3.
    def _on_failure(self, transaction: Transaction, status: int, now: float) -> list[UAEffect]:
        """A client transaction timed out (408) or could not be sent (503)."""
        client = self._clients[transaction]
        if client.final is not None:
            return []  # e.g. Timer M after a 2xx: the INVITE already has its answer
        return self._on_response(transaction, local_response(client.request, status), now)

    def _on_response(
        self, transaction: Transaction, response: Response, now: float
    ) -> list[UAEffect]:
        client = self._clients.get(transaction)
        if client is None:
            return self._drop(response, "response for a transaction the core no longer tracks")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.3
        ##% If more than one Via header field value is present in a response, the
        ##% UAC SHOULD discard the message.
        if len(response.via) > 1:
            return self._drop(response, "more than one Via in a response (§8.1.3.3)")
        for extension in self.extensions:
            claimed = extension.inspect_response(client, response, now)
            if claimed is not None:
                return claimed
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
        ##% A UAC MUST be able to
        ##% process 100 and 183 responses.
        status = effective_status(response.status)
        if status < 200:
            client.provisional = True
            effects = self._deliver(client, response, now)
            for extension in self.extensions:
                effects.extend(extension.after_provisional(client, response, now))
            return effects

        if status >= 300 and client.final is None:
            retry = self._amend(client, response, status, now)
            if retry is not None:
                return retry
        if client.final is None or status < 300:
            client.final = client.final or response
            if status < 300:
                self.auth.authentication_info(client.request, response)
            return self._deliver(client, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
        ##% Subsequent final responses (which would only arrive
        ##% under error conditions) MUST be ignored.
        return self._drop(response, "second final response for a request (§13.2.2.3)")

    def deliver(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """Hand a response to whoever sent ``client``'s request (the application by default)."""
        if client.owner is not None:
            return client.owner.on_response(client, response, now)
        return [ResponseEvent(client, response)]

    _deliver = deliver

    # -- retrying (§8.1.3.4, §8.1.3.5) -----------------------------------------------

    def _amend(
        self, client: ClientRequest, response: Response, status: int, now: float
    ) -> list[UAEffect] | None:
        """Retry a request after a failure response when §8.1.3.4/§8.1.3.5 allow; else None."""
        if client.cancel_requested:
            return None
        for extension in self.extensions:
            amended = extension.retry(client, response, now)
            if amended is not None:
                if client.extension_retries >= MAX_EXTENSION_RETRIES:
                    break
                client.extension_retries += 1
                return self._retry(client, amended, now, extension.retry_keeps_cseq)
        if status in (401, 407):
            retry = self.auth.authorize(client.request, response, client.auth_attempts)
            if retry is not None:
                client.auth_attempts += 1
                return self._retry(client, retry, now)
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.4
        ##% The requested resource MUST be accessed through the proxy given by the Contact
        ##% field.
        if status == 305:
            return self._through_proxy(client, response, now)

        if 300 <= status < 400:
            self._add_targets(client, response)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% The client SHOULD retry the request, this time, using a SIP
        ##% URI.
        if status == 416 and isinstance(client.request.uri, AbsoluteURI):
            sip_uri = self._as_sip_uri(client.request.uri)
            if sip_uri is not None and not any(u == sip_uri for u in client.target_set):
                client.target_set.append(sip_uri)
                return self._retry(client, self._redirected(client.request, sip_uri), now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% The UAC
        ##% SHOULD retry the request, this time omitting any extensions listed in
        ##% the Unsupported header field in the response.
        if status == 420 and not client.retried_420:
            unsupported = {tag.lower() for tag in response.header("Unsupported") or []}
            retry = _copy(client.request)
            changed = False
            for name in ("Require", "Proxy-Require"):
                tags = retry.header(name) or []
                kept = [t for t in tags if t.lower() not in unsupported]
                if len(kept) != len(tags):
                    changed = True
                    retry.headers.remove(name)
                    if kept:
                        retry.headers.add(name, ", ".join(kept))
            if changed:
                client.retried_420 = True
                return self._retry(client, retry, now)
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% If contacting an address in the list results in a failure, as defined
        ##% in the next paragraph, the element moves to the next address in the
        ##% list, until the list is exhausted.  If the list is exhausted, then
        ##% the request has failed.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% When a failure for a particular contact address is received, the
        ##% client SHOULD try the next contact address.  This will involve
        ##% creating a new client transaction to deliver a new request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% Failures SHOULD be detected through failure response codes (codes
        ##% greater than 399); for network errors the client transaction will
        ##% report any transport layer failures to the transaction user.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% Requests to the
        ##% URIs MAY be generated serially or in parallel.
        while client.pending_targets and client.redirects < self.config.max_redirects:
            target = client.pending_targets.pop(0)
            client.redirects += 1
            told: list[UAEffect] = []
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
            ##% If the original request had a SIPS URI in the Request-URI, the client MAY
            ##% choose to recurse to a non-SIPS URI, but SHOULD inform the user of the
            ##% redirection to an insecure URI.
            if _is_sips(client.target_set[0]) and not _is_sips(target):
                told.append(InsecureRedirect(client, target))

            return told + self._retry(client, self._redirected(client.request, target), now)
        return None

    def _through_proxy(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """Retry after a 305 (Use Proxy) through the proxy its Contact names, once (§21.3.4).

        The request keeps its Request-URI; the proxy goes in front of the route set as a
        loose route (§16.12).  A proxy already tried is not tried again.
        """
        try:
            contacts = [c.uri for c in response.contact if not c.is_star]
        except ValueError:
            return None
        proxy = next((u for u in contacts if isinstance(u, SipURI)), None)
        if proxy is None or any(proxy == seen for seen in client.target_set):
            return None
        client.target_set.append(proxy)
        route = proxy.copy()
        route.headers = []
        route.params.set("lr", None)
        retry = _copy(client.request)
        retry.headers.prepend("Route", f"<{route}>")
        return self._retry(client, retry, now)

    def _as_sip_uri(self, uri: AbsoluteURI) -> SipURI | None:
        """A tel: URI as a SIP URI in the UA's own domain (RFC 3261 §19.1.6), else None."""
        if uri.scheme.lower() != "tel":
            return None
        number, *params = str(uri).split(":", 1)[1].split(";")
        domain = self.aor.uri.host if isinstance(self.aor.uri, SipURI) else self._sent_by[0]
        try:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
            ##% If the user string contains a telephone number formatted as a
            ##% telephone-subscriber, the user parameter value "phone" SHOULD be present.
            subscriber = telephone_subscriber(number, params)
            return parse_uri(f"sip:{subscriber}@{domain};user=phone")  # type: ignore[return-value]
        except ValueError:
            return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% Upon receipt of a redirection response (for example, a 301 response
    ##% status code), clients SHOULD use the URI(s) in the Contact header
    ##% field to formulate one or more new requests based on the redirected
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% As with proxy recursion, a client processing
    ##% 3xx class responses MUST NOT add any given URI to the target set more
    ##% than once.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% A common mechanism is to order the set by the "q"
    ##% parameter value from the Contact header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.2
    ##% Depending on the status code of the 3xx response (see Section 21.3),
    ##% the UAC MAY choose to try those new addresses.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.2
    ##% The user can no longer be found at the address in the Request-URI, and the requesting
    ##% client SHOULD retry at the new address given by the Contact header field (Section 20.10).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
    ##% The requesting client SHOULD retry the request at the new address(es) given by the
    ##% Contact header field (Section 20.10).
    def _add_targets(self, client: ClientRequest, response: Response) -> None:
        try:
            contacts = [c for c in response.contact if not c.is_star]
        except ValueError:
            return
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% As the target set grows, the client MAY generate new requests to the
        ##% URIs in any order.
        contacts.sort(key=lambda c: -(c.q if c.q is not None else 1.0))
        for contact in contacts:
            uri = contact.uri
            if any(uri == seen for seen in client.target_set):
                continue
            client.target_set.append(uri)
            client.pending_targets.append(uri)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% In order to create a request based on a contact address in a 3xx
    ##% response, a UAC MUST copy the entire URI from the target set into the
    ##% Request-URI, except for the "method-param" and "header" URI
    ##% parameters (see Section 19.1.1 for a definition of these parameters).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% It is RECOMMENDED that the UAC reuse the same To, From, and Call-ID
    ##% used in the original redirected request
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% Finally, once the new request has been constructed, it is sent using
    ##% a new client transaction, and therefore MUST have a new branch ID in
    ##% the top Via field as discussed in Section 8.1.1.7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% In all other respects, requests sent upon receipt of a redirect
    ##% response SHOULD re-use the header fields and bodies of the original
    ##% request.
    def _redirected(self, request: Request, target: SipURI | AbsoluteURI) -> Request:
        retry = _copy(request)
        uri = target.copy()
        header_fields: list[tuple[str, str]] = []
        if isinstance(uri, SipURI):
            uri.params.remove("method")
            header_fields = list(uri.headers)
            uri.headers = []
        request_uri, route = build_route(uri, self.route_set)
        retry.uri = request_uri
        retry.headers.remove("Route")
        for value in route:
            retry.headers.add("Route", str(value))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% It uses the "header" parameters to create header field values for the
        ##% new request, overwriting header field values associated with the
        ##% redirected request in accordance with the guidelines in Section
        ##% 19.1.5.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% If the header
        ##% field does not accept multiple values, the value in the original
        ##% redirected request MAY be overwritten by the header field value
        ##% communicated in the contact address.
        body: bytes | None = None
        for name, value in header_fields:
            # The redirected request keeps its To (§8.1.3.4).
            if canonical_name(unquote(name)) in _NOT_FROM_URI | _MEASURED | {"to"}:
                continue
            if name.lower() == "body":
                body = unquote(value).encode()
            else:
                retry.headers.set(name, unquote(value))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
        ##% The Content-Type header field MUST be present if the body is not empty.
        # The body header is applied after the others so that a Content-Type given beside
        # it counts; a body whose type is known from neither is not sent.
        if body is not None and (not body or "Content-Type" in retry.headers):
            retry.set_body(body)
        return retry


# How often the extensions may retry one request: a bound, so that two hooks that
# undo each other cannot make a request loop.
MAX_EXTENSION_RETRIES = 3

# Header fields a URI's headers component may not set (§19.1.5), by why not.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##% An implementation SHOULD NOT honor these obviously dangerous header fields: From,
##% Call-ID, CSeq, Via, and Record-Route.
_DANGEROUS = {"from", "call-id", "cseq", "via", "record-route"}

##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##% An implementation SHOULD NOT honor any requested Route header field values in order
##% to not be used as an unwitting agent in malicious attacks.
_ROUTE = {"route"}

##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##% An implementation SHOULD NOT honor requests to include header fields that may cause
##% it to falsely advertise its location or capabilities.
_ADVERTISING = {
    "accept", "accept-encoding", "accept-language", "allow", "contact", "organization",
    "supported", "user-agent",
}  # fmt: skip

# Max-Forwards is the UA's own (§8.1.1.6); the fields below are set from the body.
_NOT_FROM_URI = _DANGEROUS | _ROUTE | _ADVERTISING | {"max-forwards"}
_MEASURED = {"content-length", "date", "timestamp"}
_DESCRIBING_BODY = {
    "content-type", "content-encoding", "content-language", "content-disposition",
    "mime-version",
}  # fmt: skip


# tel URL parameters (RFC 2806) compared case-insensitively, and the two that come first.
_TEL_PARAMS = ("isub", "postd", "phone-context", "tsp")
_TEL_FIRST = ("isub", "postd")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.6
##% To mitigate this problem, elements constructing telephone-subscriber
##% fields to place in the userinfo part of a SIP or SIPS URI SHOULD fold
##% any case-insensitive portion of telephone-subscriber to lower case,
##% and order the telephone-subscriber parameters lexically by parameter
##% name, excepting isdn-subaddress and post-dial, which occur first and
##% in that order.
def telephone_subscriber(number: str, params: list[str]) -> str:
    """A tel URL's number and parameters as the user part of a SIP URI (§19.1.6).

    Everything but a future-extension parameter's value is folded to lower case; the
    parameters are ordered by name, isub and postd first.
    """

    def folded(param: str) -> str:
        name, equals, value = param.partition("=")
        if name.lower() in _TEL_PARAMS:
            return param.lower()
        return name.lower() + equals + value

    def order(param: str) -> tuple[int, str]:
        name = param.partition("=")[0]
        first = _TEL_FIRST.index(name) if name in _TEL_FIRST else len(_TEL_FIRST)
        return first, name

    return ";".join([number.lower(), *sorted((folded(p) for p in params if p), key=order)])


def _is_sips(uri: SipURI | AbsoluteURI) -> bool:
    return isinstance(uri, SipURI) and uri.scheme.lower() == "sips"


def _copy(request: Request) -> Request:
    copy = parse(bytes(request))
    assert isinstance(copy, Request)
    return copy

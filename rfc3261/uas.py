"""UAS behaviour: requests a user agent receives and how it answers (RFC 3261 §8.2).

:class:`UasBehaviour` is one half of :class:`~rfc3261.ua_core.UserAgent` (the other is
:class:`~rfc3261.uac.UacBehaviour`); read it beside these sections:

- §8.2 the order of the steps, and a request reaching the TU (an ACK for a 2xx without
  a transaction, §17.2.3); a CANCEL goes to :mod:`rfc3261.cancel` first (§9.2);
- §8.2.1 method inspection (405 + Allow, 501: :func:`~rfc3261.capabilities.method_check`);
- §8.2.2 header inspection: §8.2.2.1 To and Request-URI (416, 404), §8.2.2.2 merged
  requests (482), §8.2.2.3 Require (420 + Unsupported:
  :func:`~rfc3261.capabilities.require_check`);
- §8.2.3 content processing (415 + Accept, Accept-Encoding, Accept-Language);
- routing what passes to the installed extension for its method (INVITE, BYE to
  :mod:`rfc3261.session`), inside a dialog (§12.2.2: 481 for an unknown dialog, the
  remote CSeq check of §12.2.2 / §14.2) or outside;
- §11 OPTIONS, answered here (:meth:`~UasBehaviour.options_response`, §11.2);
- §8.2.6 generating the response (:meth:`~UasBehaviour.respond`), every one passing the
  extensions' ``outgoing_response`` hook.

It is a mixin: its state (``_servers``: the server transactions and the requests they
answer; ``_merge_keys`` / ``_merge_key_of``: what §8.2.2.2 compares) and everything it
uses from the UA (configuration, identity, installed extensions, the effect plumbing
``_process`` and ``drop``) are set up by :class:`~rfc3261.ua_core.UserAgent`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .capabilities import method_check, require_check
from .dialog import Dialog, DialogId, dialog_id_of
from .errors import ParseError
from .extension import IncomingRequest, Owner, ServerRequest, UAEffect
from .headers import NameAddr
from .message import Request, Response
from .transaction import SendMessage, Transaction
from .transaction_server import ServerTransaction
from .uri import SipURI

if TYPE_CHECKING:
    import random

    from .extension import UAExtension
    from .transaction_layer import TransactionLayer
    from .ua_core import UAConfig

__all__ = ["REQUEST_ONLY", "UasBehaviour"]

# Header fields the table of §20 makes "not applicable" in every response: a response
# the UA core sends never carries them, even when an application passes them.
REQUEST_ONLY = (
    "Authorization", "In-Reply-To", "Max-Forwards", "Priority", "Proxy-Authorization",
    "Proxy-Require", "Route", "Subject",
)  # fmt: skip


class UasBehaviour:
    """The UAS side of a user agent core (§8.2, §11, §12.2.2), mixed into :class:`UserAgent`."""

    # What the UAS reads from the user agent it is part of.
    config: UAConfig
    layer: TransactionLayer
    rng: random.Random
    aor: NameAddr
    contact_uri: SipURI
    dialogs: dict[DialogId, Dialog]
    extensions: list[UAExtension]
    allow: tuple[str, ...]
    supported: tuple[str, ...]
    accept: tuple[str, ...]
    # Its own state: each live server transaction and the request it answers, and the
    # (From tag, Call-ID, CSeq) of requests without To tag -> their transaction (§8.2.2.2).
    _servers: dict[Transaction, ServerRequest]
    _merge_keys: dict[tuple[Any, ...], Transaction]
    _merge_key_of: dict[Transaction, tuple[Any, ...]]

    # -- incoming requests (§8.2) ---------------------------------------------------

    def _on_request(
        self,
        transaction: Transaction | None,
        request: Request,
        source: Any,
        now: float,
        tls: bool,
    ) -> list[UAEffect]:
        if request.method == "ACK":
            # An ACK for a 2xx reaches the TU without a transaction (§17.2.3).
            handler = self.handler("ACK")
            claimed = None if handler is None else handler.receive_ack(request, now)
            if claimed is not None:
                return claimed
            return self.drop(request, "ACK matches no 2xx awaiting acknowledgement")
        if not isinstance(transaction, ServerTransaction):
            raise TypeError("a request other than ACK reaches the TU with its server transaction")
        server = ServerRequest(transaction, request, source, tls=tls)
        self._servers[transaction] = server
        try:
            return self._dispatch(server, now)
        except ParseError as error:
            # A header field the core needed could not be read (§8.2.2): 400, naming it.
            # (_inspect reads those it knows of first; this catches what an extension
            # reads.)  If even the 400 cannot be built, the request is dropped.
            named = f"Malformed {error.header} header field" if error.header else "Malformed"
            try:
                return self.respond(server, 400, now, reason=f"Bad Request ({named})")
            except ParseError:
                return self.drop(request, f"unanswerable request: {error}")

    def _dispatch(self, server: ServerRequest, now: float) -> list[UAEffect]:
        request = server.request
        # A CANCEL is matched to the request it cancels before anything else (§9.2),
        # and skips the checks below: its Require is never looked at.  (An ACK for a
        # non-2xx never gets here: its INVITE server transaction absorbs it, §17.2.1.)
        handler = self.handler(request.method)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
        ##% Note that Require and Proxy-Require MUST NOT be used in a SIP CANCEL
        ##% request, or in an ACK request sent for a non-2xx response.  These
        ##% header fields MUST be ignored if they are present in these requests.
        if request.method == "CANCEL" and handler is not None:
            return handler.receive_request(server, now) or []

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
        ##% If a request is accepted,
        ##% all state changes associated with it MUST be performed.  If it is
        ##% rejected, all state changes MUST NOT be performed.
        # _inspect changes nothing; a request it lets through is recorded for §8.2.2.2.
        rejection = self._inspect(server)
        if rejection is not None:
            return self.respond_with(server, rejection, now)
        if request.to.tag is None:
            key = _merge_key(request)
            self._merge_keys[key] = server.transaction
            self._merge_key_of[server.transaction] = key
        if request.to.tag is not None:
            return self._in_dialog(server, now)
        return self._route(server, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
    ##% UASs SHOULD process the requests in the order of the steps that
    ##% follow in this section (that is, starting with authentication, then
    ##% inspecting the method, the header fields, and so on throughout the
    ##% remainder of this section).
    def _inspect(self, server: ServerRequest) -> Response | None:
        """The response §8.2.1-§8.2.3 require for ``server``'s request, or None."""
        request = server.request
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
        ##% Once a request is authenticated (or authentication is skipped), the
        ##% UAS MUST inspect the method of the request.
        rejection = method_check(request, self.allow)
        if rejection is not None:
            return rejection
        rejection = self._check_header_fields(request)
        if rejection is not None:
            return rejection
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% If the Request-URI uses a scheme not supported by the UAS,
        ##% it SHOULD reject the request with a 416 (Unsupported URI Scheme)
        ##% response.
        if not isinstance(request.uri, SipURI):
            return request.make_response(416)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% If the Request-URI does not identify an address that the
        ##% UAS is willing to accept requests for, it SHOULD reject the request
        ##% with a 404 (Not Found) response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##= verify=absence
        ##= reason=only the Request-URI is checked; nothing refuses a request for its To
        ##% However, it is
        ##% RECOMMENDED that a UAS accept requests even if they do not recognize
        ##% the URI scheme (for example, a tel: URI) in the To header field, or
        ##% if the To header field does not address a known or current user of
        ##% this UAS.
        if self.config.strict_request_uri and request.uri.user is not None:
            own = {u.user for u in (self.aor.uri, self.contact_uri) if isinstance(u, SipURI)}
            if request.uri.user not in own:
                return request.make_response(404)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
        ##% If the request has no tag in the To header field, the UAS core MUST
        ##% check the request against ongoing transactions.  If the From tag,
        ##% Call-ID, and CSeq exactly match those associated with an ongoing
        ##% transaction, but the request does not match that transaction (based
        ##% on the matching rules in Section 17.2.3), the UAS core SHOULD
        ##% generate a 482 (Loop Detected) response and pass it to the server
        ##% transaction.
        if request.to.tag is None:
            ongoing = self._merge_keys.get(_merge_key(request))
            if (
                ongoing is not None
                and not ongoing.terminated
                and ongoing is not server.transaction
            ):
                return request.make_response(482)
        rejection = require_check(request, self.supported)
        if rejection is not None:
            return rejection

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
        ##% If there are any bodies whose type (indicated by the
        ##% Content-Type), language (indicated by the Content-Language) or
        ##% encoding (indicated by the Content-Encoding) are not understood, and
        ##% that body part is not optional (as indicated by the Content-
        ##% Disposition header field), the UAS MUST reject the request with a 415
        ##% (Unsupported Media Type) response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
        ##% The response MUST contain an
        ##% Accept header field listing the types of all bodies it understands,
        ##% in the event the request contained bodies of types not supported by
        ##% the UAS.  If the request contained content encodings not understood
        ##% by the UAS, the response MUST contain an Accept-Encoding header field
        ##% listing the encodings understood by the UAS.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
        ##= verify=absence
        ##= reason=header fields are parsed lazily: one never asked for is never read
        ##% If a UAS does not understand a header field in a request (that is,
        ##% the header field is not defined in this specification or in any
        ##% supported extension), the server MUST ignore that header field and
        ##% continue processing the message.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
        ##= verify=absence
        ##= reason=lazy parsing: a malformed field never asked for is never read
        ##% A UAS SHOULD ignore any malformed
        ##% header fields that are not necessary for processing requests.
        # (Header fields are parsed lazily: the ones never looked at here are never read.)
        if request.body:
            content_type = request.content_type
            disposition = (request.headers.get("Content-Disposition") or "").lower()
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.11
            ##% If the handling parameter is missing, the value "required" SHOULD be assumed.
            optional = "handling=optional" in disposition.replace(" ", "")
            # ... and it covers a disposition type the UAS does not understand as well as a
            # content type (the types §20.11 defines; an extension's are not in use here)
            kind = disposition.split(";", 1)[0].strip()
            bad_disposition = kind not in ("", "session", "render", "icon", "alert")

            accepted = {t.lower() for t in self.accept}
            encodings = [
                e.strip().lower() for e in request.headers.get_all("Content-Encoding") if e.strip()
            ]
            bad_type = content_type is None or content_type.mime_type.lower() not in accepted
            bad_encoding = any(
                e not in {x.lower() for x in self.config.accept_encoding} for e in encodings
            )
            languages = [
                lang.strip().lower()
                for lang in request.headers.get_all("Content-Language")
                if lang.strip()
            ]
            known = {x.lower() for x in self.config.accept_language}
            bad_language = any(
                lang not in known and lang.split("-")[0] not in known for lang in languages
            )
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
            ##% When present, its value indicates what additional content codings have been
            ##% applied to the entity-body, and thus what decoding mechanisms MUST be applied
            ##% in order to obtain the media-type referenced by the Content-Type header field.
            # The UAS decodes no coding but identity: a body it cannot decode is refused.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.13
            ##% The server MUST return a list of acceptable formats using the Accept,
            ##% Accept-Encoding, or Accept-Language header field, depending on the specific
            ##% problem with the content.
            if (bad_type or bad_encoding or bad_language or bad_disposition) and not optional:
                response = request.make_response(415)
                response.headers.add("Accept", ", ".join(self.accept))
                if bad_encoding:
                    response.headers.add("Accept-Encoding", ", ".join(self.config.accept_encoding))
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
                ##% If the request
                ##% contained content with languages not understood by the UAS, the
                ##% response MUST contain an Accept-Language header field indicating the
                ##% languages understood by the UAS.
                if bad_language:
                    response.headers.add("Accept-Language", ", ".join(self.config.accept_language))
                return response
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
    ##% A valid SIP request formulated by a UAC MUST, at a minimum, contain
    ##% the following header fields: To, From, CSeq, Call-ID, Max-Forwards,
    ##% and Via; all of these header fields are mandatory in all SIP
    ##% requests.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
    ##% The request could not be understood due to malformed syntax.  The
    ##% Reason-Phrase SHOULD identify the syntax problem in more detail, for
    ##% example, "Missing Call-ID header field".
    def _check_header_fields(self, request: Request) -> Response | None:
        """400 naming the first header field the UAS needs and cannot read, or None.

        Header fields are parsed lazily; those the core, an extension or the
        application will read while handling the request are read here, so that a
        malformed one is answered before any state changes (§8.2) instead of raising
        later, in the middle of a call.  A missing Max-Forwards is tolerated (a UAS does
        not forward); an unreadable one is not.
        """
        checks: list[tuple[str, Callable[[], object]]] = [
            ("To", lambda: request.to),
            ("From", lambda: request.from_),
            ("Call-ID", lambda: request.call_id),
            ("CSeq", lambda: request.cseq),
            ("Max-Forwards", lambda: request.max_forwards),
        ]
        if request.method in self.dialog_methods:
            checks += [
                ("Contact", lambda: _dialog_contact(request)),
                ("Record-Route", lambda: request.record_route),
            ]
        if request.method == "INVITE":
            checks.append(("Expires", lambda: request.expires))
        for name, read in checks:
            try:
                read()
            except ValueError as error:  # ParseError included
                missing = name.lower() not in request.headers and name != "Contact"
                what = "Missing" if missing else "Malformed"
                reason = f"{what} {name} header field"
                if isinstance(error, _ContactError):
                    reason = f"{error} in the Contact header field"
                return _bad_request(request, reason)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
        ##% The method MUST match that of the request.
        if request.cseq.method != request.method:
            return _bad_request(request, "CSeq method does not match the request method")
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% If the
    ##% request has a tag in the To header field, the UAS core computes the
    ##% dialog identifier corresponding to the request and compares it with
    ##% existing dialogs.  If there is a match, this is a mid-dialog request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% Based on the To tag, the UAS MAY
    ##% either accept or reject the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% If the UAS wishes to reject the request because it does not wish to
    ##% recreate the dialog, it MUST respond to the request with a 481
    ##% (Call/Transaction Does Not Exist) status code and pass that to the
    ##% server transaction.
    def _in_dialog(self, server: ServerRequest, now: float) -> list[UAEffect]:
        request = server.request
        dialog = self.dialogs.get(dialog_id_of(request, uac=False))
        handler = self.handler(request.method)
        if dialog is None or dialog.terminated:
            # An extension may know the dialog is being created (RFC 6665 §4.1.2.4: a
            # NOTIFY can arrive before the 2xx to its SUBSCRIBE).
            claimed = None if handler is None else handler.receive_request(server, now)
            return self.respond(server, 481, now) if claimed is None else claimed
        server.dialog = dialog
        server.to_tag = dialog.id.local_tag
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% A UAS that receives a second INVITE before it sends the final
        ##% response to a first INVITE with a lower CSeq sequence number on the
        ##% same dialog MUST return a 500 (Server Internal Error) response to the
        ##% second INVITE and MUST include a Retry-After header field with a
        ##% randomly chosen value of between 0 and 10 seconds.
        retry_after = self.rng.randint(0, 10)
        rejection = dialog.check_remote_cseq(request, retry_after)
        if rejection is not None:
            return self.respond_with(server, rejection, now)
        return self._route(server, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% An OPTIONS request received within a dialog generates a 200 (OK)
    ##% response that is identical to one constructed outside a dialog and
    ##% does not have any impact on the dialog.
    def _route(self, server: ServerRequest, now: float) -> list[UAEffect]:
        """A request that passed §8.2: to the extension of its method, to the OPTIONS
        answer of §11, or to the application -- inside a dialog and outside alike."""
        request = server.request
        for extension in self.extensions:
            screened = extension.screen_request(server, now)
            if screened is not None:
                return screened
        handler = self.handler(request.method)
        if handler is not None:
            claimed = handler.receive_request(server, now)
            if claimed is not None:
                return claimed
        if request.method == "OPTIONS":
            return self.respond_with(server, self.options_response(request), now)
        return [IncomingRequest(server, request)]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% All UAs MUST
    ##% support the OPTIONS method.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% Alternatively, a server receiving an OPTIONS request with a Max-
    ##% Forwards header field value of 0 MAY respond to the request
    ##% regardless of the Request-URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% The response to an OPTIONS is constructed using the standard rules
    ##% for a SIP response as discussed in Section 8.2.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% Allow, Accept, Accept-Encoding, Accept-Language, and Supported header
    ##% fields SHOULD be present in a 200 (OK) response to an OPTIONS
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% m*: The header field SHOULD be sent, but clients/servers need to be prepared to
    ##% receive messages without that header field.
    def options_response(self, request: Request) -> Response:
        """The 200 (OK) to an OPTIONS: what an INVITE would get, plus capabilities (§11.2)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
        ##% The response code
        ##% chosen MUST be the same that would have been chosen had the request
        ##% been an INVITE.
        decided = (e.options_status() for e in self.extensions)
        status = next((s for s in decided if s is not None), 200)
        response = request.make_response(status)
        response.headers.add("Allow", ", ".join(self.allow))
        response.headers.add("Accept", ", ".join(self.accept))
        response.headers.add("Accept-Encoding", ", ".join(self.config.accept_encoding))
        response.headers.add("Accept-Language", ", ".join(self.config.accept_language))
        response.headers.add("Supported", ", ".join(self.supported))
        return response

    # -- answering ----------------------------------------------------------------------

    def respond(
        self,
        server: ServerRequest,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, Any]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> list[UAEffect]:
        """Build the response to ``server``'s request (§8.2.6) and pass it to its transaction."""
        response = server.request.make_response(status, reason, to_tag=server.to_tag)
        for name, value in headers:
            response.headers.add(name, value)
        if body or content_type:
            response.set_body(body, content_type)
        return self.respond_with(server, response, now)

    def respond_with(
        self, server: ServerRequest, response: Response, now: float
    ) -> list[UAEffect]:
        """Pass a response built by the caller to ``server``'s transaction.

        Raises ValueError for a provisional response to a request other than INVITE.
        """
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
        ##% One largely non-method-specific guideline for the generation of
        ##% responses is that UASs SHOULD NOT issue a provisional response for a
        ##% non-INVITE request.
        if response.status < 200 and server.request.method != "INVITE":
            raise ValueError(
                f"a {response.status} to {server.request.method}: only INVITE gets "
                "provisional responses from a UAS (RFC 3261 §8.2.6.1)"
            )

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.35
        ##% Implementers SHOULD make the Server header field a configurable option.
        if self.config.server and "Server" not in response.headers:
            response.headers.add("Server", self.config.server)

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
        ##% Similarly, a header field labeled "not applicable" for a response
        ##% means that the UAS MUST NOT place the header field in the response,
        ##% and the UAC MUST ignore the header field in the response.
        for name in REQUEST_ONLY:
            response.headers.remove(name)

        for extension in self.extensions:
            extension.outgoing_response(response, server)
        for extension in self.extensions:
            claimed = extension.claim_response(server, response, now)
            if claimed is not None:
                return claimed
        return self.retransmit(server, response, now)

    def retransmit(self, server: ServerRequest, response: Response, now: float) -> list[UAEffect]:
        """Send ``response`` again (or for the first time, past the extensions' hooks)."""
        if response.status >= 200:
            server.final_sent = True
        if server.transaction.terminated:
            return [SendMessage(response, server.source, None)]  # type: ignore[arg-type]
        return self._process(self.layer.send_response(server.transaction, response, now), now)

    def server_request(self, transaction: Transaction) -> ServerRequest | None:
        """The request the UAS core is answering in ``transaction``, while it lives."""
        return self._servers.get(transaction)

    # -- the end of a server transaction ---------------------------------------------

    def _on_server_failure(self, transaction: Transaction, now: float) -> list[UAEffect]:
        """A server transaction timed out or could not send: tell the request's owner."""
        server = self._servers.get(transaction)
        if server is None or not isinstance(server.owner, Owner):
            return []
        return server.owner.on_terminated(server, now)

    def _on_server_terminated(self, transaction: Transaction, now: float) -> list[UAEffect]:
        """A server transaction is gone: forget its request (and its §8.2.2.2 key)."""
        key = self._merge_key_of.pop(transaction, None)
        if key is not None and self._merge_keys.get(key) is transaction:
            del self._merge_keys[key]
        server = self._servers.pop(transaction, None)
        if server is not None and isinstance(server.owner, Owner):
            return server.owner.on_terminated(server, now)
        return []


class _ContactError(ValueError):
    """A dialog-creating request whose Contact is not one SIP or SIPS URI."""


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##% The URI provided in the Contact header field MUST be a SIP
##% or SIPS URI.
def _dialog_contact(request: Request) -> None:
    """Raise unless ``request`` carries the one SIP(S) Contact URI a dialog's remote
    target is taken from (§12.1.1, §12.2: a target refresh too)."""
    contacts = request.contact
    if not contacts:
        raise _ContactError("No SIP or SIPS URI")
    if len(contacts) > 1 or contacts[0].is_star:
        raise _ContactError("Not exactly one URI")
    if not isinstance(contacts[0].uri, SipURI):
        raise _ContactError("No SIP or SIPS URI")


def _bad_request(request: Request, reason: str) -> Response:
    """A 400 whose Reason-Phrase names the defect (§21.4.1)."""
    return request.make_response(400, f"Bad Request ({reason})")


def _merge_key(request: Request) -> tuple[Any, ...]:
    """From tag, Call-ID and CSeq: what merged requests share (§8.2.2.2)."""
    return (request.from_.tag, request.call_id, request.cseq.number, request.cseq.method)

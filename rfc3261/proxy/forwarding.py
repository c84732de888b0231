"""§16.6 request forwarding (RFC 3261), with RFC 5393 Max-Breadth and loop detection.

:meth:`RequestForwarding.start_branches` decides how many targets to fork to now
(parallel or sequential, within the Incoming Max-Breadth); :meth:`RequestForwarding.
forward` then takes one copy through the ten steps of §16.6, one method each: copy,
Request-URI, Max-Forwards, Record-Route, other header fields (Max-Breadth),
postprocess routing (the target's route set, RFC 3327), next hop, Via (its branch
carries the RFC 5393 §4.2.1 "second part"), Content-Length, and a client
transaction with Timer C.  Each :class:`~rfc3261.proxy.model.ProxyExtension` sees
the copy between steps 9 and 10.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..message import Request, Response, parse
from ..transaction import MAGIC_COOKIE, SendMessage
from ..transports import is_stream
from ..uri import AbsoluteURI, SipURI, parse_uri
from .model import (
    Branch,
    NextHop,
    ProxyConfig,
    ProxyExtension,
    ResponseContext,
    Send,
    Target,
    _Answer,
    _hash,
    _set_routes,
)
from .relay import TOKEN_PARAM

if TYPE_CHECKING:  # pragma: no cover
    from ..timers import TimerQueue
    from ..transaction_client import ClientTransaction
    from ..transaction_layer import TransactionLayer

__all__ = ["RequestForwarding"]


class RequestForwarding:
    """§16.6: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    layer: TransactionLayer
    extensions: tuple[ProxyExtension, ...]
    _branches: dict[ClientTransaction, Branch]
    _timer_c: TimerQueue[Branch]
    #: The adapter's "is there another tuple for this request?" (RFC 3263 §4.3); it queues
    #: that tuple for the next copy.  None (the default): one tuple per branch.
    next_tuple: Callable[[Request], bool] | None = None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% As soon as the target set is non-empty, a proxy MAY begin forwarding
    ##% the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% It MAY process multiple targets serially, allowing each client
    ##% transaction to complete before starting the next.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% It MAY start client transactions with every target in parallel.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% A stateful proxy MAY choose to "fork" a request, routing it to
    ##% multiple destinations.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% Any request that is forwarded to more than one location MUST be
    ##% handled statefully.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% SIP proxies MUST NOT allow the Outgoing Max-Breadth to exceed the
    ##% Incoming Max-Breadth in a given response context.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If a SIP proxy determines a response context has insufficient
    ##% Incoming Max-Breadth to carry out a desired parallel fork, and the
    ##% proxy is unwilling/unable to compensate by forking serially or
    ##% sending a redirect, that proxy MUST return a 440 (Max-Breadth
    ##% Exceeded) response.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3.1
    ##% Proxies SHOULD be prepared to reuse this Max-Breadth in cases where
    ##% there may be elements left in the target-set.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A SIP proxy MAY distribute Max-Breadth in an arbitrary fashion
    ##% between active branches.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A proxy SHOULD NOT use a smaller amount of Max-Breadth than was
    ##% present in the original request unless the Incoming Max-Breadth
    ##% exceeded the proxy's maximum acceptable value.
    def start_branches(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """Start as many branches as the forking mode and Max-Breadth allow.

        Parallel forking shares the Incoming Max-Breadth among the first targets; with
        more targets than Max-Breadth, the rest wait for branches to finish (serial
        compensation rather than a 440).  Sequential forking runs one branch at a time.
        """
        remaining = len(context.targets) - context.next_target
        if remaining <= 0 or context.no_new_branches or context.final_sent:
            return
        if self.config.forking == "sequential":
            if context.pending:
                return
            width = 1
        else:
            width = min(remaining + len(context.pending), context.incoming_breadth)
        share = max(1, context.incoming_breadth // max(1, width))
        if context.incoming_breadth == 1 or self.config.forking == "sequential":
            share = context.incoming_breadth
        while (
            context.next_target < len(context.targets)
            and context.outgoing_breadth + share <= context.incoming_breadth
            and (self.config.forking == "parallel" or not context.pending)
        ):
            target = context.targets[context.next_target]
            context.next_target += 1
            self.forward(context, target, share, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% For each target, the proxy forwards the request following these
    ##% steps:
    def forward(
        self,
        context: ResponseContext,
        target: Target,
        breadth: int,
        now: float,
        out: list[Send],
    ) -> Branch:
        """§16.6: forward one copy of the request to ``target`` (steps 1-10)."""
        copy = self.copy_request(context.request)  # 1
        self.set_request_uri(copy, target.uri)  # 2
        self.update_max_forwards(copy)  # 3
        self.add_record_route(copy)  # 4
        self.add_header_fields(copy, breadth)  # 5
        strict = self.postprocess_routing(copy, target.route_set)  # 6
        hop = self.next_hop(copy, strict)  # 7
        if target.flow is not None:
            hop = replace(hop, flow=target.flow)  # the edge sends on the flow (RFC 5626)
        self.add_via(copy, hop, context.loop_part)  # 8
        self.add_content_length(copy, hop)  # 9
        branch = Branch(context, target, copy, hop, breadth=breadth)
        context.branches.append(branch)
        for extension in self.extensions:
            status = extension.before_forward(branch)
            if isinstance(status, Response) and 300 <= status.status <= 699:
                self.process_response(branch, status, now, out)
                return branch
            if status is not None:
                if not (isinstance(status, int) and 300 <= status <= 699):
                    raise ValueError(f"before_forward returned {status!r}, not a 300-699 status")
                self._assume_response(branch, status, now, out)
                return branch
        self.send_branch(branch, now, out)  # 10
        return branch

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The copy MUST initially contain all of the header fields from the
    ##% received request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Fields not detailed in the processing described below
    ##% MUST NOT be removed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The copy SHOULD maintain the ordering of the header
    ##% fields as in the received request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST NOT reorder field values with
    ##% a common field name (See Section 7.3.1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST NOT add to,
    ##% modify, or remove the message body.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Proxies MUST be completely transparent in the Digest access
    ##% authentication scheme.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% That is, they MUST forward the WWW-Authenticate, Authentication-Info,
    ##% and Authorization header fields untouched.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
    ##= verify=absence
    ##= reason=the copy has the request's header fields; no step of §16.6 adds Allow-Events
    ##% Note that "Allow-Events" header fields MUST NOT be inserted by
    ##% proxies.
    def copy_request(self, request: Request) -> Request:
        """Step 1: a copy with every header field, in order, and the same body.

        The copy starts with the received request's parsed values: it is not parsed
        again, only the fields the next steps write are read anew.
        """
        return Request(
            request.method, request.uri, request.headers.copy(parsed=True), request.body
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The Request-URI in the copy's start line MUST be replaced with
    ##% the URI for this target.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the URI contains any parameters
    ##% not allowed in a Request-URI, they MUST be removed.
    def set_request_uri(self, copy: Request, target: SipURI | AbsoluteURI) -> None:
        """Step 2: the target becomes the Request-URI (without method param or headers)."""
        if isinstance(target, SipURI):
            target = target.copy()
            # §19.1.1 Table 1: "method" and headers are not allowed in a Request-URI.
            target.params.remove("method")
            target.headers = []
        copy.uri = target

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy contains a Max-Forwards header field, the proxy MUST
    ##% decrement its value by one (1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy does not contain a Max-Forwards header field, the
    ##% proxy MUST add one with a field value, which SHOULD be 70.
    def update_max_forwards(self, copy: Request) -> None:
        """Step 3: Max-Forwards minus one, or 70 when absent."""
        value = copy.max_forwards
        copy.headers.set("Max-Forwards", 70 if value is None else value - 1)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If this proxy wishes to remain on the path of future requests in a
    ##% dialog created by this request (assuming the request creates a
    ##% dialog), it MUST insert a Record-Route header field value into the
    ##% copy before any existing Record-Route header field values, even if
    ##% a Route header field is already present.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MAY insert a Record-Route header field value into any request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI placed in the Record-Route header field value MUST be a SIP
    ##% or SIPS URI.  This URI MUST contain an lr parameter (see Section
    ##% 19.1.1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI SHOULD NOT contain the transport parameter unless the
    ##% proxy has knowledge (such as in a private network) that the next
    ##% downstream element that will be in the path of subsequent requests
    ##% supports that transport.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI placed in the Record-Route header field MUST resolve to
    ##% the element inserting it (or a suitable stand-in) when the
    ##% server location procedures of [4] are applied to it, so that
    ##% subsequent requests reach the same SIP element.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the
    ##% Request-URI contains a SIPS URI, or the topmost Route header
    ##% field value (after the post processing of bullet 6) contains a
    ##% SIPS URI, the URI placed into the Record-Route header field MUST
    ##% be a SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If a proxy needs to be in the path of any type of dialog (such as
    ##% one straddling a firewall), it SHOULD add a Record-Route header
    ##% field value to every request with a method it does not understand
    ##% since that method may have dialog semantics.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Furthermore, if the request was not received over TLS, the proxy
    ##% MUST insert a Record-Route header field.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
    ##% If a proxy wishes to see all of the SUBSCRIBE and NOTIFY requests for
    ##% a given dialog, it MUST add a "Record-Route" header field to the
    ##% initial SUBSCRIBE request and all NOTIFY requests.
    # (One rule for every method: with record_route on, SUBSCRIBE and NOTIFY alike;
    # off, neither -- SIPS aside, which is record-routed always, both ways.)
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If this request is already part of a dialog, the proxy SHOULD insert a Record-Route
    ##% header field value if it wishes to remain on the path of future requests in the
    ##% dialog.
    def add_record_route(self, copy: Request) -> None:
        """Step 4: ``<sip(s):host:port;lr>`` on top of Record-Route (every method but
        REGISTER, which creates no dialog, and ACK/CANCEL, which answer nothing).

        A SIPS request is always record-routed: the proxy does not know here whether
        it arrived over TLS, and must record-route when it did not.
        """
        if copy.method in ("REGISTER", "ACK", "CANCEL"):
            return
        secure = isinstance(copy.uri, SipURI) and copy.uri.is_secure
        routes = copy.route
        if routes and isinstance(routes[0].uri, SipURI) and routes[0].uri.is_secure:
            secure = True
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
        ##% Proxies that did not add a "Record-Route" header field to the initial
        ##% SUBSCRIBE request MUST NOT add a "Record-Route" header field to any of
        ##% the associated NOTIFY requests.
        if not self.config.record_route and not secure:
            return

        scheme = "sips" if secure else "sip"
        token = ""
        if self.authenticator is not None:
            # Lets the ACK for a 2xx prove it belongs to this dialog (relay.py).
            token = f";{TOKEN_PARAM}={self.record_route_token(copy.call_id)}"
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge
        ##% that the next upstream (as opposed to downstream) element that will be in the path
        ##% of subsequent requests supports that transport.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
        ##% Before they forward the request, both proxy servers SHOULD add a Record-Route header
        ##% field to the request so that all future requests in this dialog will pass through
        ##% the proxy servers.
        copy.headers.prepend("Record-Route", f"<{scheme}:{self._host_port()};lr{token}>")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MAY add any other appropriate header fields to the copy at
    ##% this point.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% All proxied requests MUST contain a single Max-Breadth header field
    ##% value.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A proxy MUST NOT decrement Max-Breadth for each hop or
    ##% otherwise use it to restrict the "depth" of a request's propagation.
    def add_header_fields(self, copy: Request, breadth: int) -> None:
        """Step 5: the branch's share of Max-Breadth (RFC 5393 §5.3.3)."""
        if copy.method not in ("ACK", "CANCEL"):
            copy.headers.set("Max-Breadth", breadth)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MAY have a local policy that mandates that a request visit a
    ##% specific set of proxies before being delivered to the destination.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MUST ensure that all such proxies are loose routers.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% This set MUST be pushed into the Route header field
    ##% of the copy ahead of any existing values, if present.  If the
    ##% Route header field is absent, it MUST be added, containing that
    ##% list of URIs.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy contains a Route header field, the proxy MUST
    ##% inspect the URI in its first value.  If that URI does not
    ##% contain an lr parameter, the proxy MUST modify the copy as
    ##% follows:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST place the Request-URI into the Route header
    ##% field as the last value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST then place the first Route header field value
    ##% into the Request-URI and remove that value from the Route
    ##% header field.
    def postprocess_routing(self, copy: Request, route_set: Iterable[str] = ()) -> bool:
        """Step 6: push the target's route set, then the local route set (loose routers
        only) in front of it; reformat for a strict router.  Returns True when the copy
        was reformatted for a strict router.

        The target's route set (a stored Path, RFC 3327 §5.4) goes ahead of the Route
        values of the request and behind the local route.
        """
        route_set = list(route_set)
        ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
        ##% In the most common case, the home proxy generates the outgoing Route header
        ##% field by inserting the stored path vector ahead of the Route header
        ##% field values contained in the incoming request.
        ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
        ##% In general, the stored path vector is appended to any locally configured
        ##% route needed to egress the service cluster.
        if route_set:
            _set_routes(copy, [*route_set, *(str(r) for r in copy.route)])
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
        ##% However, this mechanism for sending the request through a specific next hop is NOT
        ##% RECOMMENDED; instead a Route header field should be used for that purpose as
        ##% described above.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
        ##% This set MUST be pushed into the Route header field of the copy ahead of any
        ##% existing values, if present.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
        ##% If the Route header field is absent, it MUST be added, containing that list of
        ##% URIs.
        if self.config.local_route:
            pushed = []
            for value in self.config.local_route:
                uri = parse_uri(value.strip("<>"))
                if not (isinstance(uri, SipURI) and uri.lr):
                    raise ValueError(f"local route {value!r} is not a loose router (;lr)")
                pushed.append(f"<{uri}>")
            _set_routes(copy, [*pushed, *(str(r) for r in copy.route)])
        routes = copy.route
        if not routes or not isinstance(routes[0].uri, SipURI) or routes[0].uri.lr:
            return False
        first = routes[0].uri
        _set_routes(copy, [*(str(r) for r in routes[1:]), f"<{copy.uri}>"])
        copy.uri = first
        return True

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the proxy has reformatted the request to send to a strict-routing
    ##% element as described in step 6 above, the proxy MUST apply those
    ##% procedures to the Request-URI of the request.  Otherwise, the proxy
    ##% MUST apply the procedures to the first value in the Route header
    ##% field, if present, else the Request-URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Independently of which URI is being used as input to the
    ##% procedures of [4], if the Request-URI specifies a SIPS resource,
    ##% the proxy MUST follow the procedures of [4] as if the input URI
    ##% were a SIPS URI.
    def next_hop(self, copy: Request, strict: bool = False) -> NextHop:
        """Step 7: transport, host and port from the top Route (if loose) or Request-URI.

        Resolving names (RFC 3263) is the adapter's job: an absent port stays None, and
        ``uri`` is the URI to resolve (a SIPS URI when the Request-URI is one).
        """
        if not strict:
            for extension in self.extensions:
                hop = extension.next_hop(copy)
                if hop is not None:
                    return hop
        routes = copy.route
        uri = routes[0].uri if routes and not strict else copy.uri
        if not isinstance(uri, SipURI):
            raise _Answer(416)
        secure = uri.is_secure or (isinstance(copy.uri, SipURI) and copy.uri.is_secure)
        transport = (uri.transport or ("tls" if secure else "udp")).upper()
        if secure and transport in ("UDP", "TCP"):
            transport = "TLS"
        if secure and not uri.is_secure:
            uri = uri.copy()
            uri.scheme = "sips"
        return NextHop(transport, uri.maddr or uri.host, uri.port, uri=uri)

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% The proxy MUST insert a Via header field value into the copy before
    ##% the existing Via header field values.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% Such proxies SHOULD create a branch value
    ##% separable into two parts in any implementation-dependent way.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% The first part of the branch value MUST satisfy the constraints of
    ##% Section 8.1.1.7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST insert a Via header field value into the copy
    ##% before the existing Via header field values.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Thus, the branch parameter provided
    ##% with the Via header field inserted in step 8 MUST be different for
    ##% each attempt.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy choosing to detect loops SHOULD create a branch
    ##% parameter separable into two parts by the implementation.  The
    ##% first part MUST satisfy the constraints of Section 8.1.1.7 as
    ##% described above.
    def add_via(self, copy: Request, hop: NextHop, loop_part: str) -> None:
        """Step 8: our Via on top; branch = magic cookie, random part, ".", loop part."""
        branch = f"{MAGIC_COOKIE}{secrets.token_hex(8)}.{loop_part}"
        # The sent-by names where we listen on the hop's transport: a response comes
        # back to its port (§18.2.2), which differs per transport when we listen on several.
        sent_by = self.config.sent_by.get(hop.transport.upper(), self._host_port())
        copy.push_via(f"SIP/2.0/{hop.transport} {sent_by};branch={branch}")

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% This second part MUST vary with any field used by the location
    ##% service logic in determining where to retarget or forward this
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% Hence, the second part MUST depend at least on the received
    ##% Request-URI and any Route header field values used when processing
    ##% the received request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% This second part MUST NOT vary with the request method.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The value placed in this part of the
    ##% branch parameter SHOULD reflect all of those fields (including
    ##% any Route, Proxy-Require and Proxy-Authorization header fields).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If a proxy wishes to detect loops, the "branch" parameter it
    ##% supplies MUST depend on all information affecting processing of a
    ##% request, including the incoming Request-URI and any header fields
    ##% affecting the request's admission or routing.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The request method MUST NOT be included in the calculation of
    ##% the branch parameter.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.4
    ##% When forming the second part using a hash, implementations
    ##% SHOULD include at least one field in the input to the hash that
    ##% varies between different transactions attempting to reach the same
    ##% destination to avoid repeated failure should the hash collide.
    def loop_part(self, request: Request) -> str:
        """The RFC 5393 second part: a hash of what routes the request, not the method.

        Request-URI and Route as received, Proxy-Require, Proxy-Authorization, the From
        and To tags, Call-ID and CSeq number (which vary between transactions).
        """
        return _hash(
            request.uri,
            "|".join(request.headers.get_all("Route")),
            "|".join(request.headers.get_all("Proxy-Require")),
            "|".join(request.headers.get_all("Proxy-Authorization")),
            request.from_.tag,
            request.to.tag,
            request.call_id,
            request.cseq.number,
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the request will be sent to the next hop using a stream-based
    ##% transport and the copy contains no Content-Length header field, the
    ##% proxy MUST insert one with the correct value for the body of the
    ##% request (see Section 20.14).
    def add_content_length(self, copy: Request, hop: NextHop) -> None:
        """Step 9: Content-Length for stream transports when it is missing."""
        if is_stream(hop.transport) and "Content-Length" not in copy.headers:
            copy.headers.add("Content-Length", len(copy.body))

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A stateful proxy MUST create a new client transaction for this
    ##% request as described in Section 17.1 and instructs the
    ##% transaction to send the request using the address, port and
    ##% transport determined in step 7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Timer C MUST be set for each client transaction when an INVITE
    ##% request is proxied.
    def send_branch(self, branch: Branch, now: float, out: list[Send]) -> None:
        """Step 10: a new client transaction for the copy; Timer C for INVITE."""
        transaction, effects = self.layer.send_request(branch.request, branch.hop, now)
        branch.transaction = transaction
        self._branches[transaction] = branch
        if branch.method == "INVITE":
            self._set_timer_c(branch, now + self.config.timer_c)
            # An INVITE may be pending for minutes: while it is, its client transaction
            # needs the copy's bytes only (Timer A), and the proxy reads it again on a
            # rare path only (a CANCEL, a retry, a made-up response).  The first send
            # takes those bytes too: the copy is serialised once.
            wire = branch.keep_request_as_bytes()
            for effect in effects:
                if isinstance(effect, SendMessage) and effect.transaction is transaction:
                    effect.wire = wire
        self._run(effects, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% For each tuple attempted, the proxy MUST format the message as
    ##% appropriate for the tuple and send the request using a new client
    ##% transaction as detailed in steps 8 through 10.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% As described in [4], the proxy MUST attempt to deliver the message to
    ##% the first tuple in that set, and proceed through the set in order
    ##% until the delivery attempt succeeds.
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
    ##% If a failure occurs, the client
    ##% SHOULD create a new request, which is identical to the previous, but
    ##% has a different value of the Via branch ID than the previous (and
    ##% therefore constitutes a new SIP transaction).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
    ##% A client (proxy or UAC) receiving a 503 (Service Unavailable) SHOULD attempt to
    ##% forward the request to an alternate server.
    def try_next_tuple(self, branch: Branch, status: int, now: float, out: list[Send]) -> bool:
        """Step 10 after a failed tuple: the copy again, new branch, to the next tuple.

        A failure is RFC 3263 §4.3's: a 503 (received, or a transport error), or a
        timeout with no response at all.  ``next_tuple(request)`` is the adapter's
        (``CoreHost.next_target``), which knows the tuples; None: no walk.
        """
        next_tuple = self.next_tuple
        if next_tuple is None or branch.transaction is None or branch.cancel_wanted:
            return False
        if not (status == 503 or (status == 408 and not branch.provisional)):
            return False
        if not next_tuple(branch.request):
            return False
        copy = parse(bytes(branch.request))
        if not isinstance(copy, Request):
            return False
        copy.pop_top_via()
        self.add_via(copy, branch.hop, branch.context.loop_part)  # 8, a new branch
        retry = Branch(branch.context, branch.target, copy, branch.hop, breadth=branch.breadth)
        branch.final = True  # this attempt is over; its response is not the context's
        self._set_timer_c(branch, None)
        branch.context.branches.append(retry)
        self.send_branch(retry, now, out)  # 10
        return True

    def _set_timer_c(self, branch: Branch, deadline: float | None) -> None:
        branch.timer_c = deadline
        self._timer_c.schedule(branch, deadline)

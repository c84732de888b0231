"""Client-initiated connections, the server side (RFC 5626 §5, §6, §7, §8).

A UA behind a NAT or firewall cannot be reached by a new connection: only the flows
it opened itself (a TCP or TLS connection, a UDP 5-tuple kept open by keep-alives)
reach it.  RFC 5626 ("outbound") keeps those flows in use:

- the UA registers each flow with a Contact carrying its instance-id
  (``+sip.instance``) and a ``reg-id`` (the UA side is another module);
- the **edge proxy** the flow ends at, when it is the first hop, puts its own URI in
  the REGISTER's Path with a *flow token* naming the flow in the user part and the
  ``ob`` parameter (§5.1, :class:`OutboundProxy` with ``edge=True``); a request that
  comes back with that URI in Route goes out over the flow the token names, or gets
  430 (Flow Failed) when the flow is gone, 403 when the token was tampered with
  (§5.3); dialog-forming requests leave our Record-Route with the token so that the
  dialog's requests take the flow too;
- the **registrar** applies outbound only when it is the first hop or the first Path
  value has ``ob``, else answers 439 (First Hop Lacks Outbound Support) to a UA that
  asked for outbound (§6); a binding is keyed by AOR, instance-id and reg-id: a new
  REGISTER with the same pair replaces the old flow, whatever its Contact URI
  (:meth:`OutboundRegistrar.replaces`); the 200 says ``Require: outbound`` and, on a
  direct flow, ``Flow-Timer`` (:class:`OutboundRegistrar`);
- the **authoritative proxy** puts at most one contact per instance in the target
  set, and sends to a directly registered UA over the flow saved with its binding
  (§7, :class:`OutboundProxy`);
- every such server answers STUN Binding requests on its SIP UDP port (§8,
  :mod:`rfc3261.stun`, switched on with ``TransportLayer.stun_server``) and a
  double-CRLF ping on a connection with a CRLF pong (§5.4, :mod:`rfc3261.framing`).

Flow tokens are :mod:`rfc3261.flow_token`'s (signed far-end transport, address and
port), shared with the WebSocket edge.  Whether a flow is still there is asked of the
transport (``flow_alive``: an open connection for TCP/TLS; a UDP flow is assumed
alive, its keep-alives are the UA's business).

Programs: ``proxy --edge`` (this edge, with STUN), ``registrar --outbound`` and
``proxy --outbound`` (registrar and authoritative proxy), ``--flow-timer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from extensions.rfc3327 import PathEdge, path_values, supports_path
from rfc3261.flow_token import flow_token, is_flow_token, parse_flow_token
from rfc3261.headers import Contact, Via
from rfc3261.location import Binding
from rfc3261.message import Request, Response
from rfc3261.proxy import Branch, NextHop, Target
from rfc3261.registrar import RegistrarExtension, Reject
from rfc3261.uri import SipURI, parse_uri, uri_equal

__all__ = [
    "OUTBOUND",
    "OutboundProxy",
    "OutboundRegistrar",
    "outbound_applies",
    "outbound_contact",
    "supports_outbound",
]

#: The option-tag of RFC 5626 (§11.4).
OUTBOUND = "outbound"
#: Flow tokens of this extension start so (a URI user part).
PREFIX = "ob-"
# Chosen targets whose spare flows are remembered at once (see OutboundProxy.retarget).
MAX_SPARE = 1024
# reg-id = "reg-id" EQUAL 1*DIGIT ; 1 to (2^31 - 1)  (§10)
_REG_ID_LIMIT = 2**31


def supports_outbound(request: Request) -> bool:
    """Whether ``request``'s Supported lists "outbound"."""
    return any(tag.lower() == OUTBOUND for tag in request.header("Supported") or [])


##= https://www.rfc-editor.org/rfc/rfc5626#section-10
##% The value of the reg-id MUST NOT be 0 and MUST be less than 2^31.
def outbound_contact(contact: Contact) -> tuple[str | None, str | None]:
    """(instance-id, reg-id) of a Contact value, each None when absent; 400 (as
    :class:`ValueError`) for a reg-id that is not 1 to 2^31 - 1."""
    params = contact.params
    instance = params.get("+sip.instance") if "+sip.instance" in params else None
    reg_id = params.get("reg-id") if "reg-id" in params else None
    if reg_id is not None:
        if not (reg_id.isascii() and reg_id.isdigit()) or not 0 < int(reg_id) < _REG_ID_LIMIT:
            raise ValueError(f"reg-id {reg_id!r} is not 1 to 2^31-1 (RFC 5626 §10)")
        reg_id = str(int(reg_id))
    return instance, reg_id


def is_first_hop(request: Request) -> bool:
    """Whether ``request`` came straight from its UAC (one Via: nobody forwarded it)."""
    return len(request.via) == 1


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##% When receiving a REGISTER request, the registrar MUST check from its
##% Via header field if the registrar is the first hop or not.  If the
##% registrar is not the first hop, it MUST examine the Path header of
##% the request.
def outbound_applies(request: Request) -> bool:
    """Whether outbound processing applies to a REGISTER (§6): we are its first hop,
    or the first Path value (the first edge proxy's) has ``ob``."""
    if is_first_hop(request):
        return True
    try:
        values = path_values(request)
    except ValueError:
        return False
    return bool(values) and isinstance(values[0].uri, SipURI) and "ob" in values[0].uri.params


def _flow_of(source: Any, request: Request) -> NextHop | None:
    """The flow ``request`` came on: transport, far-end address and port.

    ``source`` is an edge :class:`~rfc3261.asyncio.transport.Source`, an Address, or
    the ``host:port`` text the registrar program passes (the transport then is the one
    of the top Via, which the UAC wrote for this very flow)."""
    remote = getattr(source, "remote", source)
    transport = getattr(remote, "transport", None)
    if transport is not None:
        return NextHop(transport.upper(), remote.host, remote.port)
    if isinstance(source, str) and ":" in source:
        host, _, port = source.rpartition(":")
        if port.isdigit():
            return NextHop(request.top_via.transport.upper(), host.strip("[]"), int(port))
    return None


def _token(flow: NextHop) -> str:
    assert flow.port is not None
    return flow_token(flow.transport, flow.host, flow.port, prefix=PREFIX)


def _parse(token: str | None) -> NextHop | None:
    hop = parse_flow_token(token, prefix=PREFIX)
    return None if hop is None else replace(hop, flow=token)


# -- the registrar (§6) ----------------------------------------------------------------


class OutboundRegistrar(RegistrarExtension):
    """§6: bindings keyed by instance-id and reg-id; 439; Require: outbound.

    ``flow_timer``: seconds put in Flow-Timer of a 200 to a UA registered over a
    direct flow (None: none; the UA then uses its default keep-alive intervals).
    ``only``: refuse (421, Require: outbound) a binding that does not use outbound.
    Install it after the RFC 3327 registrar extension, which stores the Path.
    """

    name = OUTBOUND
    option_tags = frozenset({OUTBOUND})

    def __init__(self, *, flow_timer: int | None = None, only: bool = False) -> None:
        if flow_timer is not None and flow_timer < 1:
            raise ValueError("Flow-Timer is a positive number of seconds")
        self.flow_timer = flow_timer
        self.only = only

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% Therefore, if the Contact header field contains
    ##% more than one header field value with a non-zero expiration and any
    ##% of these header field values contain a "reg-id" Contact header field
    ##% parameter, the entire registration SHOULD be rejected with a 400 (Bad
    ##% Request) response.
    def check_contacts(self, request: Request) -> list[tuple[Contact, str | None, str | None]]:
        """Every Contact with its (instance-id, reg-id); 400 for a bad reg-id or a
        reg-id among several contacts being registered."""
        found = []
        registering = 0
        with_reg_id = False
        for contact in request.contact:
            if contact.is_star:
                continue
            try:
                instance, reg_id = outbound_contact(contact)
            except ValueError as error:
                raise Reject(request.make_response(400, f"Bad Request ({error})"[:120])) from error
            expires = contact.expires if contact.expires is not None else request.expires
            if expires != 0:
                registering += 1
                with_reg_id = with_reg_id or reg_id is not None
            found.append((contact, instance, reg_id))
        if registering > 1 and with_reg_id:
            raise Reject(request.make_response(400, "Bad Request (reg-id with several contacts)"))
        return found

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% If the Path header field is missing or it exists but
    ##% the first URI does not have an "ob" URI parameter, then outbound
    ##% processing MUST NOT be applied to the registration.  In this case,
    ##% the following processing applies: if the REGISTER request contains
    ##% the reg-id and the outbound option tag in a Supported header field,
    ##% then the registrar MUST respond to the REGISTER request with a 439
    ##% (First Hop Lacks Outbound Support) response; otherwise, the registrar
    ##% MUST ignore the "reg-id" parameter of the Contact header.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-11.6
    ##% Proxies MUST NOT send a 439 response to any requests that do not
    ##% contain a "reg-id" parameter and an outbound option tag in a
    ##% Supported header field.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% The registrar MUST be prepared to receive, simultaneously for the
    ##% same AOR, some registrations that use instance-id and reg-id and some
    ##% registrations that do not.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% The registrar MUST store in the binding the
    ##% Contact URI, all the Contact header field parameters, and any Path
    ##% header field values.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% If the UAC has a direct flow with the registrar, the registrar MUST
    ##% store enough information to uniquely identify the network flow over
    ##% which the request arrived.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% Registrars that implement this specification MUST support the Path
    ##% header mechanism [RFC3327].
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% The registrar MAY be configured with
    ##% local policy to reject any registrations that do not include the
    ##% instance-id and reg-id, or with Path header field values that do not
    ##% contain the "ob" URI parameter.
    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        contacts = self.check_contacts(request)
        entry = next((c for c in contacts if str(c[0].uri) == binding.contact), None) or next(
            (c for c in contacts if _same_uri(c[0], binding.contact)), None
        )
        if entry is None:
            return binding
        contact, instance, reg_id = entry
        extra = {k: v for k, v in binding.extra.items() if k not in ("instance", "reg-id")}
        params = str(contact.params)
        if params:
            extra["params"] = params  # every Contact parameter, as written
        # A reg-id without an instance-id is not valid: "it simply ignores the reg-id".
        flow_id = reg_id is not None and instance is not None
        applies = outbound_applies(request)
        if flow_id and not applies and supports_outbound(request):
            raise Reject(request.make_response(439, "First Hop Lacks Outbound Support"))
        if self.only and not (flow_id and applies):
            response = request.make_response(421)
            response.headers.add("Require", OUTBOUND)
            raise Reject(response)
        if not (flow_id and applies):
            return replace(binding, extra=extra)  # plain RFC 3261 binding; reg-id ignored
        extra["instance"] = instance
        extra["reg-id"] = reg_id
        flow = binding.flow
        if is_first_hop(request):
            direct = _flow_of(source, request)
            if direct is not None:
                flow = _token(direct)
        return replace(binding, extra=extra, flow=flow)

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% If the registrar receives a re-registration for a specific
    ##% combination of AOR, and instance-id and reg-id values, the registrar
    ##% MUST update any information that uniquely identifies the network flow
    ##% over which the request arrived if that information has changed
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% and SHOULD update the time the binding was last updated.
    def replaces(self, binding: Binding, bindings: list[Binding]) -> list[Binding]:
        """The binding of the same AOR, instance-id and reg-id under another contact URI
        (the UA's address changed with its new flow): the new one takes its place."""
        key = (binding.extra.get("instance"), binding.extra.get("reg-id"))
        if key[1] is None:
            return []
        return [
            other
            for other in bindings
            if other.contact != binding.contact
            and (other.extra.get("instance"), other.extra.get("reg-id")) == key
        ]

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% Provided that the UAC had included an outbound
    ##% option-tag (defined in Section 11.4) in a Supported header field
    ##% value in the REGISTER request, the registrar MUST include the
    ##% outbound option-tag in a Require header field value in its response
    ##% to that REGISTER request.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% If the Contact header did not contain a "reg-id" Contact header field
    ##% parameter or if that parameter was ignored (as described above), the
    ##% registrar MUST NOT include the outbound option-tag in the Require
    ##% header field of its response.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-6
    ##% Registrars with a direct flow with a UA MAY include a
    ##% Flow-Timer header in a 2xx class registration response that includes
    ##% the outbound option-tag in the Require header.
    def on_response(self, request: Request, response: Response, bindings: list[Binding]) -> None:
        self._contact_params(response, bindings)
        try:
            used = any(
                instance is not None and reg_id is not None
                for _, instance, reg_id in self.check_contacts(request)
            )
        except Reject:
            return
        if not (used and supports_outbound(request) and outbound_applies(request)):
            return
        response.headers.add("Require", OUTBOUND)
        if self.flow_timer is not None and is_first_hop(request):
            response.headers.add("Flow-Timer", self.flow_timer)

    @staticmethod
    def _contact_params(response: Response, bindings: list[Binding]) -> None:
        """List each binding in the 200 with the Contact parameters it was registered
        with (+sip.instance, reg-id: how a UA finds its own flows in the list)."""
        if not any("params" in b.extra for b in bindings):
            return
        values = response.headers.get_all("Contact")
        response.headers.remove("Contact")
        for binding, value in zip(bindings, values, strict=False):
            params = binding.extra.get("params", "")
            kept = ";".join(
                p
                for p in params.split(";")
                if p and p.split("=")[0].lower() not in ("expires", "q")
            )
            response.headers.add("Contact", f"{value};{kept}" if kept else value)


def _same_uri(contact: Contact, text: str) -> bool:
    try:
        return uri_equal(contact.uri, parse_uri(text))  # type: ignore[arg-type]
    except ValueError:
        return False


# -- the edge and authoritative proxy (§5, §7) -------------------------------------------


class OutboundProxy(PathEdge):
    """§5 edge proxy (``edge=True``) and §7 authoritative proxy in one extension.

    ``interfaces``: transport -> our ``host:port`` (the Path and Record-Route URIs).
    ``flow_alive(hop)``: whether the flow ``hop`` names still exists (the program asks
    its transport layer; None: every flow is assumed alive).  As an edge it also adds
    a plain RFC 3327 Path for UAs that support Path without outbound (``path``).
    """

    name = OUTBOUND

    def __init__(
        self,
        interfaces: Mapping[str, str] | str,
        *,
        edge: bool = True,
        path: bool = True,
        flow_alive: Callable[[NextHop], bool] | None = None,
    ) -> None:
        super().__init__(interfaces)
        self.edge = edge
        self.path = path
        self.flow_alive = flow_alive or (lambda hop: True)
        # A chosen target -> the other flows of its instance, in preference order
        # (bounded: entries of requests answered otherwise are dropped oldest first).
        self._spare: dict[Target, list[Target]] = {}

    # -- §7: the target set

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% The proxy MUST NOT populate the target set with more than one
    ##% contact with the same AOR and instance-id at a time.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% If the proxy receives a final response from a branch other than a
    ##% 408 (Request Timeout) or a 430 (Flow Failed) response, the proxy
    ##% MUST NOT forward the same request to another target representing
    ##% the same AOR and instance-id.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% If a proxy or registrar receives information from the network that
    ##% indicates that no future messages will be delivered on a specific
    ##% flow, then the proxy MUST invalidate all the bindings in the target
    ##% set that use that flow (regardless of AOR).
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% Similarly, if a proxy closes a file descriptor, it
    ##% MUST invalidate all the bindings in the target set with flows that
    ##% use that file descriptor.
    def targets(self, request: Request, targets: list[Target]) -> list[Target]:
        """One target per instance-id (the most preferred whose flow is alive); a
        binding whose direct flow is gone is left out.  The other flows of an instance
        are kept aside for :meth:`retarget`."""
        chosen: list[Target] = []
        spare: dict[str, list[Target]] = {}
        for target in targets:
            hop = _parse(target.flow)
            if hop is not None and not self.flow_alive(hop):
                continue
            instance = target.binding.extra.get("instance") if target.binding else None
            if instance is not None:
                if instance in spare:
                    spare[instance].append(target)
                    continue
                spare[instance] = []
            chosen.append(target)
        for target in chosen:
            instance = target.binding.extra.get("instance") if target.binding else None
            if instance is not None and spare[instance]:
                self._spare[target] = spare[instance]
                while len(self._spare) > MAX_SPARE:
                    self._spare.pop(next(iter(self._spare)))
        return chosen

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% If a request for a particular AOR and instance-id fails with a 430
    ##% (Flow Failed) response, the proxy SHOULD replace the failed branch
    ##% with another target (if one is available) with the same AOR and
    ##% instance-id, but a different reg-id.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-11.5
    ##% The Authoritative Proxy SHOULD attempt to forward to another target
    ##% (flow) with the same instance-id and AOR.
    def retarget(self, branch: Branch, response: Response) -> list[Target]:
        """After a 430 (or a 408) on a branch, the next flow of the same instance."""
        spare = self._spare.pop(branch.target, [])
        if response.status not in (408, 430) or not spare:
            return []
        following = spare[0]
        if spare[1:]:
            self._spare[following] = spare[1:]
        return [following]

    # -- §16.6 after step 9

    def before_forward(self, branch: Branch) -> int | Response | None:
        copy = branch.request
        if copy.method == "REGISTER":
            return self._register(branch) if self.edge else None
        arrived = branch.context.arrived_route
        user = (
            arrived.uri.user if arrived is not None and isinstance(arrived.uri, SipURI) else None
        )
        if is_flow_token(user, PREFIX):
            return self._incoming(branch, user, arrived.uri)  # type: ignore[arg-type,union-attr]
        if branch.target.flow is not None and is_flow_token(branch.target.flow, PREFIX):
            return self._over_flow(branch, branch.target.flow, dialog_forming=True)
        if self.edge:
            self._record_outgoing_flow(branch)
        return None

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% If the edge proxy is the first hop, as
    ##% indicated by the Via header field, it MUST insert its URI in a Path
    ##% header field value as described in [RFC3327].
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% In addition, if the edge proxy is the first SIP node
    ##% after the UAC, the edge proxy either MUST store a "flow token"
    ##% (containing information about the flow from the previous hop) in its
    ##% Path URI or reject the request.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% The flow token MUST be an identifier
    ##% that is unique to this network flow.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% The flow token MAY be placed in
    ##% the userpart of the URI.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% In addition, the first node MUST include an
    ##% "ob" URI parameter in its Path header field value.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
    ##% If the edge proxy
    ##% is not the first SIP node after the UAC it MUST NOT place an "ob" URI
    ##% parameter in a Path header field value.
    def _register(self, branch: Branch) -> int | Response | None:
        """§5.1: our Path on a REGISTER: with the flow token and ``ob`` when we are the
        UA's first hop and it registers a flow (a reg-id); plain (RFC 3327) otherwise."""
        copy = branch.request
        # Our own Via is on the copy already (step 8): the UA's is the only other one.
        first_hop = len(copy.via) == 2
        outbound = any(
            "reg-id" in c.params and "+sip.instance" in c.params
            for c in copy.contact
            if not c.is_star
        )
        if first_hop and outbound:
            flow = _flow_of(branch.context.server.destination, branch.context.request)
            if flow is None:
                return 403  # no flow to name (never happens on a socket)
            uri = self.path_uri(branch.hop.transport, _token(flow), ";ob")
            copy.headers.prepend("Path", f"<{uri}>")
            return None
        if self.path and supports_path(copy):
            copy.headers.prepend("Path", f"<{self.path_uri(branch.hop.transport)}>")
        return None

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
    ##% If
    ##% the flow token has been tampered with, the proxy SHOULD send a 403
    ##% (Forbidden) response.
    def _incoming(self, branch: Branch, token: str, route: SipURI) -> int | Response | None:
        """§5.3: a request whose Route (removed by §16.4) carried one of our tokens:
        "outgoing" if it came over that very flow (route it as usual), else
        "incoming": send it over the flow."""
        hop = _parse(token)
        if hop is None:
            return 403
        source = _flow_of(branch.context.server.destination, branch.context.request)
        if source is not None and (source.transport, source.host, source.port) == (
            hop.transport,
            hop.host,
            hop.port,
        ):
            return None  # outgoing: from the UA over its flow
        return self._over_flow(branch, token, dialog_forming="ob" in route.params)

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
    ##% If the flow no longer exists, the proxy SHOULD
    ##% send a 430 (Flow Failed) response to the request.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-7
    ##% If the proxy is co-located with the registrar and stored information
    ##% about the flow to the UA that created the binding, then the proxy
    ##% MUST send the request over the same 'logical flow' saved with the
    ##% binding, since that flow is known to deliver data to the specific
    ##% target UA instance's network flow that was saved with the binding.
    def _over_flow(self, branch: Branch, token: str, *, dialog_forming: bool) -> int | None:
        """Send the copy over the flow ``token`` names; 430 when it is gone, 403 when
        the token is not genuine."""
        hop = _parse(token)
        if hop is None:
            return 403
        if not self.flow_alive(hop):
            return 430
        if dialog_forming:
            self._record_flow(branch, token)
        branch.hop = hop
        _set_via_transport(branch.request, hop.transport)
        return None

    def _record_outgoing_flow(self, branch: Branch) -> None:
        """§5.3.2: a dialog-forming request from an outbound UA (``ob`` in its Contact)
        that came straight over its flow: the flow token in our Record-Route, so that
        the dialog's requests come back over the flow."""
        request = branch.context.request
        if not is_first_hop(request):
            return
        contacts = request.contact
        if not contacts or contacts[0].is_star or not isinstance(contacts[0].uri, SipURI):
            return
        if "ob" not in contacts[0].uri.params:
            return
        flow = _flow_of(branch.context.server.destination, request)
        if flow is not None:
            self._record_flow(branch, _token(flow))

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
    ##% If the Route header value contains an "ob" URI parameter, and the
    ##% request is a new dialog-forming request, the proxy needs to adjust
    ##% the route set to ensure that subsequent requests in the dialog can be
    ##% delivered over a valid flow to the UA instance identified by the flow
    ##% token.
    def _record_flow(self, branch: Branch, token: str) -> None:
        """Put ``token`` in the user part of the Record-Route value we added (if any)."""
        copy = branch.request
        records = copy.headers.get_all("Record-Route")
        if not records:
            return
        first = records[0].strip()
        for scheme in ("<sip:", "<sips:"):
            hostport = first[len(scheme) :].split(";")[0].split(">")[0]
            if first.startswith(scheme) and "@" not in hostport:
                if hostport in self.interfaces.values():  # ours, not an upstream proxy's
                    value = f"{scheme}{token}@{first[len(scheme) :]}"
                    copy.headers.set("Record-Route", ", ".join([value, *records[1:]]))
                return


def _set_via_transport(copy: Request, transport: str) -> None:
    """Rewrite the transport of our (top) Via: the hop changed after step 8."""
    via = copy.top_via
    if via.transport.upper() == transport.upper():
        return
    new = Via(transport.upper(), via.host, via.port, via.params, via.protocol)
    copy.headers.remove_first("Via")
    copy.headers.prepend("Via", str(new))

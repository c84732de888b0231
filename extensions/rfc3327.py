"""The Path header field: registering contacts that are not adjacent (RFC 3327).

A UA behind an edge proxy (a NAT, a firewall, a WebSocket server) can be reached only
through that proxy.  RFC 3327 lets the proxy say so while the REGISTER passes: it puts
its own URI on top of the REGISTER's ``Path`` (§5.2, :class:`PathEdge`); the registrar
stores the accumulated values, in order, with the binding -- the *path vector* -- and
returns them in the 200 OK (§5.3, :class:`PathRegistrar`); the home proxy pushes the
stored vector as a pre-loaded Route in front of every request it sends to that contact
(§5.4), so the request visits the edge on its way.  That last step is core proxy code:
:meth:`Target.from_binding <rfc3261.proxy.Target.from_binding>` makes the binding's
``path`` the target's ``route_set``, and §16.6 step 6
(:meth:`~rfc3261.proxy.forwarding.Forwarding.postprocess_routing`) pushes it.

Why an extension and not registrar policy: the core registrar already has the seam
(``Binding.path``, stored by both location services, read by the proxy), and what
remains is option-tag policy (420 and 421, the Require the edge adds), which belongs
with the option tag.  The programs load both halves by the name ``path``
(:mod:`rfc3261.programs.plugins`): the registrar always (``--path-without-supported``
relaxes §5.3's recommended 420), the proxy with ``--path`` (and ``--path-require``).

A UA says it supports Path with :class:`PathUA` (``ua --extension path``): "path" in
its Supported header fields, and the Path of each REGISTER's 200 kept and logged.

What is not here: S/MIME (§6), which sipref does not implement at all (see
``rfc3327.annotations.toml``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, UAEffect, UAExtension
from rfc3261.headers import NameAddr, split_header_values
from rfc3261.location import Binding
from rfc3261.message import Message, Request, Response
from rfc3261.proxy import Branch, ProxyExtension
from rfc3261.registrar import RegistrarExtension, Reject
from rfc3261.uri import SipURI

__all__ = ["PATH", "PathEdge", "PathRegistrar", "PathUA", "path_values", "supports_path"]

LOG = logging.getLogger("sipref.path")

#: The option-tag of RFC 3327 (§4).
PATH = "path"


##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##% Like the Route header field, sequential
##% Path header fields are evaluated in the sequence in which they are
##% present in the request, and Path header fields MAY be combined into
##% compound Path header in a single Path header field.
def path_values(message: Message) -> list[NameAddr]:
    """The Path values of ``message`` in order, however split into header fields.

    Raises :class:`~rfc3261.errors.ParseError` for a value that is not a name-addr
    (``path-value = name-addr *( SEMI rr-param )``, §4).
    """
    values = []
    for row in message.headers.get_all("Path"):
        for text in split_header_values(row):
            value = NameAddr.parse(text, "Path")
            if not value.angle:
                raise ParseError(f"Path value {text!r} is not a name-addr", "RFC 3327 §4", "Path")
            values.append(value)
    return values


##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##% Support for the Path header field MAY be indicated by a UA by
##% including the option-tag "path" in a Supported header field.
def supports_path(request: Request) -> bool:
    """Whether ``request``'s Supported lists "path"."""
    return any(tag.lower() == PATH for tag in request.header("Supported") or [])


class PathRegistrar(RegistrarExtension):
    """§5.3: store the path vector with each binding, echo it in the 200 OK.

    ``without_supported``: accept a Path from a UA that did not list "path" in
    Supported (the MAY of §5.3) instead of the recommended 420.
    """

    name = PATH
    option_tags = frozenset({PATH})

    def __init__(self, *, without_supported: bool = False) -> None:
        self.without_supported = without_supported

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
    ##% If a Path header field exists in a successful REGISTER request, the
    ##% registrar constructs an ordered list of route elements (a path
    ##% vector) from the nodes listed in the Path header field values,
    ##% preserving the order as indicated in the Path header field values.
    ##% The registrar then stores this path vector in association with that
    ##% contact and the address-of-record indicated in the REGISTER request
    ##% (the "binding" as defined in [1]).
    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        vector = tuple(f"<{value.uri}>" for value in self.path_vector(request))
        # A refresh without Path stores an empty vector: each REGISTER says its own path.
        return replace(binding, path=vector)

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
    ##% If a registrar receives a REGISTER request containing a Path header
    ##% field and there is no indication of support for the extension in the
    ##% UA (via a Supported header field), the registrar must rely on local
    ##% policy in determining how to treat this request.  The recommended
    ##% policy is for the registrar to reject the request with a 420 "Bad
    ##% Extension" response indicating the Path extension.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
    ##% However, the Path
    ##% mechanism should technically work in the absence of UA support (at
    ##% some compromise to security), so some registrars MAY choose to
    ##% support the extension in the absence of a Supported header field
    ##% value in the request.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-4
    ##% As suggested therein, such values
    ##% MUST include the loose-routing indicator parameter ";lr" for full
    ##% compliance with [1].
    def path_vector(self, request: Request) -> list[NameAddr]:
        """The REGISTER's Path values; 420 without UA support, 400 if malformed."""
        try:
            values = path_values(request)
        except ParseError as error:
            raise Reject(request.make_response(400, f"Bad Request ({error})"[:120])) from error
        if values and not self.without_supported and not supports_path(request):
            response = request.make_response(420)
            response.headers.add("Unsupported", PATH)
            raise Reject(response)
        for value in values:
            # A strict router in a stored route set would make the home proxy rewrite
            # every request's Request-URI (§16.6 step 6): refuse it now, visibly.
            if not (isinstance(value.uri, SipURI) and value.uri.lr):
                raise Reject(request.make_response(400, "Bad Request (Path value without lr)"))
        return values

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
    ##% The registrar copies the Path
    ##% header field values into a Path header field in the successful (200
    ##% class) REGISTER response.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-4
    ##% The registrar
    ##% reflects the accumulated Path back into the REGISTER response, and
    ##% intermediate nodes propagate this back toward the originating UA.
    def on_response(self, request: Request, response: Response, bindings: list[Binding]) -> None:
        try:
            values = path_values(request)
        except ParseError:
            return  # a REGISTER without Contact (a query): nothing was stored
        if values:
            response.headers.add("Path", ", ".join(str(value) for value in values))


class PathEdge(ProxyExtension):
    """§5.2: a proxy that puts itself on the Path of the REGISTERs it forwards.

    ``interfaces`` maps a transport ("UDP", "TCP", ...) to the ``host:port`` of our
    listening point for it (or is one ``host:port`` for all): the Path URI names the
    one of the transport the REGISTER leaves on, the side the home proxy will reach us
    from.  ``require``: this proxy needs the registrar to support Path (it adds
    ``Require: path``, and refuses with 421 a UA that does not support it).
    ``secure``: our Path URIs are SIPS URIs.
    """

    name = PATH

    def __init__(
        self,
        interfaces: Mapping[str, str] | str,
        *,
        require: bool = False,
        secure: bool = False,
    ) -> None:
        if isinstance(interfaces, str):
            interfaces = {"*": interfaces}
        if not interfaces:
            raise ValueError("PathEdge needs the host:port of at least one interface")
        self.interfaces = {k.upper(): v for k, v in interfaces.items()}
        self.require = require
        self.secure = secure

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-4
    ##% As suggested therein, such values
    ##% MUST include the loose-routing indicator parameter ";lr" for full
    ##% compliance with [1].
    def path_uri(self, transport: str, user: str | None = None, params: str = "") -> str:
        """Our Path URI for requests reaching us over ``transport``: always ``;lr``."""
        transport = transport.upper()
        hostport = self.interfaces.get(transport) or next(iter(self.interfaces.values()))
        secure = self.secure or transport in ("TLS", "WSS")
        scheme = "sips" if secure else "sip"
        name = "" if user is None else f"{user}@"
        param = "" if transport == "UDP" or secure else f";transport={transport.lower()}"
        return f"{scheme}:{name}{hostport}{param};lr{params}"

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% When a proxy processing a REGISTER request wishes to be on the path
    ##% for future requests toward the UA originating that REGISTER request,
    ##% the proxy inserts a URI for that proxy as the topmost value in the
    ##% Path header field (or inserts a new topmost Path header) before
    ##% proxying that request.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-4
    ##% A Path header field MAY be inserted into a REGISTER by any SIP node
    ##% traversed by that request.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% Intermediate proxies SHOULD NOT add a Path header field to a request
    ##% unless the UA has indicated support for this extension with a
    ##% Supported header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% If the UA has indicated support and
    ##% the proxy requires the registrar to support the Path extension, then
    ##% the proxy SHOULD insert a Requires header field value for this
    ##% extension.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% If the UA has not indicated support for the extension and
    ##% the proxy requires support for it in the registrar, the proxy SHOULD
    ##% reject the request with a 421 response indicating a requirement for
    ##% the extension.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% Proxies processing a REGISTER response SHOULD NOT alter any Path
    ##% header field values that may be present in the response.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
    ##% Proxies SHOULD only consider altering the
    ##% value of a Path header field in the REGISTER response if they have
    ##% the credentials to correctly alter the S/MIME body to account for the
    ##% change.
    def before_forward(self, branch: Branch) -> int | Response | None:
        """Our Path on a REGISTER (the only message we touch: the 200's Path goes back
        to the UA as the registrar wrote it)."""
        copy = branch.request
        if copy.method != "REGISTER":
            return None
        if not supports_path(copy):
            if self.require:
                response = copy.make_response(421)
                response.headers.add("Require", PATH)
                return response
            return None
        copy.headers.prepend("Path", f"<{self.path_uri(branch.hop.transport)}>")
        if self.require and PATH not in [t.lower() for t in copy.header("Require") or []]:
            copy.headers.add("Require", PATH)
        return None


class PathUA(UAExtension):
    """A UA that supports Path: "path" in Supported; the Path of each 200 to REGISTER
    kept (``paths``, by AOR) and logged, for the user to see who is on the way."""

    name = PATH
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
    ##% The UA SHOULD include the option tag "path" as a header field value
    ##% in all Supported header fields, and SHOULD include a Supported header
    ##% field in all requests.
    option_tags = (PATH,)

    def __init__(self) -> None:
        #: AOR -> the Path values of the last 200 OK to its REGISTER.
        self.paths: dict[str, tuple[str, ...]] = {}

    ##= https://www.rfc-editor.org/rfc/rfc3327#section-6.2
    ##% Furthermore, UAs receiving a Path header field in a REGISTER response
    ##% SHOULD render it to the user, or (where feasible) check it
    ##% programmatically.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
    ##% The response MAY contain a Path header field.
    ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
    ##% It MAY choose to display the contents of the Path header field to the
    ##% user or take other action outside the scope of this document.
    def inspect_response(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        if client.request.method != "REGISTER" or not 200 <= response.status < 300:
            return None
        try:
            values = tuple(str(value) for value in path_values(response))
        except ParseError:
            values = tuple(response.headers.get_all("Path"))
        aor = str(client.request.to.uri)
        self.paths[aor] = values
        if values:
            LOG.info("registered %s through Path %s", aor, ", ".join(values))
        return None

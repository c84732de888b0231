"""§16.11 stateless proxy behaviour (RFC 3261): what this stateful proxy forwards
without a transaction.

The ACK for a 2xx matches no server transaction (§17.2.3): it is forwarded statelessly,
by the rules of §16.11 -- one target, a branch computed from the message alone, the
body untouched.  A response that matches no client transaction is not forwarded at
all (RFC 6026 §8.2 replaced that part of §16.7; :meth:`Proxy.receive_response
<rfc3261.proxy.core.Proxy.receive_response>`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ParseError
from ..message import Request
from ..registrar import canonical_aor
from ..transaction import MAGIC_COOKIE
from ..uri import AbsoluteURI, SipURI, parse_uri
from .model import ProxyConfig, Send, _Answer, _hash

if TYPE_CHECKING:  # pragma: no cover
    from ..location import LocationService

__all__ = ["StatelessForwarding"]


class StatelessForwarding:
    """§16.11: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    location: LocationService

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% A stateless proxy MUST choose one and only one target from the target set.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% This choice MUST only rely on fields in the message and time-invariant
    ##% properties of the server.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Thus for a stateless proxy, the branch parameter MUST be computed
    ##% as a combinatoric function of message parameters which are invariant
    ##% on retransmission.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Furthermore, when handling a request statelessly, an element MUST NOT
    ##% generate its own 100 (Trying) or any other provisional response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% A stateless proxy MUST follow the request processing steps described
    ##% in Sections 16.4 through 16.5 with the following exception:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% In particular, a retransmitted request MUST be forwarded to the same
    ##% destination each time it is processed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Therefore, the component of the branch parameter that makes it unique
    ##% MUST be the same each time a retransmitted request is forwarded.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% All other message transformations specified in Section 16.6 MUST
    ##% result in the same transformation of a retransmitted request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% In particular, if the proxy inserts a Record-Route value or pushes
    ##% URIs into the Route header field, it MUST place the same values in
    ##% retransmissions of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% As for the Via branch parameter, this implies that the
    ##% transformations MUST be based on time-invariant configuration or
    ##% retransmission-invariant properties of the request.
    def _forward_ack_statelessly(self, ack: Request, now: float, out: list[Send]) -> None:
        """An ACK that matches no server transaction (the ACK for a 2xx): forward it
        statelessly, to the Route or Request-URI (first binding when it is our AOR)."""
        try:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
            ##% A stateless proxy MUST validate a request as described in Section 16.3
            # Steps 1-3 (syntax, URI scheme, Max-Forwards); an ACK cannot be answered, so
            # one that fails is dropped.  Steps 4-6 do not apply: an ACK is never looped
            # back to us with the same branch, and never challenged (§22.1).
            self.check_syntax(ack)
            self.check_uri_scheme(ack)
            self.check_max_forwards(ack)

            own_route = self.may_relay_unchallenged(ack)  # before our Route is popped
            request = self.preprocess_routing(ack)
            uri = request.uri
            target: SipURI | AbsoluteURI = uri
            ours = self.is_in_domain(uri)
            if not request.route and ours and uri.maddr is None:
                aor = canonical_aor(uri)
                found = self.location.lookup(aor, now) if aor else []
                if not found:
                    return
                target = parse_uri(found[0].contact)
            copy = self.copy_request(request)
            self.set_request_uri(copy, target)
            self.update_max_forwards(copy)
            hop = self.next_hop(copy, self.postprocess_routing(copy))
            if not own_route and not self.may_relay_unchallenged(ack, hop):
                return  # with credentials demanded: an ACK of no dialog of ours
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
            ##% However, the following procedure is RECOMMENDED.
            # The branch is a hash of what a retransmission repeats: the incoming branch,
            # Call-ID and CSeq number (the §16.11 procedure, for a request with a branch).
            branch = f"{MAGIC_COOKIE}{_hash(ack.top_via.branch, ack.call_id, ack.cseq.number)}"
            copy.push_via(f"SIP/2.0/{hop.transport} {self._host_port()};branch={branch}")
            self.add_content_length(copy, hop)
        except (ParseError, ValueError, _Answer):
            return
        out.append(Send(copy, hop))

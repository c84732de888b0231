"""§16.7 response processing (RFC 3261), and where a response goes upstream (§18.2.2).

Each response from a client transaction runs through the steps of §16.7: find the
response context (1), update Timer C (2), remove our Via (3), add it to the context
(4), forward it at once if it is a provisional or a 2xx (5), choose the best final
response when nothing is pending (6, :func:`best_response`), aggregate the
challenges of a 401/407 (7), leave Record-Route alone (8), hand it to the server
transaction (9) and, after a final response, CANCEL the pending branches (10).  A
response context lives until all its transactions have terminated.
:func:`via_destination` is the §18.2.2 destination of a response sent without a
server transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..headers import Via
from ..message import Response
from ..transaction_client import ClientTransaction
from ..transports import route_response
from .model import Branch, NextHop, ProxyConfig, ProxyExtension, ResponseContext, Send

if TYPE_CHECKING:  # pragma: no cover
    from ..transaction_server import ServerTransaction

__all__ = ["ResponseProcessing", "best_response", "via_destination"]


def via_destination(via: Via) -> NextHop:
    """Where a response goes per a Via value, by §18.2.2 and RFC 3581 §4 (route_response).

    The proxy core knows no connections: over a reliable transport this is
    where to open a new one.  A sent-by name (port None: none given) is for
    the adapter to resolve (RFC 3263 §5).
    """
    route = route_response(via)
    return NextHop(route.transport, route.host or via.host, route.port)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% The stateful proxy MUST choose the "best" final response among those
##% received and stored in the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% It MUST choose from the 6xx class responses if any exist in the
##% context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% If no 6xx class responses are present, the proxy SHOULD choose from
##% the lowest response class stored in the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% The proxy MAY select any response within that chosen class.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% The proxy SHOULD give preference to responses that provide information
##% affecting resubmission of this request, such as 401, 407, 415, 420, and
##% 484 if the 4xx class is chosen.
def best_response(responses: list[Response]) -> Response | None:
    """The "best" final response of a response context (§16.7 step 6); None if none."""
    if not responses:
        return None
    six = [r for r in responses if r.status >= 600]
    if six:
        return six[0]
    lowest = min(r.status // 100 for r in responses)
    candidates = [r for r in responses if r.status // 100 == lowest]
    if lowest == 4:
        preferred = [r for r in candidates if r.status in (401, 407, 415, 420, 484)]
        if preferred:
            return preferred[0]
    return candidates[0]


class ResponseProcessing:
    """§16.7: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    contexts: dict[ServerTransaction, ResponseContext]
    _branches: dict[ClientTransaction, Branch]
    _cancels: set[ClientTransaction]
    extensions: tuple[ProxyExtension, ...]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% As client transactions pass responses to the proxy layer, the
    ##% following processing MUST take place:
    def _on_response(
        self, transaction: ClientTransaction, response: Response, now: float, out: list[Send]
    ) -> None:
        if transaction in self._cancels:
            return  # the response to our own CANCEL: nothing to forward (§16.7 step 3)
        branch = self._branches.get(transaction)  # step 1: find the context
        if branch is None:
            return
        self.process_response(branch, response, now, out)

    def process_response(
        self, branch: Branch, response: Response, now: float, out: list[Send]
    ) -> None:
        """§16.7 steps 2-10 for one response on ``branch``."""
        context = branch.context
        status = response.status
        if status >= 200 and not branch.final and self.try_next_tuple(branch, status, now, out):
            return
        # Step 2: Timer C.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% but this value MUST be greater than 3 minutes.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% For an INVITE transaction, if the response is a provisional response
        ##% with status codes 101 to 199 inclusive (i.e., anything but 100), the
        ##% proxy MUST reset timer C for that client transaction.
        if (
            branch.method == "INVITE"
            and 101 <= status <= 199
            and not branch.final
            and not branch.timer_c_abandon
        ):
            self._set_timer_c(branch, now + self.config.timer_c)
        if status < 200:
            branch.provisional = True
            if branch.cancel_wanted and not branch.cancelled and not branch.final:
                self.send_cancel(branch, now, out)
        # Step 3: Via.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% If no Via header field values remain in the response, the response
        ##% was meant for this element and MUST NOT be forwarded.
        response.pop_top_via()
        if not response.via:
            return
        if status >= 200:
            already_final = branch.final
            branch.final = True
            self._set_timer_c(branch, None)
            if already_final and status >= 300:
                return  # e.g. the 487 after we assumed a 408 (Timer C)
        # Step 4: add to the context.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##= verify=absence
        ##= reason=this proxy never recurses on a 3xx, so it has no contacts to remove
        ##% If the proxy chooses to recurse on any contacts in a 3xx response by
        ##% adding them to the target set, it MUST remove them from the response
        ##% before adding the response to the response context.
        if status >= 300:
            context.responses.append(response)  # this proxy does not recurse on 3xx
        # Step 5: forward immediately?
        if self.forwards_immediately(context, status):
            self.forward_response(context, response, now, out)
        elif status >= 600:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% If a 6xx response is received, it is not immediately forwarded,
            ##% but the stateful proxy SHOULD cancel all client pending
            ##% transactions as described in Section 10
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% and it MUST NOT create any new branches in this context.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% A proxy SHOULD also generate a CANCEL request for all pending
            ##% client transactions associated with this response context when it
            ##% receives a 6xx response.
            context.no_new_branches = True
            self.cancel_pending(context, now, out)
        if status >= 300 and not context.no_new_branches and not context.final_sent:
            for extension in self.extensions:
                context.targets.extend(extension.retarget(branch, response))
        if status >= 300:
            self.start_branches(context, now, out)  # sequential forking: the next target
            self.choose_best_if_done(context, now, out)
        if status >= 200:
            self._forget_if_done(context)

    def forwards_immediately(self, context: ResponseContext, status: int) -> bool:
        """§16.7 step 5: a 101-199 until a final response went upstream, and any 2xx."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% A stateful proxy MUST NOT immediately forward any other responses.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% In particular, a stateful proxy MUST NOT forward any 100 (Trying)
        ##% response.
        if status == 100 or status >= 300:
            return False

        return status >= 200 or not context.final_sent

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A stateful proxy MUST send a final response to a response context's
    ##% server transaction if no final responses have been immediately
    ##% forwarded by the above rules and all client transactions in this
    ##% response context have been terminated.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If there are no final responses in the context, the proxy MUST send a
    ##% 408 (Request Timeout) response to the server transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Otherwise, the proxy MUST forward a response from the responses stored
    ##% in the response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy which receives a 503 (Service Unavailable) response SHOULD NOT
    ##% forward it upstream unless it can determine that any subsequent
    ##% requests it might proxy will also generate a 503.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the only response that was received is a 503, the proxy SHOULD
    ##% generate a 500 response and forward that upstream.
    def choose_best_if_done(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """§16.7 step 6: when no branch is pending and no target is left, the best."""
        if context.final_sent or context.pending:
            return
        if context.next_target < len(context.targets) and not context.no_new_branches:
            return
        best = best_response(context.responses)
        if best is None:
            best = context.server.request.make_response(408)
        elif best.status == 503:
            best = context.server.request.make_response(500)
        self.forward_response(context, best, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Until a final response has been sent on the server transaction, the
    ##% following responses MUST be forwarded immediately:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% After a final response has been sent on the server transaction, the
    ##% following responses MUST be forwarded immediately:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The forwarded response MUST be processed as described in steps
    ##% "Aggregate Authorization Header Field Values" through "Record-Route".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Any response chosen for immediate forwarding MUST be processed
    ##% as described in steps "Aggregate Authorization Header Field Values"
    ##% through "Record-Route".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The following processing MUST be performed on each response that is
    ##% forwarded.
    def forward_response(
        self, context: ResponseContext, response: Response, now: float, out: list[Send]
    ) -> None:
        """§16.7 steps 7-10 for a response chosen for forwarding."""
        self.aggregate_challenges(context, response)  # 7
        # 8: Record-Route values are not rewritten (a MAY; servers.annotations.toml).
        final = response.status >= 200
        self.send_upstream(context, response, now, out)  # 9
        if final:
            context.final_sent = True
            context.no_new_branches = True
            self.cancel_pending(context, now, out)  # 10

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the selected response is a 401 (Unauthorized) or 407 (Proxy
    ##% Authentication Required), the proxy MUST collect any WWW-Authenticate
    ##% and Proxy-Authenticate header field values from all other 401
    ##% (Unauthorized) and 407 (Proxy Authentication Required) responses
    ##% received so far in this response context and add them to this
    ##% response without modification before forwarding.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Each WWW-Authenticate and Proxy-Authenticate value received in
    ##% responses to the forked request MUST be placed into the single
    ##% response that is sent by the forking proxy to the UA; the ordering of
    ##% these header field values is not significant.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
    ##% Each WWW-Authenticate and Proxy-Authenticate value
    ##% received in response to the forked request MUST be placed into the
    ##% single response that is sent by the forking proxy to the UAC.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
    ##% When the forking proxy places multiple WWW-Authenticate and
    ##% Proxy-Authenticate header fields received from one downstream proxy
    ##% into a single response, it MUST maintain the order of these header
    ##% fields.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% All 407 (Proxy Authentication Required) responses MUST be forwarded
    ##% upstream toward the UAC following the procedures for any other
    ##% response.
    def aggregate_challenges(self, context: ResponseContext, response: Response) -> None:
        """Step 7: a 401/407 carries every challenge of the context's other 401/407s."""
        if response.status not in (401, 407):
            return
        for other in context.responses:
            if other is response or other.status not in (401, 407):
                continue
            for name in ("WWW-Authenticate", "Proxy-Authenticate"):
                for value in other.headers.get_all(name):
                    response.headers.add(name, value)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST pass the response to the server transaction
    ##% associated with the response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST NOT add to, modify, or remove the message body.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% In particular, the proxy MUST NOT remove any "received" parameter it
    ##% may have added to the next Via header field value while processing
    ##% the request associated with this response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Unless otherwise specified, the proxy MUST NOT remove any header field
    ##% values other than the Via header field value discussed in Section 16.7
    ##% Item 3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT insert a tag into the To header field of a 1xx or 2xx
    ##% response if the request did not contain one.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT modify the tag in the To header field of a 1xx or 2xx
    ##% response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT modify the To tag in any forwarded response to a
    ##% request that contains a To tag.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% An element SHOULD preserve the To tag when simply forwarding a 3-6xx response to a
    ##% request that did not contain a To tag.
    def send_upstream(
        self, context: ResponseContext, response: Response, now: float, out: list[Send]
    ) -> None:
        """Step 9: to the server transaction; discarded when it is gone (RFC 6026 §8.3)."""
        # RFC 6026 §8.3 replaces RFC 3261's "MUST forward the response statelessly" with
        # "If the server transaction is no longer available to handle the transmission,
        # the response is simply discarded." (a forked branch's 2xx after Timer L).
        if context.server_terminated:
            return
        self._respond(context.server, response, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the forwarded response was a final response, the proxy MUST
    ##% generate a CANCEL request for all pending client transactions
    ##% associated with this response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% A proxy MUST cancel any pending client transactions associated with a
    ##% response context when it receives a matching CANCEL request.
    def cancel_pending(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """Step 10: CANCEL every pending branch (INVITE only; others just finish)."""
        for branch in context.pending:
            if branch.method != "INVITE" or branch.cancelled:
                continue
            if branch.provisional:
                self.send_cancel(branch, now, out)
            else:
                branch.cancel_wanted = True  # §9.1: wait for a provisional response

    # -- the life of a response context --------------------------------------------------

    def _on_terminated(self, transaction: Any) -> None:
        if isinstance(transaction, ClientTransaction):
            self._cancels.discard(transaction)
            branch = self._branches.pop(transaction, None)
            if branch is not None:
                branch.terminated = True
                self._forget_if_done(branch.context)
        elif transaction in self.contexts:
            context = self.contexts[transaction]
            context.server_terminated = True
            self._forget_if_done(context)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST maintain the response context until all of its
    ##% associated transactions have been terminated, even after forwarding a
    ##% final response.
    def _forget_if_done(self, context: ResponseContext) -> None:
        # A branch abandoned after its CANCEL (final, transaction still alive) does not
        # hold the context: late responses on it are forwarded statelessly.
        if context.server_terminated and all(b.terminated or b.final for b in context.branches):
            self.contexts.pop(context.server, None)
            if all(b.terminated for b in context.branches):
                # Nothing reaches the context now but its own branches (Branch.context):
                # break that cycle so reference counting frees the context, its requests
                # and responses at once.  The programs run the cyclic collector rarely
                # (programs.common), so an idle one would keep them (issue 13, defect 8).
                context.branches.clear()

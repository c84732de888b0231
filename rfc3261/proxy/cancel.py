"""§16.8 Timer C, §16.9 transport errors and §16.10 CANCEL processing (RFC 3261).

When Timer C fires on an INVITE branch, the proxy CANCELs it if a provisional
response arrived and otherwise acts as if a 408 had (§16.8); a transport error or a
transaction timeout counts as a 503 or 408 response (§16.9).  A CANCEL that matches
a response context is answered 200 and cancels every pending branch (§16.10).  The
CANCEL itself is built by §9.1 from the branch's INVITE; 64*T1 after it, the branch
is given up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..message import Request
from .model import Branch, ResponseContext, Send

if TYPE_CHECKING:  # pragma: no cover
    from ..timers import TimerValues
    from ..transaction_client import ClientTransaction
    from ..transaction_layer import TransactionLayer
    from ..transaction_server import ServerTransaction

__all__ = ["CancelProcessing"]


class CancelProcessing:
    """§16.8-§16.10: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    layer: TransactionLayer
    timers: TimerValues
    contexts: dict[ServerTransaction, ResponseContext]
    _branches: dict[ClientTransaction, Branch]
    _cancels: set[ClientTransaction]

    # -- §9.1: the CANCEL of one branch --------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% CANCEL and non-200 ACK requests MUST have the same branch parameter
    ##% value as the corresponding request they cancel or acknowledge.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% In particular, CANCEL and ACK requests (for non-2xx responses) MUST
    ##% have the same branch value as the corresponding request they cancel
    ##% or acknowledge.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
    ##% fields in the CANCEL request MUST be identical to those in the
    ##% request being cancelled, including tags.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% A CANCEL constructed by a client MUST have only a single Via header
    ##% field value matching the top Via value in the request being cancelled.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% If the request being cancelled contains a Route header field, the
    ##% CANCEL request MUST include that Route header field's values.
    def send_cancel(self, branch: Branch, now: float, out: list[Send]) -> None:
        """CANCEL one branch's INVITE (§9.1) on a new client transaction."""
        invite = branch.request
        headers: list[tuple[str, Any]] = [
            ("Via", str(invite.top_via)),
            ("Max-Forwards", 70),
            ("From", invite.headers.get("From")),
            ("To", invite.headers.get("To")),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.number} CANCEL"),
        ]
        headers += [("Route", value) for value in invite.headers.get_all("Route")]
        ##= https://www.rfc-editor.org/rfc/rfc3326#section-2
        ##% Proxies generating a CANCEL request upon reception of a CANCEL from the
        ##% previous hop that contains a Reason header field SHOULD copy it into the new
        ##% CANCEL request.
        headers += [("Reason", value) for value in branch.context.cancel_reasons]
        headers.append(("Content-Length", 0))
        cancel = Request("CANCEL", invite.uri, headers)
        branch.cancelled = True
        transaction, effects = self.layer.send_request(cancel, branch.hop, now)
        self._cancels.add(transaction)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
        ##% If there is no final response for the original request in 64*T1
        ##% seconds (T1 is defined in Section 17.1.1.1), the client SHOULD then
        ##% consider the original transaction cancelled and SHOULD destroy the
        ##% client transaction handling the original request.
        branch.timer_c_abandon = True
        self._set_timer_c(branch, now + 64 * self.timers.T1)
        self._run(effects, now, out)

    # -- §16.8 Timer C, §16.9 transport errors -------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If timer C should fire, the proxy MUST either reset the timer with
    ##% any value it chooses, or terminate the client transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If the client transaction has received a provisional response, the proxy
    ##% MUST generate a CANCEL request matching that transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If the client
    ##% transaction has not received a provisional response, the proxy MUST
    ##% behave as if the transaction received a 408 (Request Timeout)
    ##% response.
    def timer_c_fired(self, branch: Branch, now: float, out: list[Send]) -> None:
        """Timer C (or the 64*T1 wait after our CANCEL) fired on an INVITE branch."""
        if branch.final:
            return
        if branch.provisional and not branch.cancelled:
            self.send_cancel(branch, now, out)
            return
        self._assume_response(branch, 408, now, out)

    def _on_client_failure(
        self, transaction: ClientTransaction, status: int, now: float, out: list[Send]
    ) -> None:
        """Timer B/F (408) or a transport error (503) on a client transaction."""
        branch = self._branches.get(transaction)
        if branch is not None and not branch.final:
            self._assume_response(branch, status, now, out)

    def _assume_response(self, branch: Branch, status: int, now: float, out: list[Send]) -> None:
        """Act as if ``branch`` received ``status`` (a response built from its request)."""
        self.process_response(branch, branch.request.make_response(status), now, out)

    # -- §16.10 CANCEL processing --------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% If a matching response context is found, the element MUST
    ##% immediately return a 200 (OK) response to the CANCEL request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% Furthermore, the element MUST generate CANCEL requests for all
    ##% pending client transactions in the context as described in Section
    ##% 16.7 step 10.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% Regardless of the method of the original request, as long as the
    ##% CANCEL matched an existing transaction, the UAS answers the CANCEL
    ##% request itself with a 200 (OK) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% If it has, the CANCEL request has no effect on the processing of the
    ##% original request, no effect on any session state, and no effect on the
    ##% responses generated for the original request.
    def process_cancel(
        self, server: ServerTransaction, cancel: Request, now: float, out: list[Send]
    ) -> bool:
        """§16.10: a CANCEL matching a response context: 200, then CANCEL every branch.

        A CANCEL for a request this proxy answered itself (480, 407, ...: no response
        context, the server transaction still there) is answered 200 as a UAS does
        (§9.2) and changes nothing.  False when no transaction matches: the CANCEL is
        then proxied like any request.
        """
        invite_server = self.layer.find_cancel_target(cancel)
        if invite_server is None:
            return False
        context = self.contexts.get(invite_server)
        if context is None:
            self._respond(server, cancel.make_response(200), now, out)
            return True
        self._respond(server, cancel.make_response(200), now, out)
        context.cancel_reasons = [str(v) for v in cancel.headers.get_all("Reason")]
        context.no_new_branches = True
        self.cancel_pending(context, now, out)
        self.choose_best_if_done(context, now, out)
        return True

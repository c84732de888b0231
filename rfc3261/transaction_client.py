"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2 and §8.4).

The INVITE client transaction (Figure 5 as replaced by RFC 6026) and the
non-INVITE client transaction (Figure 6), each a transition table below its
figure, plus the ACK the INVITE client transaction builds for a non-2xx final
response (§17.1.1.3).  Shared machinery is in :mod:`rfc3261.transaction`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .timers import DEFAULT_TIMERS, TimerValues
from .transaction import (
    Action,
    Effect,
    Event,
    ResponseReceived,
    SendMessage,
    State,
    Transaction,
    Transitions,
)

if TYPE_CHECKING:  # pragma: no cover
    from .message import Request, Response

__all__ = [
    "ClientTransaction",
    "InviteClientTransaction",
    "NonInviteClientTransaction",
    "build_ack",
]

A = Action

# -- Figure 5 (RFC 6026 §8.4): INVITE client transaction ----------------------
#
#                                   |INVITE from TU
#                 Timer A fires     |INVITE sent      Timer B fires
#                 Reset A,          V                 or Transport Err.
#                 INVITE sent +-----------+           inform TU
#                   +---------|           |--------------------------+
#                   |         |  Calling  |                          |
#                   +-------->|           |-----------+              |
#  300-699                    +-----------+ 2xx       |              |
#  ACK sent                      |  |       2xx to TU |              |
#  resp. to TU                   |  |1xx              |              |
#  +-----------------------------+  |1xx to TU        |              |
#  |                                |                 |              |
#  |                1xx             V                 |              |
#  |                1xx to TU +-----------+           |              |
#  |                +---------|           |           |              |
#  |                |         |Proceeding |           |              |
#  |                +-------->|           |           |              |
#  |                          +-----------+ 2xx       |              |
#  |         300-699             |    |     2xx to TU |              |
#  |         ACK sent,  +--------+    +---------------+              |
#  |         resp. to TU|                             |              |
#  |                    |                             |              |
#  |                    V                             V              |
#  |              +-----------+                   +----------+       |
#  +------------->|           |Transport Err.     |          |       |
#                 | Completed |Inform TU          | Accepted |       |
#              +--|           |-------+           |          |-+     |
#      300-699 |  +-----------+       |           +----------+ |     |
#      ACK sent|    ^  |              |               |  ^     |     |
#              |    |  |              |               |  |     |     |
#              +----+  |              |               |  +-----+     |
#                      |Timer D fires |  Timer M fires|    2xx       |
#                      |-             |             - |    2xx to TU |
#                      +--------+     |   +-----------+              |
#     NOTE:                     V     V   V                          |
#  Transitions                 +------------+                        |
#  are labeled                 |            |                        |
#  with the event              | Terminated |<-----------------------+
#  over the action             |            |
#  to take.                    +------------+
#
#                   Figure 5: INVITE client transaction

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% The initial state, "calling", MUST be entered when the TU initiates a new
##% client transaction with an INVITE request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% The client transaction MUST pass the request to the transport layer for
##% transmission (see Section 18).
INVITE_CLIENT_INITIAL = (State.CALLING, (A.SEND_REQUEST, A.START_TIMER_A, A.START_TIMER_B))

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% When timer A fires, the client transaction MUST retransmit the request by
##% passing it to the transport layer, and MUST reset the timer with a value
##% of 2*T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% When timer A fires 2*T1 seconds later, the request MUST be retransmitted
##% again (assuming the client transaction is still in this state).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% These retransmissions SHOULD only be done while the client transaction is
##% in the "calling" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% If the client transaction is still in the "Calling" state when timer B
##% fires, the client transaction SHOULD inform the TU that a timeout has
##% occurred.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% The client transaction MUST NOT generate an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% If the client transaction receives a provisional response while in the
##% "Calling" state, it transitions to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% In the "Proceeding" state, the client transaction SHOULD NOT retransmit
##% the request any longer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% Furthermore, the provisional response MUST be passed to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% Any further provisional responses MUST be passed up to the TU while in
##% the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% When in either the "Calling" or "Proceeding" states, reception of a
##% response with status code from 300-699 MUST cause the client transaction
##% to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% The client transaction MUST pass the received response up to the TU, and
##% the client transaction MUST generate an ACK request, even if the transport
##% is reliable (guidelines for constructing the ACK from the response are
##% given in Section 17.1.1.3), and then pass the ACK to the transport layer
##% for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% Any retransmissions of a response with status code 300-699 that are
##% received while in the "Completed" state MUST cause the ACK to be
##% re-passed to the transport layer for retransmission, but the newly
##% received response MUST NOT be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% If Timer D fires while the client transaction is in the "Completed"
##% state, the client transaction MUST move to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% When a 2xx response is received while in either the "Calling" or
##% "Proceeding" states, the client transaction MUST transition to the
##% "Accepted" state, and Timer M MUST be started with a value of 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% The 2xx response MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% The client transaction MUST NOT generate an ACK to the 2xx response -- its
##% handling is delegated to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% Any 2xx responses that match this client transaction and that are
##% received while in the "Accepted" state MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% If Timer M fires while the client transaction is in the "Accepted" state,
##% the client transaction MUST move to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##% A 2xx response received while in the "Accepted" state MUST be passed to
##% the TU and the machine remains in the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.4
##% The client transaction SHOULD inform the TU that a transport failure has
##% occurred, and the client transaction SHOULD transition directly to the
##% "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% When in either the "Calling" or "Proceeding" states, reception of a
##% response with status code from 300-699 MUST cause the client transaction
##% to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% The client transaction MUST pass the received response up to the TU, and
##% the client transaction MUST generate an ACK request, even if the transport
##% is reliable (guidelines for constructing the ACK from the response are
##% given in Section 17.1.1.3) and then pass the ACK to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% Any retransmissions of the final response that are received while in the
##% "Completed" state MUST cause the ACK to be re-passed to the transport layer
##% for retransmission, but the newly received response MUST NOT be passed up
##% to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##% If timer D fires while the client transaction is in the "Completed" state,
##% the client transaction MUST move to the terminated state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=exception
##= reason=replaced by RFC 6026 section 8.4: a 2xx leads to "Accepted" (Timer M)
##% When in either the "Calling" or "Proceeding" states, reception of a 2xx
##% response MUST cause the client transaction to enter the "Terminated"
##% state, and the response MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##% If a 2xx response is received while the client INVITE state machine is in
##% the "Calling" or "Proceeding" states, it MUST transition to the "Accepted"
##% state, pass the 2xx response to the TU, and set Timer M to 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##% The client transaction MUST NOT generate an ACK to any 2xx response on its
##% own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##% When Timer M fires and the state machine is in the "Accepted" state, the
##% machine MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##% The client transaction MUST NOT generate an ACK to the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##% An element sending or receiving a 2xx to an INVITE transaction MUST NOT
##% destroy any matching INVITE transaction state.
INVITE_CLIENT_TRANSITIONS: Transitions = {
    (State.CALLING, Event.TIMER_A): (State.CALLING, (A.SEND_REQUEST, A.RESET_TIMER_A)),
    (State.CALLING, Event.TIMER_B): (State.TERMINATED, (A.INFORM_TU_TIMEOUT,)),
    (State.CALLING, Event.TRANSPORT_ERROR): (State.TERMINATED, (A.INFORM_TU_TRANSPORT_ERROR,)),
    (State.CALLING, Event.PROVISIONAL): (State.PROCEEDING, (A.PASS_RESPONSE,)),
    (State.CALLING, Event.SUCCESS): (State.ACCEPTED, (A.PASS_RESPONSE, A.START_TIMER_M)),
    (State.CALLING, Event.FAILURE): (
        State.COMPLETED,
        (A.PASS_RESPONSE, A.SEND_ACK, A.START_TIMER_D),
    ),
    (State.PROCEEDING, Event.PROVISIONAL): (State.PROCEEDING, (A.PASS_RESPONSE,)),
    (State.PROCEEDING, Event.SUCCESS): (State.ACCEPTED, (A.PASS_RESPONSE, A.START_TIMER_M)),
    (State.PROCEEDING, Event.FAILURE): (
        State.COMPLETED,
        (A.PASS_RESPONSE, A.SEND_ACK, A.START_TIMER_D),
    ),
    (State.COMPLETED, Event.FAILURE): (State.COMPLETED, (A.RESEND_ACK,)),
    (State.COMPLETED, Event.TIMER_D): (State.TERMINATED, ()),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (State.TERMINATED, (A.INFORM_TU_TRANSPORT_ERROR,)),
    (State.ACCEPTED, Event.SUCCESS): (State.ACCEPTED, (A.PASS_RESPONSE,)),
    (State.ACCEPTED, Event.TIMER_M): (State.TERMINATED, ()),
}

# -- Figure 6: non-INVITE client transaction -----------------------------------
#
#                                  |Request from TU
#                                  |send request
#              Timer E             V
#              send request  +-----------+
#                  +---------|           |-------------------+
#                  |         |  Trying   |  Timer F          |
#                  +-------->|           |  or Transport Err.|
#                            +-----------+  inform TU        |
#               200-699         |  |                         |
#               resp. to TU     |  |1xx                      |
#               +---------------+  |resp. to TU              |
#               |                  |                         |
#               |   Timer E        V       Timer F           |
#               |   send req +-----------+ or Transport Err. |
#               |  +---------|           | inform TU         |
#               |  |         |Proceeding |------------------>|
#               |  +-------->|           |-----+             |
#               |            +-----------+     |1xx          |
#               |              |      ^        |resp to TU   |
#               | 200-699      |      +--------+             |
#               | resp. to TU  |                             |
#               |              |                             |
#               |              V                             |
#               |            +-----------+                   |
#               |            |           |                   |
#               |            | Completed |                   |
#               |            |           |                   |
#               |            +-----------+                   |
#               |              ^   |                         |
#               |              |   | Timer K                 |
#               +--------------+   | -                       |
#                                  |                         |
#                                  V                         |
#            NOTE:           +-----------+                   |
#                            |           |                   |
#        transitions         | Terminated|<------------------+
#        labeled with        |           |
#        the event           +-----------+
#        over the action
#        to take
#
#                Figure 6: non-INVITE client transaction

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% The "Trying" state is entered when the TU initiates a new client
##% transaction with a request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% The request MUST be passed to the transport layer for transmission.
NON_INVITE_CLIENT_INITIAL = (State.TRYING, (A.SEND_REQUEST, A.START_TIMER_F, A.START_TIMER_E))

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If Timer F fires while the client transaction is still in the "Trying"
##% state, the client transaction SHOULD inform the TU about the timeout, and
##% then it SHOULD enter the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If a provisional response is received while in the "Trying" state, the
##% response MUST be passed to the TU, and then the client transaction SHOULD
##% move to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If a final response (status codes 200-699) is received while in the
##% "Trying" state, the response MUST be passed to the TU, and the client
##% transaction MUST transition to the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If timer F fires while in the "Proceeding" state, the TU MUST be informed
##% of a timeout, and the client transaction MUST transition to the
##% terminated state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If a final response (status codes 200-699) is received while in the
##% "Proceeding" state, the response MUST be passed to the TU, and the client
##% transaction MUST transition to the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##% If Timer K fires while in this state, the client transaction MUST
##% transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.4
##% The client transaction SHOULD inform the TU that a transport failure has
##% occurred, and the client transaction SHOULD transition directly to the
##% "Terminated" state.
NON_INVITE_CLIENT_TRANSITIONS: Transitions = {
    (State.TRYING, Event.TIMER_E): (State.TRYING, (A.SEND_REQUEST, A.RESET_TIMER_E)),
    (State.TRYING, Event.TIMER_F): (State.TERMINATED, (A.INFORM_TU_TIMEOUT,)),
    (State.TRYING, Event.TRANSPORT_ERROR): (State.TERMINATED, (A.INFORM_TU_TRANSPORT_ERROR,)),
    (State.TRYING, Event.PROVISIONAL): (State.PROCEEDING, (A.PASS_RESPONSE,)),
    (State.TRYING, Event.FINAL): (State.COMPLETED, (A.PASS_RESPONSE, A.START_TIMER_K)),
    (State.PROCEEDING, Event.TIMER_E): (State.PROCEEDING, (A.SEND_REQUEST, A.RESET_TIMER_E_T2)),
    (State.PROCEEDING, Event.TIMER_F): (State.TERMINATED, (A.INFORM_TU_TIMEOUT,)),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (
        State.TERMINATED,
        (A.INFORM_TU_TRANSPORT_ERROR,),
    ),
    (State.PROCEEDING, Event.PROVISIONAL): (State.PROCEEDING, (A.PASS_RESPONSE,)),
    (State.PROCEEDING, Event.FINAL): (State.COMPLETED, (A.PASS_RESPONSE, A.START_TIMER_K)),
    (State.COMPLETED, Event.TIMER_K): (State.TERMINATED, ()),
}


class ClientTransaction(Transaction):
    """A client transaction: created by the TU with a request and a destination."""

    __slots__ = ()

    def __init__(
        self,
        request: Request,
        destination: Any,
        *,
        reliable: bool | None = None,
        timers: TimerValues = DEFAULT_TIMERS,
    ) -> None:
        if request.method == "ACK":
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
            ##% There is no client transaction for ACK.
            raise ValueError("ACK: there is no client transaction for ACK (RFC 3261 §17.1)")
        super().__init__(request, destination, reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Effect]:
        """Send the request: the transition into the initial state."""
        return self._start(now)

    def receive_response(self, response: Response, now: float) -> list[Effect]:
        """A response matched to this transaction (§17.1.3) arrived."""
        return self._handle(self._classify(response.status), now, response)

    def transport_error(self, now: float) -> list[Effect]:
        """The transport could not send the request (or ACK) (§17.1.4)."""
        return self._handle(Event.TRANSPORT_ERROR, now, None)

    def _classify(self, status: int) -> Event:
        raise NotImplementedError

    # -- actions -----------------------------------------------------------

    def _send_request(self, now: float, effects: list[Effect], message: Any) -> None:
        # A retransmission passes the very message sent first once more.  A request kept
        # as bytes (keep_request_as_bytes) is parsed again for the first retransmission
        # and kept so: the transport may have to rewrite its Via (§18.1.1) for each one.
        effects.append(SendMessage(self.request, self.destination, self))

    def _pass_response(self, now: float, effects: list[Effect], response: Response) -> None:
        effects.append(ResponseReceived(self, response))


class InviteClientTransaction(ClientTransaction):
    """The INVITE client transaction (Figure 5, RFC 6026)."""

    __slots__ = ("ack",)

    TRANSITIONS = INVITE_CLIENT_TRANSITIONS
    INITIAL = INVITE_CLIENT_INITIAL

    def __init__(
        self,
        request: Request,
        destination: Any,
        *,
        reliable: bool | None = None,
        timers: TimerValues = DEFAULT_TIMERS,
    ) -> None:
        super().__init__(request, destination, reliable=reliable, timers=timers)
        # The ACK for a 300-699 response, built once, re-sent on retransmissions.
        self.ack: Request | None = None

    def _classify(self, status: int) -> Event:
        if status < 200:
            return Event.PROVISIONAL
        if status < 300:
            return Event.SUCCESS
        return Event.FAILURE

    def _start_timer_a(self, now: float, effects: list[Effect], message: Any) -> None:
        interval = self.timers.timer_a(self.reliable)
        if interval is not None:
            self._interval = interval
            self._start_timer(Event.TIMER_A, now, interval)

    def _reset_timer_a(self, now: float, effects: list[Effect], message: Any) -> None:
        self._interval = self.timers.next_timer_a(self._interval)
        self._start_timer(Event.TIMER_A, now, self._interval)

    def _start_timer_b(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_B, now, self.timers.timer_b())

    def _start_timer_d(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_D, now, self.timers.timer_d(self.reliable))

    def _start_timer_m(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_M, now, self.timers.timer_m())

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
    ##% The ACK MUST be sent to the same address, port, and transport to which
    ##% the original request was sent.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% The ACK MUST be sent to the same address, port, and transport to which
    ##% the original request was sent.
    def _send_ack(self, now: float, effects: list[Effect], response: Response) -> None:
        self.ack = build_ack(self.request, response)
        effects.append(SendMessage(self.ack, self.destination, self))

    def _resend_ack(self, now: float, effects: list[Effect], message: Any) -> None:
        if self.ack is not None:
            effects.append(SendMessage(self.ack, self.destination, self))


class NonInviteClientTransaction(ClientTransaction):
    """The non-INVITE client transaction (Figure 6)."""

    __slots__ = ()

    TRANSITIONS = NON_INVITE_CLIENT_TRANSITIONS
    INITIAL = NON_INVITE_CLIENT_INITIAL

    def _classify(self, status: int) -> Event:
        return Event.PROVISIONAL if status < 200 else Event.FINAL

    def _start_timer_e(self, now: float, effects: list[Effect], message: Any) -> None:
        interval = self.timers.timer_e(self.reliable)
        if interval is not None:
            self._interval = interval
            self._start_timer(Event.TIMER_E, now, interval)

    def _reset_timer_e(self, now: float, effects: list[Effect], message: Any) -> None:
        self._interval = self.timers.next_timer_e(self._interval)
        self._start_timer(Event.TIMER_E, now, self._interval)

    def _reset_timer_e_t2(self, now: float, effects: list[Effect], message: Any) -> None:
        self._interval = self.timers.timer_e_proceeding()
        self._start_timer(Event.TIMER_E, now, self._interval)

    def _start_timer_f(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_F, now, self.timers.timer_f())

    def _start_timer_k(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_K, now, self.timers.timer_k(self.reliable))


# -- §17.1.1.3 Construction of the ACK Request ------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% The ACK request constructed by the client transaction MUST contain values
##% for the Call-ID, From, and Request-URI that are equal to the values of
##% those header fields in the request passed to the transport by the client
##% transaction (call this the "original request").
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% The To header field in the ACK MUST equal the To header field in the
##% response being acknowledged, and therefore will usually differ from the To
##% header field in the original request by the addition of the tag parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% The ACK MUST contain a single Via header field, and this MUST be equal to
##% the top Via header field of the original request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% The CSeq header field in the ACK MUST contain the same value for the
##% sequence number as was present in the original request, but the method
##% parameter MUST be equal to "ACK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% If the INVITE request whose response is being acknowledged had Route
##% header fields, those header fields MUST appear in the ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##% Therefore, placement of bodies in ACK for non-2xx is NOT RECOMMENDED, but
##% if done, the body types are restricted to any that appeared in the
##% INVITE, assuming that the response to the INVITE was not 415.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=exception
##= reason=the ACK for a non-2xx never carries a body here, as recommended
##% Although any request MAY contain a body, a body in an ACK is special since
##% the request cannot be rejected if the body is not understood.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=exception
##= reason=the ACK for a non-2xx never carries a body here, as recommended
##% If it was, the body in the ACK MAY be any type listed in the Accept header
##% field in the 415.
def build_ack(request: Request, response: Response) -> Request:
    """The ACK for a 300-699 ``response`` to the INVITE ``request`` (§17.1.1.3), without a body.

    Max-Forwards is copied from the INVITE (70 when it had none), as in the
    example of §17.1.1.3.
    """
    from .message import Headers, Request

    original = request.headers
    max_forwards = original.get("Max-Forwards")
    fields = [
        ("Via", original.get_all("Via")[0]),
        ("Max-Forwards", max_forwards if max_forwards else "70"),
        ("To", response.headers.get("To") or ""),
        ("From", original.get("From") or ""),
        ("Call-ID", original.get("Call-ID") or ""),
        ("CSeq", f"{request.cseq.number} ACK"),
    ]
    fields.extend(("Route", route) for route in original.get_all("Route"))
    fields.append(("Content-Length", "0"))
    return Request("ACK", request.uri, Headers(fields))

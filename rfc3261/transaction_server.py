"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1, §8.5-§8.8).

The INVITE server transaction (Figure 7 as replaced by RFC 6026) and the
non-INVITE server transaction (Figure 8), each a transition table below its
figure.  Shared machinery is in :mod:`rfc3261.transaction`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .message import parse
from .timers import DEFAULT_TIMERS, TimerValues
from .transaction import (
    MAGIC_COOKIE,
    Action,
    Effect,
    Event,
    RequestReceived,
    SendMessage,
    State,
    Transaction,
    Transitions,
)

if TYPE_CHECKING:  # pragma: no cover
    from .message import Request, Response

__all__ = [
    "InviteServerTransaction",
    "NonInviteServerTransaction",
    "ServerTransaction",
]

A = Action

# -- Figure 7 (RFC 6026 §8.6): INVITE server transaction ----------------------
#
#                                     |INVITE
#                                     |pass INV to TU
#                  INVITE             V send 100 if TU won't in 200 ms
#                  send response+------------+
#                      +--------|            |--------+ 101-199 from TU
#                      |        |            |        | send response
#                      +------->|            |<-------+
#                               | Proceeding |
#                               |            |--------+ Transport Err.
#                               |            |        | Inform TU
#                               |            |<-------+
#                               +------------+
#                  300-699 from TU |    |2xx from TU
#                  send response   |    |send response
#                   +--------------+    +------------+
#                   |                                |
#  INVITE           V          Timer G fires         |
#  send response +-----------+ send response         |
#       +--------|           |--------+              |
#       |        |           |        |              |
#       +------->| Completed |<-------+      INVITE  |  Transport Err.
#                |           |               -       |  Inform TU
#       +--------|           |----+          +-----+ |  +---+
#       |        +-----------+    | ACK      |     | v  |   v
#       |          ^   |          | -        |  +------------+
#       |          |   |          |          |  |            |---+ ACK
#       +----------+   |          |          +->|  Accepted  |   | to TU
#       Transport Err. |          |             |            |<--+
#       Inform TU      |          V             +------------+
#                      |      +-----------+        |  ^     |
#                      |      |           |        |  |     |
#                      |      | Confirmed |        |  +-----+
#                      |      |           |        |  2xx from TU
#        Timer H fires |      +-----------+        |  send response
#        -             |          |                |
#                      |          | Timer I fires  |
#                      |          | -              | Timer L fires
#                      |          V                | -
#                      |        +------------+     |
#                      |        |            |<----+
#                      +------->| Terminated |
#                               |            |
#                               +------------+
#
#                   Figure 7: INVITE server transaction

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% When a server transaction is constructed for a request, it enters the
##% "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% The server transaction MUST generate a 100 (Trying) response unless it
##% knows that the TU will generate a provisional or final response within
##% 200 ms, in which case it MAY generate a 100 (Trying) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% The request MUST be passed to the TU.
INVITE_SERVER_INITIAL = (State.PROCEEDING, (A.PASS_REQUEST, A.SEND_TRYING))

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% So long as the server transaction is in the "Proceeding" state, each of
##% these MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% If a request retransmission is received while in the "Proceeding" state,
##% the most recent provisional response that was received from the TU MUST
##% be passed to the transport layer for retransmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the
##% server transaction, the server transaction MUST pass this response to the
##% transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##% The server transaction MUST then transition to the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% If the SIP element's TU (Transaction User) issues a 2xx response for this
##% transaction while the state machine is in the "Proceeding" state, the
##% state machine MUST transition to the "Accepted" state and set Timer L to
##% 64*T1, where T1 is the round-trip time estimate defined in Section
##% 17.1.1.1 of [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% While in the "Proceeding" state, if the TU passes a response with status
##% code from 300 to 699 to the server transaction, the response MUST be
##% passed to the transport layer for transmission, and the state machine
##% MUST enter the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% If timer G fires, the response is passed to the transport layer once more
##% for retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% Furthermore, while in the "Completed" state, if a request retransmission
##% is received, the server SHOULD pass the response to the transport for
##% retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% If an ACK is received while the server transaction is in the "Completed"
##% state, the server transaction MUST transition to the "Confirmed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% As Timer G is ignored in this state, any retransmissions of the response
##% will cease.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% If timer H fires while in the "Completed" state, it implies that the ACK
##% was never received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% In this case, the server transaction MUST transition to the "Terminated"
##% state, and MUST indicate to the TU that a transaction failure has
##% occurred.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% Once timer I fires, the server MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% While in the "Accepted" state, any retransmissions of the INVITE received
##% will match this transaction state machine and will be absorbed by the
##% machine without changing its state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% The server transaction MUST NOT generate 2xx retransmissions on its own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% Any retransmission of the 2xx response passed from the TU to the
##% transaction while in the "Accepted" state MUST be passed to the transport
##% layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% Any ACKs received from the network while in the "Accepted" state MUST be
##% passed directly to the TU and not absorbed.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% When Timer L fires and the state machine is in the "Accepted" state, the
##% machine MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##% While in the "Accepted" state, if the TU passes a 2xx response, the server
##% transaction MUST pass the response to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##% If Timer L fires while the INVITE server transaction is in the "Accepted"
##% state, the transaction MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% A server transaction MUST NOT discard transaction state based only on
##% encountering a non-recoverable transport error when sending a response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##% Instead, the associated INVITE server transaction state machine MUST
##% remain in its current state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.8
##% If those should all fail, based on the definition of failure in [4], the
##% server transaction SHOULD inform the TU that a failure has occurred, and
##% MUST remain in the current state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the
##% server transaction, the server transaction MUST pass this response to the
##% transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=exception
##= reason=replaced by RFC 6026 section 8.5: a 2xx leads to "Accepted" (Timer L)
##% The server transaction MUST then transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.4
##= type=exception
##= reason=replaced by RFC 6026 section 8.8: the transaction keeps its state
##% If those should all fail, based on the definition of failure in [4], the
##% server transaction SHOULD inform the TU that a failure has occurred, and
##% SHOULD transition to the terminated state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##% An element sending or receiving a 2xx to an INVITE transaction MUST NOT
##% destroy any matching INVITE transaction state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##% An element encountering an unrecoverable transport error when trying to
##% send a response to an INVITE request MUST NOT immediately destroy the
##% associated INVITE server transaction state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##% When receiving an ACK that matches an existing INVITE server transaction
##% and that does not contain a branch parameter containing the magic cookie
##% defined in RFC 3261, the matching transaction MUST be checked to see if it
##% is in the "Accepted" state.
INVITE_SERVER_TRANSITIONS: Transitions = {
    (State.PROCEEDING, Event.REQUEST): (State.PROCEEDING, (A.RESEND_RESPONSE,)),
    (State.PROCEEDING, Event.TU_PROVISIONAL): (State.PROCEEDING, (A.SEND_RESPONSE,)),
    (State.PROCEEDING, Event.TU_SUCCESS): (State.ACCEPTED, (A.SEND_RESPONSE, A.START_TIMER_L)),
    (State.PROCEEDING, Event.TU_FAILURE): (
        State.COMPLETED,
        (A.SEND_RESPONSE, A.START_TIMER_G, A.START_TIMER_H),
    ),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (
        State.PROCEEDING,
        (A.INFORM_TU_TRANSPORT_ERROR,),
    ),
    (State.COMPLETED, Event.REQUEST): (State.COMPLETED, (A.RESEND_RESPONSE,)),
    (State.COMPLETED, Event.TIMER_G): (State.COMPLETED, (A.RESEND_RESPONSE, A.RESET_TIMER_G)),
    (State.COMPLETED, Event.ACK): (State.CONFIRMED, (A.START_TIMER_I,)),
    (State.COMPLETED, Event.TIMER_H): (State.TERMINATED, (A.INFORM_TU_TIMEOUT,)),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (State.COMPLETED, (A.INFORM_TU_TRANSPORT_ERROR,)),
    (State.CONFIRMED, Event.TIMER_I): (State.TERMINATED, ()),
    (State.ACCEPTED, Event.TU_SUCCESS): (State.ACCEPTED, (A.SEND_RESPONSE,)),
    (State.ACCEPTED, Event.ACK): (State.ACCEPTED, (A.PASS_ACK,)),
    (State.ACCEPTED, Event.TIMER_L): (State.TERMINATED, ()),
    (State.ACCEPTED, Event.TRANSPORT_ERROR): (State.ACCEPTED, (A.INFORM_TU_TRANSPORT_ERROR,)),
}

# -- Figure 8: non-INVITE server transaction ------------------------------------
#
#                                 |Request received
#                                 |pass to TU
#                                 V
#                           +-----------+
#                           |           |
#                           | Trying    |-------------+
#                           |           |             |
#                           +-----------+             |200-699 from TU
#                                 |                   |send response
#                                 |1xx from TU        |
#                                 |send response      |
#                                 |                   |
#              Request            V      1xx from TU  |
#              send response+-----------+send response|
#                  +--------|           |--------+    |
#                  |        | Proceeding|        |    |
#                  +------->|           |<-------+    |
#           +<--------------|           |             |
#           |Trnsprt Err    +-----------+             |
#           |Inform TU            |                   |
#           |                     |                   |
#           |                     |200-699 from TU    |
#           |                     |send response      |
#           |  Request            V                   |
#           |  send response+-----------+             |
#           |      +--------|           |             |
#           |      |        | Completed |<------------+
#           |      +------->|           |
#           +<--------------|           |
#           |Trnsprt Err    +-----------+
#           |Inform TU            |
#           |                     |Timer J fires
#           |                     |-
#           |                     |
#           |                     V
#           |               +-----------+
#           |               |           |
#           +-------------->| Terminated|
#                           |           |
#                           +-----------+
#
#               Figure 8: non-INVITE server transaction
#
# RFC 6026 §8.8 rewrote §17.2.4 for every server transaction: on a transport
# error the transaction informs the TU and stays in its state.  The table
# follows that text, so the two "Trnsprt Err" arrows above are self-loops here.

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% The state machine is initialized in the "Trying" state and is passed a
##% request other than INVITE or ACK when initialized.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% This request is passed up to the TU.
NON_INVITE_SERVER_INITIAL = (State.TRYING, (A.PASS_REQUEST,))

##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% Once in the "Trying" state, any further request retransmissions are
##% discarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% While in the "Trying" state, if the TU passes a provisional response to
##% the server transaction, the server transaction MUST enter the
##% "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% The response MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% Any further provisional responses that are received from the TU while in
##% the "Proceeding" state MUST be passed to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% If a retransmission of the request is received while in the "Proceeding"
##% state, the most recently sent provisional response MUST be passed to the
##% transport layer for retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% If the TU passes a final response (status codes 200-699) to the server
##% while in the "Proceeding" state, the transaction MUST enter the
##% "Completed" state, and the response MUST be passed to the transport layer
##% for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% While in the "Completed" state, the server transaction MUST pass the
##% final response to the transport layer for retransmission whenever a
##% retransmission of the request is received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% Any other final responses passed by the TU to the server transaction MUST
##% be discarded while in the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##% The server transaction remains in this state until Timer J fires, at
##% which point it MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.8
##% If those should all fail, based on the definition of failure in [4], the
##% server transaction SHOULD inform the TU that a failure has occurred, and
##% MUST remain in the current state.
NON_INVITE_SERVER_TRANSITIONS: Transitions = {
    (State.TRYING, Event.TU_PROVISIONAL): (State.PROCEEDING, (A.SEND_RESPONSE,)),
    (State.TRYING, Event.TU_FINAL): (State.COMPLETED, (A.SEND_RESPONSE, A.START_TIMER_J)),
    (State.TRYING, Event.TRANSPORT_ERROR): (State.TRYING, (A.INFORM_TU_TRANSPORT_ERROR,)),
    (State.PROCEEDING, Event.TU_PROVISIONAL): (State.PROCEEDING, (A.SEND_RESPONSE,)),
    (State.PROCEEDING, Event.REQUEST): (State.PROCEEDING, (A.RESEND_RESPONSE,)),
    (State.PROCEEDING, Event.TU_FINAL): (State.COMPLETED, (A.SEND_RESPONSE, A.START_TIMER_J)),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (
        State.PROCEEDING,
        (A.INFORM_TU_TRANSPORT_ERROR,),
    ),
    (State.COMPLETED, Event.REQUEST): (State.COMPLETED, (A.RESEND_RESPONSE,)),
    (State.COMPLETED, Event.TIMER_J): (State.TERMINATED, ()),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (State.COMPLETED, (A.INFORM_TU_TRANSPORT_ERROR,)),
}


# The states in which a server transaction has sent its final response.
_FINAL_SENT = frozenset({State.COMPLETED, State.ACCEPTED, State.CONFIRMED, State.TERMINATED})


class ServerTransaction(Transaction):
    """A server transaction: created for a request received from ``destination``."""

    __slots__ = ("_last_wire", "last_response", "send_100")

    def __init__(
        self,
        request: Request,
        destination: Any,
        *,
        reliable: bool | None = None,
        timers: TimerValues = DEFAULT_TIMERS,
        send_100: bool = True,
    ) -> None:
        super().__init__(request, destination, reliable=reliable, timers=timers)
        # The response most recently passed to the transport (provisional or final),
        # or None when the transaction keeps only its bytes (``_last_wire``).
        self.last_response: Response | None = None
        self.send_100 = send_100
        # The bytes of the last response, when the transaction keeps nothing else of it:
        # an INVITE server transaction's responses, a completed non-INVITE server
        # transaction's final response (see _keep_only_final_bytes).
        self._last_wire: bytes | None = None

    def start(self, now: float) -> list[Effect]:
        """Pass the request up to the TU: the transition into the initial state."""
        return self._start(now)

    def receive_request(self, request: Request, now: float) -> list[Effect]:
        """A request matched to this transaction (§17.2.3): a retransmission or the ACK."""
        event = Event.ACK if request.method == "ACK" else Event.REQUEST
        return self._handle(event, now, request)

    def receive_retransmission(self, now: float) -> list[Effect]:
        """A retransmission of the request, matched by its key (§17.2.3) and not parsed."""
        return self._handle(Event.REQUEST, now, None)

    def send_response(self, response: Response, now: float) -> list[Effect]:
        """The TU passes ``response`` to the transaction for transmission."""
        return self._handle(self._classify(response.status), now, response)

    def transport_error(self, now: float) -> list[Effect]:
        """The transport could not send a response (§17.2.4)."""
        return self._handle(Event.TRANSPORT_ERROR, now, None)

    @property
    def _final_wire(self) -> bytes | None:
        """The kept bytes of the final response (None before there is one)."""
        return self._last_wire if self.state in _FINAL_SENT else None

    @property
    def to_tag(self) -> str | None:
        """The To tag of the last response sent (the ACK of RFC 2543 peers carries it)."""
        response = self.last_response
        if response is None and self._last_wire is not None:
            response = parse(self._last_wire)  # rare: an RFC 2543 peer's ACK or a log
        return None if response is None else response.to.tag

    def _matched_by_branch(self) -> bool:
        """Whether requests match this transaction by branch and sent-by alone (the
        magic cookie, §17.2.3); RFC 2543 matching compares the To tag of the response."""
        if self.key is not None:
            return len(self.key) == 4  # see transaction_layer.server_key
        request = self._request
        return request is not None and (request.top_via.branch or "").startswith(MAGIC_COOKIE)

    def _classify(self, status: int) -> Event:
        raise NotImplementedError

    # -- actions -----------------------------------------------------------

    def _pass_request(self, now: float, effects: list[Effect], request: Request) -> None:
        effects.append(RequestReceived(self, request))

    def _send_response(self, now: float, effects: list[Effect], response: Response) -> None:
        self.last_response = response
        effects.append(SendMessage(response, self.destination, self))

    def _resend_response(self, now: float, effects: list[Effect], message: Any) -> None:
        if self._last_wire is not None:
            # The effect carries a Response as every SendMessage does; parsing the kept
            # bytes costs a retransmission only, and the bytes go out unchanged.
            wire = self._last_wire
            effects.append(SendMessage(parse(wire), self.destination, self, wire))
        elif self.last_response is not None:
            effects.append(SendMessage(self.last_response, self.destination, self))


class InviteServerTransaction(ServerTransaction):
    """The INVITE server transaction (Figure 7, RFC 6026)."""

    __slots__ = ()

    TRANSITIONS = INVITE_SERVER_TRANSITIONS
    INITIAL = INVITE_SERVER_INITIAL

    def _classify(self, status: int) -> Event:
        if status < 200:
            return Event.TU_PROVISIONAL
        if status < 300:
            return Event.TU_SUCCESS
        return Event.TU_FAILURE

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% The 100 (Trying) response is constructed according to the procedures in
    ##% Section 8.2.6, except that the insertion of tags in the To header field
    ##% of the response (when none was present in the request) is downgraded
    ##% from MAY to SHOULD NOT.
    def _send_response(self, now: float, effects: list[Effect], response: Response) -> None:
        """Send ``response`` and keep its bytes only: all this transaction may do with it
        later is send it again (a request retransmission in "Proceeding" or "Completed",
        Timer G) and read its To tag (an RFC 2543 ACK, parsed again then).  A pending
        INVITE lives for seconds; its 100 (Trying) as an object would hold the request's
        parsed header fields too.  RFC 2543 matching keeps the response as it is."""
        if not self._matched_by_branch():
            super()._send_response(now, effects, response)
            return
        wire = bytes(response)
        effects.append(SendMessage(response, self.destination, self, wire))
        self.last_response = None
        self._last_wire = wire

    def _send_trying(self, now: float, effects: list[Effect], request: Request) -> None:
        # send_100=False is the TU's promise to answer within 200 ms.
        if self.send_100:
            self._send_response(now, effects, request.make_response(100))

    def _pass_ack(self, now: float, effects: list[Effect], ack: Request) -> None:
        effects.append(RequestReceived(self, ack))

    def _start_timer_g(self, now: float, effects: list[Effect], message: Any) -> None:
        interval = self.timers.timer_g(self.reliable)
        if interval is not None:
            self._interval = interval
            self._start_timer(Event.TIMER_G, now, interval)

    def _reset_timer_g(self, now: float, effects: list[Effect], message: Any) -> None:
        self._interval = self.timers.next_timer_g(self._interval)
        self._start_timer(Event.TIMER_G, now, self._interval)

    def _start_timer_h(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_H, now, self.timers.timer_h())

    def _start_timer_i(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_I, now, self.timers.timer_i(self.reliable))

    def _start_timer_l(self, now: float, effects: list[Effect], message: Any) -> None:
        self._start_timer(Event.TIMER_L, now, self.timers.timer_l())


class NonInviteServerTransaction(ServerTransaction):
    """The non-INVITE server transaction (Figure 8)."""

    __slots__ = ()

    TRANSITIONS = NON_INVITE_SERVER_TRANSITIONS
    INITIAL = NON_INVITE_SERVER_INITIAL

    def __init__(
        self,
        request: Request,
        destination: Any,
        *,
        reliable: bool | None = None,
        timers: TimerValues = DEFAULT_TIMERS,
        send_100: bool = False,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise ValueError(
                f"{request.method}: a non-INVITE server transaction is for a request other"
                " than INVITE or ACK (RFC 3261 §17.2.2)"
            )
        super().__init__(request, destination, reliable=reliable, timers=timers, send_100=send_100)

    def _classify(self, status: int) -> Event:
        return Event.TU_PROVISIONAL if status < 200 else Event.TU_FINAL

    def _start_timer_j(self, now: float, effects: list[Effect], response: Response) -> None:
        value = self.timers.timer_j(self.reliable)
        self._start_timer(Event.TIMER_J, now, value)
        if value > 0:
            self._keep_only_final_bytes(response, effects)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% While in the "Completed" state, the server transaction MUST pass the
    ##% final response to the transport layer for retransmission whenever a
    ##% retransmission of the request is received.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% Any other final responses passed by the TU to the server transaction MUST
    ##% be discarded while in the "Completed" state.
    def _keep_only_final_bytes(self, response: Response, effects: list[Effect]) -> None:
        """In "Completed", keep the final response's bytes and let the rest go.

        From here to Timer J (64*T1 over UDP) the transaction only resends its final
        response when the request comes again, and discards anything the TU passes:
        it needs its key (held by the transaction layer) and those bytes, not the
        parsed request nor the response object.  The bytes are made once and given to
        the transport with the first send too.  A request whose branch lacks the magic
        cookie keeps everything: RFC 2543 matching (§17.2.3) compares its To tag.
        """
        request = self._request
        if request is None or not (request.top_via.branch or "").startswith(MAGIC_COOKIE):
            return
        wire = bytes(response)
        for effect in reversed(effects):
            if effect.__class__ is SendMessage and effect.message is response:  # type: ignore[union-attr]
                effect.wire = wire  # type: ignore[union-attr]
                break
        self._last_wire = wire
        self.last_response = None
        self.keep_request_as_bytes()

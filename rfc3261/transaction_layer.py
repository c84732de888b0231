"""The transaction layer: many transactions, matching, one clock (RFC 3261 §17.1.3, §17.2.3).

:class:`TransactionLayer` sits between the transport and the transaction user
(TU).  It holds every live transaction, matches each response to its client
transaction (§17.1.3) and each request to its server transaction (§17.2.3,
with the RFC 2543 fallback when the branch lacks the magic cookie), finds the
INVITE a CANCEL cancels (§9.2), passes on ACKs for 2xx responses, and keeps
the earliest deadline of all its transactions in a heap, so that
``next_deadline()`` and ``handle_timer(now)`` cost O(log n) however many
transactions are alive.  Like the transactions, it does no I/O: every call
returns the list of effects (:mod:`rfc3261.transaction`) for the caller to
carry out.

Messages given to the layer are assumed to have passed the transport's checks
(§18.1.2, §18.2.1): a top Via, a CSeq, From, To and Call-ID that parse.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .timers import DEFAULT_TIMERS, TimerQueue, TimerValues
from .transaction import MAGIC_COOKIE, Effect, RequestReceived, SendMessage, Transaction
from .transaction_client import (
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from .transaction_server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)

if TYPE_CHECKING:  # pragma: no cover
    from .message import Request, Response

__all__ = [
    "TransactionLayer",
    "client_key",
    "sends_first",
    "server_key",
    "server_key_from_bytes",
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##% If the response has the same value of the branch parameter in the top Via
##% header field as the branch parameter in the top Via header field of the
##% request that created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##% If the method parameter in the CSeq header field matches the method of the
##% request that created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##% The method is needed since a CANCEL request constitutes a different
##% transaction, but shares the same value of the branch parameter.
def client_key(branch: str | None, method: str) -> tuple[str, str] | None:
    """The key of a client transaction: (branch, CSeq method); None without a branch."""
    if not branch:
        return None
    # Parameter values compare case-insensitively (§7.3.1); the method does not.
    return (branch.lower(), method)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% the branch parameter in the request is equal to the one in the top Via
##% header field of the request that created the transaction, and
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% the sent-by value in the top Via of the request is equal to the one in the
##% request that created the transaction, and
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% the method of the request matches the one that created the transaction,
##% except for ACK, where the method of the request that created the
##% transaction is INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% This matching rule applies to both INVITE and non-INVITE transactions
##% alike.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% If the branch parameter in the top Via header field is not present, or
##% does not contain the magic cookie, the following procedures are used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% The INVITE request matches a transaction if the Request-URI, To tag, From
##% tag, Call-ID, CSeq, and top Via header field match those of the INVITE
##% request which created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% The ACK request matches a transaction if the Request-URI, From tag,
##% Call-ID, CSeq number (not the method), and top Via header field match
##% those of the INVITE request which created the transaction, and the To tag
##% of the ACK matches the To tag of the response sent by the server
##% transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% Matching is done based on the matching rules defined for each of those
##% header fields.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% For all other request methods, a request is matched to a transaction if
##% the Request-URI, To tag, From tag, Call-ID, CSeq (including the method),
##% and top Via header field match those of the request that created the
##% transaction.
def server_key(request: Request, method: str | None = None) -> tuple[Any, ...]:
    """The key of the server transaction ``request`` matches, as if its method were ``method``.

    With a magic-cookie branch: (branch, sent-by host, sent-by port, method),
    ACK standing for INVITE.  Otherwise (RFC 2543): Request-URI, From tag,
    Call-ID, CSeq number, method and top Via, compared by their own rules
    (URIs by §19.1.4, Via by §20.42); the To tag is checked after the lookup
    (:meth:`TransactionLayer.match_request`) because an ACK's To tag is the
    response's, not the request's.
    """
    if method is None:
        method = request.method
    if method == "ACK":
        method = "INVITE"
    via = request.top_via
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return (branch.lower(), via.host.lower(), via.port, method)
    return (request.uri, request.from_.tag, request.call_id, request.cseq.number, method, via)


# The first Via header line (long or compact name), then that line as a plain RFC 3261
# value: "SIP/2.0/transport host[:port];params", one value, no IPv6 literal, no folding.
_FIRST_VIA = re.compile(rb"\r\n(?:via|v)[ \t]*:", re.IGNORECASE)
_PLAIN_VIA = re.compile(
    rb"[ \t]*SIP/2\.0/[A-Za-z]+[ \t]+([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?[ \t]*;([^\r\n,]*)\r\n"
    rb"(?![ \t])"
)

_BRANCH = re.compile(rb";[ \t]*branch[ \t]*=[ \t]*([^; \t]*)", re.IGNORECASE)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% The request matches a transaction if:
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% the branch parameter in the request is equal to the one in the top Via
##% header field of the request that created the transaction, and
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##% the sent-by value in the top Via of the request is equal to the one in the
##% request that created the transaction, and
def server_key_from_bytes(data: bytes) -> tuple[str, str, int | None, str] | None:
    """The key :func:`server_key` gives a non-INVITE request, read from its bytes unparsed.

    With a magic-cookie branch, §17.2.3 matches a request on its top Via's branch and
    sent-by and its method alone: a retransmission can be recognised without parsing the
    rest.  None whenever the bytes are not plainly such a request (a response, INVITE or
    ACK, an RFC 2543 branch, an unusual top Via): the caller then parses the request.
    """
    space = data.find(b" ", 0, 32)
    if space <= 0:
        return None
    method = data[:space]
    if method in (b"INVITE", b"ACK", b"SIP/2.0") or not method.isalpha():
        return None
    head_end = data.find(b"\r\n\r\n")
    first = _FIRST_VIA.search(data, 0, head_end)
    if first is None:
        return None
    via = _PLAIN_VIA.match(data, first.end(), head_end + 2)
    if via is None:
        return None
    host, port, params = via.groups()
    branches = _BRANCH.findall(b";" + params)
    if len(branches) != 1 or not branches[0].startswith(MAGIC_COOKIE.encode()):
        return None
    try:
        return (
            branches[0].decode("ascii").lower(),
            host.decode("ascii").lower(),
            None if port is None else int(port),
            method.decode("ascii"),
        )
    except UnicodeDecodeError:
        return None


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##% The proxy core MUST behave as a UAS with respect to sending an
##% immediate provisional on that server transaction (such as 100 Trying)
##% as described in Section 8.2.6.
def sends_first(effects: list[Effect]) -> list[Effect]:
    """``effects`` with the messages to send ahead of the events for the TU, else in order.

    A new INVITE server transaction passes the request up and sends its 100 (Trying) in
    one step (§17.2.1).  A TU that answers while it handles the event sends its response
    at once; carried out in list order, the transaction's 100 would follow that final
    response.  What a transaction sends was decided before the TU heard of anything, so
    it goes out first.
    """
    if len(effects) < 2:
        return effects
    sends = [e for e in effects if e.__class__ is SendMessage]
    if not sends or len(sends) == len(effects):
        return effects
    return sends + [e for e in effects if e.__class__ is not SendMessage]


def _without_method(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A server key with the method left out (the method sits at index 3 or 4)."""
    return key[:3] if len(key) == 4 else key[:4] + key[5:]


class TransactionLayer:
    """Every live transaction of one element, the matching rules and a shared timer heap.

    ``send_100`` is passed to new INVITE server transactions: False is the TU's
    promise to answer every INVITE within 200 ms (§17.2.1).
    """

    def __init__(
        self,
        timers: TimerValues = DEFAULT_TIMERS,
        *,
        send_100: bool = True,
        max_server_transactions: int | None = None,
        retry_after: int = 5,
    ) -> None:
        self.timers = timers
        self.send_100 = send_100
        # Overload (issue 23): with this many server transactions alive, a new request
        # gets a stateless 503 with Retry-After instead of one more transaction.
        self.max_server_transactions = max_server_transactions
        self.retry_after = retry_after
        self.overloaded = 0
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[tuple[Any, ...], ServerTransaction] = {}
        # Server transactions other than INVITE and CANCEL by their key without
        # the method: what a CANCEL for them matches (§9.2).
        self._cancellable: dict[tuple[Any, ...], ServerTransaction] = {}
        # (deadline, sequence, transaction); stale entries are skipped lazily.
        self._timers: TimerQueue[Transaction] = TimerQueue()
        # Responses that matched no client transaction and were dropped.
        self.stray_responses = 0

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    @property
    def client_transactions(self) -> list[ClientTransaction]:
        return list(self._clients.values())

    @property
    def server_transactions(self) -> list[ServerTransaction]:
        return list(self._servers.values())

    # -- client side ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
    ##% When the TU wishes to initiate a new transaction, it creates a client
    ##% transaction and passes it the SIP request to send and an IP address,
    ##% port, and transport to which to send it.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
    ##% One handles client transactions for INVITE requests.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
    ##% Another type handles client transactions for all requests except INVITE
    ##% and ACK.
    def send_request(
        self, request: Request, destination: Any, now: float, *, reliable: bool | None = None
    ) -> tuple[ClientTransaction, list[Effect]]:
        """Create the client transaction for ``request`` and start it.

        ``destination`` is opaque here (address, port and transport, or a
        connection); it comes back on every :class:`SendMessage` of the
        transaction.  ``reliable`` defaults to what the top Via's transport is.
        """
        key = client_key(request.top_via.branch, request.method)
        if key is None:
            raise ValueError("Via: missing branch parameter (RFC 3261 §8.1.1.7)")
        if key in self._clients:
            raise ValueError(
                f"Via: branch {request.top_via.branch!r} already names a {request.method} client"
                " transaction; it must be unique (RFC 3261 §8.1.1.7)"
            )
        kind = (
            InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        )
        transaction = kind(request, destination, reliable=reliable, timers=self.timers)
        transaction.key = key
        self._clients[key] = transaction
        effects = transaction.start(now)
        self._update(transaction)
        return transaction, effects

    def match_response(self, response: Response) -> ClientTransaction | None:
        """The client transaction ``response`` belongs to (§17.1.3), if any."""
        key = client_key(response.top_via.branch, response.cseq.method)
        return None if key is None else self._clients.get(key)

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
    ##% If there is a match, the response MUST be passed to that transaction.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
    ##% Otherwise, any element other than a stateless proxy MUST silently
    ##% discard the response.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
    ##% Any response received that does not match an existing client
    ##% transaction state machine is simply dropped.
    def receive_response(self, response: Response, now: float) -> list[Effect]:
        """Pass a response from the transport to its client transaction; drop it if none."""
        transaction = self.match_response(response)
        if transaction is None:
            self.stray_responses += 1
            return []
        effects = transaction.receive_response(response, now)
        self._update(transaction)
        return effects

    # -- server side ---------------------------------------------------------

    def match_request(self, request: Request) -> ServerTransaction | None:
        """The server transaction ``request`` belongs to (§17.2.3), if any."""
        return self._match(request, server_key(request))

    def _match(self, request: Request, key: tuple[Any, ...]) -> ServerTransaction | None:
        transaction = self._servers.get(key)
        if transaction is None or len(key) == 4:
            return transaction
        # RFC 2543 fallback: the To tag completes the comparison.
        if request.method == "ACK":
            expected = transaction.to_tag
        else:
            expected = transaction.request.to.tag
        return transaction if request.to.tag == expected else None

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.10
    ##% If a matching server transaction is found, the request is passed to that
    ##% transaction for processing.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.10
    ##% If no match is found, the request is passed to the core, which may
    ##% decide to construct a new server transaction for that request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% A request is a retransmission if it matches the same server transaction
    ##% based on the rules of Section 17.2.3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% A request is a retransmission if it matches the same server transaction,
    ##% using the rules specified in Section 17.2.3.
    def receive_request(
        self, request: Request, source: Any, now: float, *, reliable: bool | None = None
    ) -> list[Effect]:
        """Pass a request from the transport to its server transaction, or start a new one.

        A request that matches no transaction gets a new server transaction
        (this layer serves a transaction-stateful core) and reaches the TU as
        :class:`RequestReceived` with that transaction; an ACK that matches
        none (the ACK for a 2xx) reaches the TU with ``transaction=None``.
        ``source`` is where responses go, opaque like a client's destination.
        """
        key = server_key(request)
        transaction = self._match(request, key)
        if transaction is not None:
            effects = transaction.receive_request(request, now)
            self._update(transaction)
            return effects
        if request.method == "ACK":
            return [RequestReceived(None, request)]
        limit = self.max_server_transactions
        if limit is not None and len(self._servers) >= limit:
            return self._overloaded(request, source)
        return self._create(request, source, now, reliable, key)[1]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% A request is a retransmission if it matches the same server transaction,
    ##% using the rules specified in Section 17.2.3.
    def receive_retransmission(self, key: tuple[Any, ...], now: float) -> list[Effect] | None:
        """Pass a retransmission known by its key alone (:func:`server_key_from_bytes`)
        to its non-INVITE server transaction; None when no such transaction exists."""
        transaction = self._servers.get(key)
        if transaction is None or transaction.__class__ is not NonInviteServerTransaction:
            return None
        effects = transaction.receive_retransmission(now)
        self._update(transaction)
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
    ##% The server is temporarily unable to process the request due to a
    ##% temporary overloading or maintenance of the server.  The server MAY
    ##% indicate when the client should retry the request in a Retry-After
    ##% header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.4
    ##% There is a computational expense associated with processing a SIP transaction at
    ##% a proxy server, and that expense is greater for stateful proxy
    ##% servers than it is for stateless proxy servers.
    def _overloaded(self, request: Request, source: Any) -> list[Effect]:
        """The stateless 503 (with Retry-After) for a request beyond the transaction cap:
        no transaction is created, so a flood holds no memory here."""
        self.overloaded += 1
        response = request.make_response(503, "Service Unavailable (overloaded)")
        response.headers.add("Retry-After", self.retry_after)
        return [SendMessage(response, source, None)]

    def create_server_transaction(
        self, request: Request, source: Any, now: float, *, reliable: bool | None = None
    ) -> tuple[ServerTransaction, list[Effect]]:
        """Construct and start the server transaction for a new ``request``."""
        return self._create(request, source, now, reliable, server_key(request))

    def _create(
        self,
        request: Request,
        source: Any,
        now: float,
        reliable: bool | None,
        key: tuple[Any, ...],
    ) -> tuple[ServerTransaction, list[Effect]]:
        if request.method == "INVITE":
            transaction: ServerTransaction = InviteServerTransaction(
                request, source, reliable=reliable, timers=self.timers, send_100=self.send_100
            )
        else:
            transaction = NonInviteServerTransaction(
                request, source, reliable=reliable, timers=self.timers
            )
        transaction.key = key
        self._servers[key] = transaction
        if request.method != "INVITE" and request.method != "CANCEL":
            self._cancellable[_without_method(key)] = transaction
        effects = transaction.start(now)
        self._update(transaction)
        return transaction, effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
    ##% Because the matching rules include the Request-URI, the server cannot
    ##% match a response to a transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
    ##% When the TU passes a response to the server transaction, it must pass it
    ##% to the specific server transaction for which the response is targeted.
    def send_response(
        self, transaction: ServerTransaction, response: Response, now: float
    ) -> list[Effect]:
        """The TU passes ``response`` to the server ``transaction`` it answers."""
        effects = transaction.send_response(response, now)
        self._update(transaction)
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% The TU determines the transaction to be cancelled by taking the CANCEL
    ##% request, and then assuming that the request method is anything but
    ##% CANCEL or ACK and applying the transaction matching procedures of
    ##% Section 17.2.3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% The matching transaction is the one to be cancelled.
    def find_cancel_target(self, cancel: Request) -> ServerTransaction | None:
        """The server transaction a CANCEL request cancels (§9.2), if it is still alive."""
        key = server_key(cancel, "INVITE")
        transaction = self._servers.get(key) or self._cancellable.get(_without_method(key))
        if transaction is None:
            return None
        if len(key) == 6 and cancel.to.tag != transaction.request.to.tag:
            return None  # RFC 2543 matching compares the To tag too
        return transaction

    # -- both sides ----------------------------------------------------------

    def transport_error(self, transaction: Transaction, now: float) -> list[Effect]:
        """The transport failed to send a message of ``transaction`` (§17.1.4, §17.2.4)."""
        effects = transaction.transport_error(now)  # type: ignore[attr-defined]
        self._update(transaction)
        return effects

    def next_deadline(self) -> float | None:
        """The earliest deadline of any transaction; None when no timer is pending."""
        return self._timers.next_deadline()

    def handle_timer(self, now: float) -> list[Effect]:
        """Fire every timer due at ``now`` in every transaction."""
        effects: list[Effect] = []
        for transaction in self._timers.due(now):
            effects.extend(transaction.handle_timer(now))
            self._update(transaction)
        return effects

    # -- bookkeeping ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% The client transaction MUST be destroyed the instant it enters the
    ##% "Terminated" state.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% Once the transaction is in the terminated state, it MUST be destroyed
    ##% immediately.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% The server transaction MUST be destroyed the instant it enters the
    ##% "Terminated" state.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
    ##% Once the transaction is in the "Terminated" state, it MUST be destroyed
    ##% immediately.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
    ##% Once the transaction is in the "Terminated" state, it MUST be destroyed
    ##% immediately.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
    ##% Once the transaction is in the "Terminated" state, it MUST be destroyed
    ##% immediately.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
    ##% The client transaction MUST be destroyed the instant it enters the
    ##% "Terminated" state.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% Once the transaction is in the "Terminated" state, it MUST be destroyed
    ##% immediately.
    def _update(self, transaction: Transaction) -> None:
        """Forget a terminated transaction, or queue its next deadline."""
        if transaction.terminated:
            self._timers.schedule(transaction, None)
            table: dict[Any, Any] = (
                self._clients if isinstance(transaction, ClientTransaction) else self._servers
            )
            key = transaction.key
            if table.get(key) is transaction:
                del table[key]
            if table is self._servers:
                key = _without_method(key)
                if self._cancellable.get(key) is transaction:
                    del self._cancellable[key]
            return
        self._timers.schedule(transaction, transaction.next_deadline())

"""The conformance suite: cases that drive a SIP element over the wire and judge it.

``python -m conformance run --target sip:127.0.0.1:5070 --role uas`` runs every case for
the role against a target on loopback; ``python -m conformance list`` lists them with the
RFC requirements each verifies.  Modules: `target` (what is tested), `wire` (sockets and the
message ladder), `sipmsg` (a lenient reader independent of the stack under test),
`messages` (requests built and torture messages rewritten), `model` (cases and verdicts),
`runner`, `report` (JSON, JUnit, terminal), `pcap`, `profile`, the cases in `cases/`, and
`discovery`, which finds them and the extensions' (``extensions/conformance/``).
"""

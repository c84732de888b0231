"""The location service in SQLite (rfc3261/location.py)."""

from __future__ import annotations

import sqlite3

import pytest

from rfc3261.location import Binding, LocationError, SqliteLocationService

AOR = "sip:alice@example.com"


def b(contact: str, expires_at: float, cseq: int = 1, q: float | None = None) -> Binding:
    return Binding(AOR, contact, expires_at, "call-1", cseq, q)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Each binding record records the Call-ID and CSeq values from the request.
def test_update_stores_binding_with_call_id_and_cseq() -> None:
    with SqliteLocationService() as loc:
        loc.update(AOR, [b("sip:a@192.0.2.1", 100.0, cseq=7)], [], now=0.0)
        [found] = loc.bindings(AOR, 0.0)
        assert (found.contact, found.call_id, found.cseq, found.expires_at) == (
            "sip:a@192.0.2.1",
            "call-1",
            7,
            100.0,
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% Registrations are soft state and expire unless refreshed, but can
##% also be explicitly removed.
def test_bindings_expire_on_time() -> None:
    with SqliteLocationService() as loc:
        loc.update(AOR, [b("sip:a@192.0.2.1", 100.0), b("sip:b@192.0.2.2", 50.0)], [], 0.0)
        assert loc.count(49.9) == 2
        assert [x.contact for x in loc.bindings(AOR, 50.0)] == ["sip:a@192.0.2.1"]
        assert loc.next_expiry() == 50.0
        assert loc.expire(50.0) == 1
        assert loc.next_expiry() == 100.0
        assert loc.lookup(AOR, 100.0) == []
        assert loc.remove(AOR) == 1


def test_lookup_orders_by_q_and_refresh_keeps_position() -> None:
    with SqliteLocationService() as loc:
        loc.update(
            AOR, [b("sip:a@h", 10, q=0.5), b("sip:b@h", 10), b("sip:c@h", 10, q=0.9)], [], 0
        )
        assert [x.contact for x in loc.lookup(AOR, 0)] == ["sip:b@h", "sip:c@h", "sip:a@h"]
        loc.update(AOR, [b("sip:a@h", 20, cseq=2, q=0.5)], [], 1)
        assert [x.contact for x in loc.bindings(AOR, 1)] == ["sip:a@h", "sip:b@h", "sip:c@h"]
        assert loc.bindings(AOR, 1)[0].cseq == 2


def test_binding_matches_by_uri_comparison() -> None:
    binding = b("sip:alice@EXAMPLE.com;transport=udp", 10)
    assert binding.matches("sip:alice@example.com;transport=UDP")
    assert not binding.matches("sip:alice@example.com;transport=tcp")
    assert not binding.matches("not a uri")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The binding updates MUST be committed (that is, made visible to the
##% proxy or redirect server) if and only if all binding updates and
##% additions succeed.
def test_update_is_atomic() -> None:
    with SqliteLocationService() as loc:
        loc.update(AOR, [b("sip:a@h", 10)], [], 0)
        bad = Binding(AOR, "sip:b@h", 10, None, 1)  # type: ignore[arg-type]  # NOT NULL
        with pytest.raises(LocationError):
            loc.update(AOR, [b("sip:c@h", 10), bad], ["sip:a@h"], 0)
        assert [x.contact for x in loc.bindings(AOR, 0)] == ["sip:a@h"]


def test_file_database_survives_reopen(tmp_path) -> None:
    path = str(tmp_path / "loc.sqlite")
    with SqliteLocationService(path) as loc:
        loc.update(AOR, [b("sip:a@h", 10), b("sip:b@h", 20)], [], 0)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with SqliteLocationService(path) as loc:
        assert [x.contact for x in loc.bindings(AOR, 5)] == ["sip:a@h", "sip:b@h"]
        loc.update(AOR, [b("sip:c@h", 30)], [], 5)
        assert [x.contact for x in loc.bindings(AOR, 15)] == ["sip:b@h", "sip:c@h"]


def test_bad_synchronous_setting() -> None:
    with pytest.raises(ValueError):
        SqliteLocationService(synchronous="sometimes")

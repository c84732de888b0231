"""Registrar extension hooks and the per-binding data they store (location schema 1)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from rfc3261.location import SCHEMA_VERSION, Binding, LocationError, SqliteLocationService
from rfc3261.message import Request, Response
from rfc3261.registrar import Registrar, RegistrarConfig, RegistrarExtension, Reject
from rfc3261.tests.server_support import register

AOR = "sip:alice@example.com"
PATH = (("Path", "<sip:edge1.example;lr>"), ("Path", "<sip:edge2.example;lr>"))


class PathLike(RegistrarExtension):
    """Test-only: store the raw Path values and the source as the flow; echo Path."""

    option_tags = frozenset({"path"})

    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        path = tuple(request.headers.get_all("Path"))
        return replace(binding, path=path, flow=f"flow-{source}", extra={"seen": "yes"})

    def on_response(self, request: Request, response: Response, bindings: list[Binding]) -> None:
        for value in request.headers.get_all("Path"):
            response.headers.add("Path", value)


class NeedsRegId(RegistrarExtension):
    """Test-only: refuse a contact without ``reg-id`` (the way RFC 5626 answers 439)."""

    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        if "reg-id" not in binding.contact:
            raise Reject(request.make_response(439, "First Hop Lacks Outbound Support"))
        return binding


def make(*extensions: RegistrarExtension) -> Registrar:
    config = RegistrarConfig(domains=frozenset({"example.com"}))
    return Registrar(SqliteLocationService(), config, extensions=extensions)


def test_binding_hook_stores_route_set_flow_and_extra_and_answers_with_path() -> None:
    registrar = make(PathLike())
    response = registrar.handle(register(extra=PATH), 1000.0, source="edge1:5060")
    assert response.status == 200
    assert response.headers.get_all("Path") == [v for _, v in PATH]
    [binding] = registrar.location.lookup(AOR, 1000.0)
    assert binding.path == ("<sip:edge1.example;lr>", "<sip:edge2.example;lr>")
    assert binding.flow == "flow-edge1:5060"
    assert binding.extra == {"seen": "yes"}
    # A refresh without Path stores an empty route set: the path vector is per REGISTER.
    registrar.handle(register(cseq=2), 1001.0, source="other")
    [binding] = registrar.location.lookup(AOR, 1001.0)
    assert binding.path == () and binding.flow == "flow-other"


def test_hook_rejects_register_and_nothing_is_committed() -> None:
    registrar = make(NeedsRegId())
    contacts = ("<sip:alice@192.0.2.10;reg-id=1>", "<sip:alice@192.0.2.11>")
    response = registrar.handle(register(contacts=contacts), 0.0)
    assert response.status == 439
    assert registrar.location.count(0.0) == 0  # the first contact was not stored either
    ok = registrar.handle(register(contacts=contacts[:1], call_id="2"), 0.0)
    assert ok.status == 200 and registrar.location.count(0.0) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% To guarantee that the registrar supports any necessary extensions,
##% the registrar MUST process the Require header field values as
##% described for UASs in Section 8.2.2.
def test_extension_option_tags_are_supported_in_require() -> None:
    required = (("Require", "path"),)
    refused = make().handle(register(extra=required), 0.0)
    assert refused.status == 420 and refused.headers.get("Unsupported") == "path"
    assert make(PathLike()).handle(register(extra=required), 0.0).status == 200


def test_hook_misuse_raises() -> None:
    with pytest.raises(TypeError):
        make(object())  # type: ignore[arg-type]

    class ReturnsNothing(RegistrarExtension):
        def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
            return None  # type: ignore[return-value]

    class ChangesContact(RegistrarExtension):
        def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
            return replace(binding, contact="sip:mallory@192.0.2.66")

    with pytest.raises(TypeError):
        make(ReturnsNothing()).handle(register(), 0.0)
    with pytest.raises(ValueError):
        make(ChangesContact()).handle(register(), 0.0)


def test_binding_fields_are_checked() -> None:
    with pytest.raises(TypeError):
        Binding(AOR, "sip:a@h", 10, "c", 1, path="<sip:edge;lr>")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Binding(AOR, "sip:a@h", 10, "c", 1, path=("<sip:a>\n<sip:b>",))
    with pytest.raises(TypeError):
        Binding(AOR, "sip:a@h", 10, "c", 1, extra={"reg-id": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Binding(AOR, "sip:a@h", 10, "c", 1, flow=7)  # type: ignore[arg-type]


# -- the SQLite schema: version 0 (no user_version, no flow/extra) migrates in place ----

_SCHEMA_0 = """
CREATE TABLE IF NOT EXISTS binding (
    aor TEXT NOT NULL,
    contact TEXT NOT NULL,
    expires_at REAL NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    q REAL,
    received TEXT,
    path TEXT NOT NULL DEFAULT '',
    added INTEGER NOT NULL,
    PRIMARY KEY (aor, contact)
);
CREATE INDEX IF NOT EXISTS binding_expires ON binding (expires_at);
"""


def test_database_with_the_old_schema_is_migrated(tmp_path) -> None:
    path = str(tmp_path / "old.sqlite")
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_0)
    db.execute(
        "INSERT INTO binding VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (AOR, "sip:alice@192.0.2.10", 5000.0, "old", 3, 0.5, "src", "<sip:e;lr>", 1),
    )
    db.commit()
    db.close()
    with SqliteLocationService(path) as location:
        [old] = location.lookup(AOR, 1000.0)
        assert old == Binding(
            AOR, "sip:alice@192.0.2.10", 5000.0, "old", 3, 0.5, "src", ("<sip:e;lr>",)
        )
        assert old.flow is None and old.extra == {}
        new = Binding(AOR, "sip:alice@192.0.2.11", 6000.0, "new", 1, flow="f1", extra={"k": "v"})
        location.update(AOR, [new], [], 1000.0)
    # The registrar on the migrated file: old bindings keep their order and CSeq rules.
    registrar = Registrar(SqliteLocationService(path), RegistrarConfig(domains={"example.com"}))
    assert [b.contact for b in registrar.location.bindings(AOR, 1000.0)] == [
        "sip:alice@192.0.2.10",
        "sip:alice@192.0.2.11",
    ]
    assert registrar.location.lookup(AOR, 1000.0)[0] == new
    stale = register(contacts=("<sip:alice@192.0.2.10>",), call_id="old", cseq=3)
    assert registrar.handle(stale, 1000.0).status == 400
    registrar.location.close()  # type: ignore[attr-defined]
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 1


def test_database_with_a_newer_schema_is_refused(tmp_path) -> None:
    path = str(tmp_path / "new.sqlite")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(LocationError):
        SqliteLocationService(path)

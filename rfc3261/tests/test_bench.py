"""The parser benchmark harness: runs end to end quickly, writes valid JSON, and every
parser it times reads the same field values (so that the comparison is fair)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re

import pytest

from rfc3261.bench import Options, competitors, instructions, measure
from rfc3261.bench import parse as parse_bench
from rfc3261.bench.__main__ import main
from rfc3261.bench.competitors import (
    ADAPTER_FACTORIES,
    FIELDS,
    MISSING,
    PROXY_BRANCH,
    VerificationError,
    load_adapters,
    verify_fields,
    verify_serialization,
)
from rfc3261.bench.messages import INVITE, MESSAGES, REGISTER
from rfc3261.tests.transport_support import require_external

DOCUMENTATION_NET = ipaddress.ip_network("192.0.2.0/24")


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.name)
def test_message_is_framed_and_uses_documentation_hosts(message):
    head, _, body = message.data.partition(b"\r\n\r\n")
    assert body == message.expected.body
    assert f"\r\nContent-Length: {len(body)}".encode() in head
    for address in re.findall(rb"\d+\.\d+\.\d+\.\d+", message.data):
        assert ipaddress.ip_address(address.decode()) in DOCUMENTATION_NET
    for host in re.findall(rb"@([A-Za-z][\w.-]*)", message.data):
        assert host.endswith(b"example.com"), host


def test_invite_has_the_softphone_size():
    assert 600 <= len(INVITE.data) <= 700
    assert 200 <= len(INVITE.expected.body) <= 300
    assert b"Authorization: Digest " in REGISTER.data


def _adapter(name):
    (adapter,) = load_adapters([name])
    if not adapter.available:
        hint = " (pip install -e '.[bench]')" if adapter.competitor else ""
        pytest.skip(f"{name} unavailable{hint}: {adapter.error}")
    return adapter


@pytest.mark.parametrize("name", list(ADAPTER_FACTORIES))
def test_adapter_reads_the_expected_fields(name):
    adapter = _adapter(name)
    checked = 0
    for message in MESSAGES:
        if message.name in adapter.unsupported:
            with pytest.raises(Exception):  # noqa: B017 - each library has its own error
                adapter.parse(message.data)
            continue
        values = verify_fields(adapter, message)
        present = [f for f in FIELDS if values[f] is not MISSING]
        assert set(FIELDS) - set(present) == set(adapter.missing)
        expected = dataclasses.asdict(message.expected)
        assert {f: values[f] for f in present} == {f: expected[f] for f in present}
        checked += 1
    assert checked >= 2
    # a parser must give the transaction-matching fields; only these may be missing
    assert set(adapter.missing) <= {"contact_host", "body"}


@pytest.mark.parametrize("name", list(ADAPTER_FACTORIES))
def test_adapter_serializes_what_it_parsed(name):
    adapter = _adapter(name)
    if adapter.serialize is None:
        assert "serialize" in adapter.api  # the reason is documented
        return
    for message in MESSAGES:
        if message.name in adapter.unsupported:
            continue
        plain = verify_serialization(adapter, message, add_via=False)
        assert plain.count(b"z9hG4bK") == 1
        with_via = verify_serialization(adapter, message, add_via=True)
        assert with_via.index(PROXY_BRANCH.encode()) < with_via.index(
            message.expected.branch.encode()
        )


def test_verification_catches_a_wrong_read():
    (adapter,) = load_adapters(["naive"])
    good = adapter.read_fields
    adapter.read_fields = lambda m: (*good(m)[:2], "not-the-tag", *good(m)[3:])
    with pytest.raises(VerificationError, match="to_tag"):
        verify_fields(adapter, INVITE)


def test_verification_catches_an_unexplained_missing_field():
    (adapter,) = load_adapters(["naive"])
    good = adapter.normalize
    adapter.normalize = lambda values: {**good(values), "call_id": MISSING}
    with pytest.raises(VerificationError, match="call_id: not read"):
        verify_fields(adapter, INVITE)


def test_verification_catches_a_lost_via():
    (adapter,) = load_adapters(["naive"])
    adapter.prepend_via = lambda m, value: None
    with pytest.raises(VerificationError, match="Via branches"):
        verify_serialization(adapter, INVITE, add_via=True)


def test_measure_quick_runs_the_fixed_iterations():
    calls = []
    timing = measure(calls.append, Options(quick=True, quick_iterations=4))
    assert calls == [4, 4]
    assert timing["per_s_best"] >= timing["per_s_median"] > 0


def _result(parser, rate, message="INVITE", workload="fields"):
    return {
        "parser": parser,
        "message": message,
        "workload": workload,
        "status": "ok",
        "msgs_per_s_best": rate,
    }


def test_floor_compares_ours_with_the_fastest_competitor_only():
    adapters = load_adapters(["sipref", "sippy", "sipmessage", "naive"])
    results = [
        _result("sippy", 10_000.0),
        _result("sipmessage", 12_000.0),
        _result("naive", 90_000.0),  # the baseline is not a competitor
        _result("sipref", 30_000.0),
    ]
    floor = parse_bench.floor_verdict(parse_bench.compare(results, adapters))
    assert floor["fastest_competitor"] == "sipmessage"
    assert floor["ratio"] == pytest.approx(2.5)
    assert floor["passed"] is True
    # pyVoIP reads fewer fields: it still counts for the floor, not as a full reader
    with_pyvoip = [*results, _result("pyVoIP", 20_000.0)]
    row = parse_bench.compare(with_pyvoip, [*adapters, *load_adapters(["pyVoIP"])])[1]
    assert (row["workload"], row["fastest_competitor"]) == ("fields", "pyVoIP")
    assert row["ratio_to_fastest_competitor"] == pytest.approx(1.5)
    assert row["fastest_full_reader"] == "sipmessage"
    assert row["ratio_to_fastest_full_reader"] == pytest.approx(2.5)
    results[-1] = _result("sipref", 20_000.0)
    assert parse_bench.floor_verdict(parse_bench.compare(results, adapters))["passed"] is False
    floor = parse_bench.floor_verdict(parse_bench.compare(results[:-1], adapters))
    assert floor["passed"] is None and floor["ratio"] is None


def test_harness_runs_end_to_end_and_writes_json(tmp_path, capsys):
    path = tmp_path / "out" / "parse.json"
    assert main(["--quick", "--only", "parse", "--json", str(path)]) == 0
    doc = json.loads(path.read_text(encoding="utf-8"))
    table = capsys.readouterr().out
    assert "INVITE" in table and "floor:" in table and str(path) in table

    assert doc["benchmark"] == "parse"
    assert doc["machine"]["cpu_count"] >= 1 and doc["machine"]["python"].startswith("3.")
    names = [p["name"] for p in doc["parsers"]]
    assert names == list(ADAPTER_FACTORIES)
    assert len(doc["results"]) == len(names) * len(MESSAGES) * len(parse_bench.WORKLOADS)
    for result in doc["results"]:
        # "error" would mean a parser read other values than expected: not comparable
        assert result["status"] in ("ok", "unsupported", "unavailable"), result
        if result["status"] == "ok":
            assert result["msgs_per_s_best"] >= result["msgs_per_s_median"] > 0
            assert result["iterations"] == Options().quick_iterations
    naive = [r for r in doc["results"] if r["parser"] == "naive"]
    assert all(r["status"] == "ok" for r in naive)
    assert len(doc["comparison"]) == len(MESSAGES) * len(parse_bench.WORKLOADS)
    assert set(doc["floor"]) >= {"rule", "ratio", "passed", "required_ratio"}
    ours = next(p for p in doc["parsers"] if p["name"] == "sipref")
    if ours["available"]:
        floor_row = next(
            r
            for r in doc["results"]
            if (r["parser"], r["message"], r["workload"]) == ("sipref", "INVITE", "fields")
        )
        assert floor_row["status"] == "ok"


def test_json_option_needs_a_single_benchmark(tmp_path, monkeypatch):
    from rfc3261.bench import __main__ as bench_main

    monkeypatch.setitem(bench_main.BENCHMARKS, "other", "rfc3261.bench.parse")
    with pytest.raises(SystemExit):
        main(["--quick", "--json", str(tmp_path / "x.json")])


# --- the instruction-count benchmark -------------------------------------------------------


def _counted(parser: str, instructions: int, competitor: bool = True, not_read=()) -> dict:
    return {
        "parser": parser,
        "message": "INVITE",
        "competitor": competitor,
        "fields_not_read": list(not_read),
        "instructions": instructions,
    }


def test_instruction_floor_compares_all_fields_and_the_same_fields():
    results = [
        _counted("sipref", 200_000, competitor=False),
        _counted("sipref (not reading body,contact_host)", 150_000, competitor=False),
        _counted("partial", 320_000, not_read=["body", "contact_host"]),
        _counted("full", 390_000),
    ]
    floor = instructions._floor(results)
    # Against all our reads the cheapest competitor is "partial" (1.6x); reading only what
    # each reads, "full" is the closest (1.95x) and "partial" is 2.13x.
    assert (floor["against"], floor["ratio"], floor["passed"]) == ("partial", 1.6, False)
    like = floor["like_for_like"]
    assert (like["against"], like["ratio"], like["passed"]) == ("full", 1.95, False)
    text = instructions.render({"results": results, "floor": floor})
    assert "partial 1.60x; 2.13x" in text and "FAIL (1.60x against partial" in text


def test_instruction_count_of_a_real_parser():
    require_external("valgrind", "valgrind")
    # The naive split parser: a real count, well above zero and far below ours (~200k).
    count = instructions.per_message("naive", "INVITE", 200)
    assert 20_000 < count < 150_000


def test_sipref_reading_only_skips_exactly_the_named_fields():
    from rfc3261.message import parse

    read = competitors.sipref_reading_only(frozenset({"contact_host", "body"}))
    values = dict(zip(FIELDS, read(parse(INVITE.data)), strict=True))
    expected = dataclasses.asdict(INVITE.expected)
    assert values["contact_host"] is MISSING and values["body"] is MISSING
    for name in set(FIELDS) - {"contact_host", "body"}:
        assert values[name] == expected[name], name

"""The command line: exit codes, refusals, the "target does not answer" error, reports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.tests.faulty_uas import FaultyElement
from rfc3261.asyncio.loopback import free_port


@pytest.fixture
def element() -> object:
    e = FaultyElement("uas")
    e.start()
    yield e
    e.stop()


@pytest.fixture
def broken() -> object:
    e = FaultyElement("uas", ("no_to_tag",))
    e.start()
    yield e
    e.stop()


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 150
    assert any(line.startswith("torture-4475-bext01") for line in lines)


def test_list_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--role", "registrar", "--rfc", "3261"]) == 0
    out = capsys.readouterr().out
    assert "reg-register-200-binding" in out and "uas-rport" not in out
    assert "torture-4475-wsinv" not in out  # cites RFC 4475 only


def test_run_pass_exit_0(element: FaultyElement, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    junit = tmp_path / "r.xml"
    pcap = tmp_path / "r.pcap"
    code = main(
        [
            "run",
            "--target",
            f"udp:127.0.0.1:{element.port}",
            "--role",
            "uas",
            "--quiet",
            "--cases",
            "uas-options-final,uas-to-tag-added,uas-cseq-echo",
            "--json",
            str(report),
            "--junit",
            str(junit),
            "--pcap",
            str(pcap),
        ]
    )
    assert code == 0
    data = json.loads(report.read_text())
    assert [c["verdict"] for c in data["cases"]] == ["pass", "pass", "pass"]
    assert junit.read_bytes().startswith(b"<?xml") and pcap.stat().st_size > 100


def test_run_fail_exit_1(broken: FaultyElement, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            "--target",
            f"sip:127.0.0.1:{broken.port}",
            "--role",
            "uas",
            "--quiet",
            "--cases",
            "uas-to-tag-added",
        ]
    )
    assert code == 1
    assert "RFC 3261 §8.2.6.2" in capsys.readouterr().out


def test_silent_target_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # a bound socket that never answers
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        port = mute.getsockname()[1]
        code = main(
            [
                "run",
                "--target",
                f"udp:127.0.0.1:{port}",
                "--role",
                "uas",
                "--quiet",
                "--probe-timeout",
                "0.5",
            ]
        )
    assert code == 2
    assert "did not answer OPTIONS" in capsys.readouterr().err


def test_closed_tcp_port_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--target", f"tcp:127.0.0.1:{free_port()}", "--role", "uas", "--quiet"])
    assert code == 2
    assert "did not answer" in capsys.readouterr().err


def test_remote_target_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "sip:192.0.2.10:5060", "--role", "uas"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('colour = "blue"\n')
    assert (
        main(["run", "--target", "udp:127.0.0.1:5060", "--role", "uas", "--profile", str(bad)])
        == 2
    )
    assert "unknown key" in capsys.readouterr().err


def test_no_matching_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", "--target", "udp:127.0.0.1:5060", "--role", "uac", "--cases", "reg-*"]) == 2
    )

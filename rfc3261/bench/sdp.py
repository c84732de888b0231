"""SDP parse + serialize per second (RFC 8866): sipref's parser beside sdp-transform.

Two descriptions: a typical 10-line audio offer and a 60-line one (audio and video with
many codecs and attributes).  Each round parses the bytes and serializes the result
again.  The SDP parser lives in ``extensions/rfc8866.py``; ``rfc3261/`` never imports
``extensions/`` (rfc3261/tests/test_architecture.py), so it is loaded by name here, as
the programs load extensions.  The comparison is PyPI's ``sdp-transform`` (a Python port
of the JavaScript library), when it is installed (the ``bench`` extra).
"""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Callable
from typing import Any

from rfc3261.bench import Options, machine_info, measure_group

NAME = "sdp"

SHORT = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
)


def _long() -> str:
    lines = [
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "b=AS:2048",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 49170 RTP/AVP 111 0 8 9 18 97 98 101",
        "b=AS:128",
        "a=mid:0",
        "a=rtcp:49171 IN IP4 192.0.2.10",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=ptime:20",
        "a=maxptime:60",
    ]
    for pt, codec in (
        ("111", "opus/48000/2"),
        ("0", "PCMU/8000"),
        ("8", "PCMA/8000"),
        ("9", "G722/8000"),
        ("18", "G729/8000"),
        ("97", "iLBC/8000"),
        ("98", "speex/8000"),
        ("101", "telephone-event/8000"),
    ):
        lines.append(f"a=rtpmap:{pt} {codec}")
    lines += [
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=fmtp:18 annexb=no",
        "a=fmtp:97 mode=30",
        "a=fmtp:101 0-16",
        "a=ssrc:1001 cname:alice@example.com",
        "m=video 51372 RTP/AVP 96 97 98 99 100",
        "b=AS:1920",
        "a=mid:1",
        "a=rtcp:51373 IN IP4 192.0.2.10",
        "a=sendrecv",
    ]
    for pt, codec in (
        ("96", "VP8/90000"),
        ("97", "VP9/90000"),
        ("98", "H264/90000"),
        ("99", "H264/90000"),
        ("100", "red/90000"),
    ):
        lines.append(f"a=rtpmap:{pt} {codec}")
        lines.append(f"a=rtcp-fb:{pt} nack")
        lines.append(f"a=rtcp-fb:{pt} ccm fir")
    lines += [
        "a=fmtp:98 profile-level-id=42e01f;packetization-mode=1",
        "a=fmtp:99 profile-level-id=42e01f;packetization-mode=0",
        "a=fmtp:97 profile-id=0",
        "a=ssrc:2001 cname:alice@example.com",
        "a=ssrc:2002 cname:alice@example.com",
        "a=x-unknown-attribute:kept as written",
        "a=framerate:30",
        "a=imageattr:96 send [x=1280,y=720] recv [x=1280,y=720]",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=content:main",
        "a=label:1",
    ]
    return "\r\n".join(lines) + "\r\n"


LONG = _long()
DESCRIPTIONS = {"10 lines": SHORT, "60 lines": LONG}


def _ours() -> tuple[Callable[[bytes], object], str]:
    sdp = importlib.import_module("extensions.rfc8866")

    def once(data: bytes) -> object:
        return sdp.serialize(sdp.parse(data))

    return once, "extensions/rfc8866.py"


def _sdp_transform() -> tuple[Callable[[bytes], object], str]:
    module = importlib.import_module("sdp_transform")
    version = getattr(module, "__version__", None) or "?"

    def once(data: bytes) -> object:
        return module.write(module.parse(data.decode()))

    return once, f"sdp-transform {version}"


PARSERS: dict[str, Callable[[], tuple[Callable[[bytes], object], str]]] = {
    "sipref": _ours,
    "sdp-transform": _sdp_transform,
}


def run(options: Options) -> dict[str, Any]:
    """Parse + serialize per second of each parser on each description."""
    loaded: dict[str, Callable[[bytes], object]] = {}
    parsers = []
    for name, factory in PARSERS.items():
        try:
            once, what = factory()
        except ImportError as error:
            parsers.append({"name": name, "available": False, "error": str(error)})
            continue
        loaded[name] = once
        parsers.append({"name": name, "available": True, "what": what})
    results = []
    for label, text in DESCRIPTIONS.items():
        data = text.encode()
        names = list(loaded)
        runs = [_loop(loaded[name], data) for name in names]
        for name, measured in zip(names, measure_group(runs, options), strict=True):
            results.append(
                {
                    "parser": name,
                    "description": label,
                    "bytes": len(data),
                    "lines": text.count("\n"),
                    "per_s_best": measured["per_s_best"],
                    "per_s_median": measured["per_s_median"],
                    "iterations": measured["iterations"],
                }
            )
    return {
        "benchmark": NAME,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "method": {
            "quick": options.quick,
            "rounds": min(options.repeat, 2) if options.quick else options.repeat,
            "timer": options.timer,
            "what": "parse the bytes and serialize the parsed description again, per second",
        },
        "parsers": parsers,
        "results": results,
    }


def _loop(once: Callable[[bytes], object], data: bytes) -> Callable[[int], object]:
    def run(n: int) -> None:
        for _ in range(n):
            once(data)

    return run


def render(doc: dict[str, Any]) -> str:
    """The terminal table: descriptions per second, best round."""
    quick = " (QUICK: not meaningful)" if doc["method"]["quick"] else ""
    lines = [f"SDP parse + serialize per second, best of {doc['method']['rounds']} rounds{quick}"]
    for row in doc["results"]:
        lines.append(
            f"  {row['description']:>9}  {row['parser']:<14} {row['per_s_best']:>12,.0f}/s"
        )
    for parser in doc["parsers"]:
        if not parser["available"]:
            lines.append(f"  ({parser['name']} not installed: {parser['error']})")
    return "\n".join(lines)


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """No floor: the figures are for the record."""
    return None

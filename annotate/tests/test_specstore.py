"""Tests of the spec store: local folder, cache, and fetching over HTTP (loopback only)."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from annotate.specstore import DEFAULT_BASE_URL, SpecStore, SpecStoreError

GARBAGE = b"<html><body>404 page that a proxy returned with status 200</body></html>\n"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


class RfcServer:
    """An http.server on 127.0.0.1 (port 0) serving files from a folder."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.requests = 0
        original = self.httpd.finish_request

        def counting(request, client_address):
            self.requests += 1
            original(request, client_address)

        self.httpd.finish_request = counting
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/rfc/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def served(tmp_path, spec_dir):
    """A server holding a real small RFC (8174) and a garbage "rfc9998.txt"."""
    root = tmp_path / "www"
    (root / "rfc").mkdir(parents=True)
    shutil.copy(spec_dir / "rfc8174.txt", root / "rfc" / "rfc8174.txt")
    (root / "rfc" / "rfc9998.txt").write_bytes(GARBAGE)
    server = RfcServer(root)
    yield server
    server.stop()


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/rfc/"  # nothing listens there any more


def test_reads_from_the_spec_folder(spec_dir, tmp_path):
    store = SpecStore(spec_dir, cache_dir=tmp_path / "cache", base_url=closed_port_url())
    text = store.text(3261)
    assert text == (spec_dir / "rfc3261.txt").read_text(encoding="utf-8")
    assert store.path(3261) == spec_dir / "rfc3261.txt"
    assert not (tmp_path / "cache").exists()  # nothing fetched, nothing cached


def test_fetch_fills_the_cache_then_the_cache_is_used(served, spec_dir, tmp_path):
    cache = tmp_path / "cache"
    store = SpecStore(None, cache_dir=cache, base_url=served.base_url)
    text = store.text(8174)
    assert text == (spec_dir / "rfc8174.txt").read_text(encoding="utf-8")
    assert (cache / "rfc8174.txt").read_bytes() == (spec_dir / "rfc8174.txt").read_bytes()
    assert [p.name for p in cache.iterdir()] == ["rfc8174.txt"]  # no temporary files left
    assert served.requests == 1
    doc = store.document(8174)
    assert doc.section("2").title == "Clarifying Capitalization of Key Words"
    assert store.document(8174) is doc  # memoized

    served.stop()
    again = SpecStore(None, cache_dir=cache, base_url=served.base_url)
    assert again.text(8174) == text  # from the cache: the server is gone
    assert again.path(8174) == cache / "rfc8174.txt"


def test_garbage_is_rejected_and_not_cached(served, tmp_path):
    cache = tmp_path / "cache"
    store = SpecStore(None, cache_dir=cache, base_url=served.base_url)
    with pytest.raises(SpecStoreError, match="Request for Comments: 9998") as info:
        store.text(9998)
    assert served.base_url + "rfc9998.txt" in str(info.value)
    assert not (cache / "rfc9998.txt").exists()


def test_http_error_names_the_url(served, tmp_path):
    store = SpecStore(tmp_path / "specs", cache_dir=tmp_path / "cache", base_url=served.base_url)
    with pytest.raises(SpecStoreError, match="404") as info:
        store.text(1234)
    message = str(info.value)
    assert served.base_url + "rfc1234.txt" in message
    assert str(tmp_path / "specs" / "rfc1234.txt") in message


def test_error_when_nothing_has_it(tmp_path):
    url = closed_port_url()
    store = SpecStore(tmp_path / "specs", cache_dir=tmp_path / "cache", base_url=url, timeout=5)
    with pytest.raises(SpecStoreError) as info:
        store.document(3261)
    message = str(info.value)
    assert "RFC 3261" in message
    assert str(tmp_path / "specs" / "rfc3261.txt") in message
    assert str(tmp_path / "cache" / "rfc3261.txt") in message
    assert url + "rfc3261.txt" in message


def test_offline_store_does_not_fetch(served, tmp_path):
    store = SpecStore(
        None, cache_dir=tmp_path / "cache", base_url=served.base_url, allow_fetch=False
    )
    with pytest.raises(SpecStoreError, match="fetching is off"):
        store.text(8174)
    assert served.requests == 0


def test_bad_local_files_raise_clear_errors(tmp_path, spec_dir):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "rfc1111.txt").write_bytes(b"\x00\x01\x02 binary junk")
    (specs / "rfc2222.txt").write_bytes(b"\xff\xfe not utf-8")
    (specs / "rfc3333.txt").write_text("Request for Comments: 3333\n\nno sections here\n")
    full = (spec_dir / "rfc8174.txt").read_text(encoding="utf-8")
    (specs / "rfc8174.txt").write_text(full[:1500])  # truncated inside the front matter
    store = SpecStore(specs, cache_dir=tmp_path / "cache", allow_fetch=False)
    with pytest.raises(SpecStoreError, match=r"RFC 1111: binary data.*rfc1111\.txt"):
        store.text(1111)
    with pytest.raises(SpecStoreError, match=r"RFC 2222: .*rfc2222\.txt is not UTF-8"):
        store.text(2222)
    with pytest.raises(SpecStoreError, match=r"RFC 3333: no section headings.*rfc3333\.txt"):
        store.document(3333)
    with pytest.raises(SpecStoreError, match=r"RFC 8174: no section headings.*rfc8174\.txt"):
        store.document(8174)


def test_wrong_rfc_in_file_is_rejected(tmp_path, spec_dir):
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(spec_dir / "rfc8174.txt", specs / "rfc2119.txt")
    store = SpecStore(specs, cache_dir=tmp_path / "cache", allow_fetch=False)
    with pytest.raises(SpecStoreError, match="Request for Comments: 2119"):
        store.text(2119)


def test_from_env(monkeypatch, tmp_path, spec_dir):
    monkeypatch.setenv("SIPREF_SPEC_DIR", str(spec_dir))
    monkeypatch.setenv("SIPREF_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("SIPREF_RFC_BASE_URL", "http://127.0.0.1:9/x")
    monkeypatch.setenv("SIPREF_OFFLINE", "1")
    store = SpecStore.from_env()
    assert store.spec_dir == spec_dir
    assert store.cache_dir == tmp_path / "c"
    assert store.base_url == "http://127.0.0.1:9/x/"
    assert store.url(3261) == "http://127.0.0.1:9/x/rfc3261.txt"
    assert store.allow_fetch is False
    assert SpecStore.from_env(spec_dir=tmp_path).spec_dir == tmp_path

    for name in ("SIPREF_SPEC_DIR", "SIPREF_CACHE_DIR", "SIPREF_RFC_BASE_URL", "SIPREF_OFFLINE"):
        monkeypatch.delenv(name)
    store = SpecStore.from_env()
    assert store.spec_dir is None
    assert store.cache_dir == Path(__file__).resolve().parents[2] / ".cache" / "rfcs"
    assert store.base_url == DEFAULT_BASE_URL == "https://www.rfc-editor.org/rfc/"
    assert store.allow_fetch is True


def test_requirements_are_memoized(spec_store):
    first = spec_store.requirements(3261)
    assert spec_store.requirements(3261) is first
    assert spec_store.document("3261") is spec_store.document(3261)

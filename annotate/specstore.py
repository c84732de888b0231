"""Where the RFC texts come from: a local folder, else a cache filled from the RFC Editor.

The repository never holds RFC texts.  :class:`SpecStore` looks for ``rfcNNNN.txt`` in
the spec folder (``SIPREF_SPEC_DIR``), then in the cache folder (``SIPREF_CACHE_DIR``,
default ``<repo>/.cache/rfcs``, git-ignored), and otherwise fetches
``<base_url>rfcNNNN.txt`` (``SIPREF_RFC_BASE_URL``, default the RFC Editor) once into
the cache.  ``SIPREF_OFFLINE=1`` forbids the fetch.  The errata of the RFCs
(:mod:`annotate.errata`) are found the same way: ``store.errata``.
"""

from __future__ import annotations

import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errata import ErrataStore
from .requirements import Requirement, extract_requirements
from .rfctext import RfcDocument, RfcParseError, parse_rfc

__all__ = ["DEFAULT_BASE_URL", "SpecStore", "SpecStoreError", "check_rfc_text"]

DEFAULT_BASE_URL = "https://www.rfc-editor.org/rfc/"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "rfcs"
FETCH_TIMEOUT = 20.0  # seconds
MAX_RFC_BYTES = 4_000_000  # RFC 3261, among the longest, is 648 KB


class SpecStoreError(Exception):
    """An RFC text could not be found, fetched or read; the message says where we looked."""


def check_rfc_text(text: str, number: int) -> None:
    """Raise SpecStoreError unless ``text`` looks like the plain text of RFC ``number``."""
    if "\x00" in text:
        raise SpecStoreError(f"RFC {number}: binary data, not an RFC text")
    head = text[:6000]
    # Paginated RFCs: "Request for Comments: 3261"; v3 RFCs the same header line.
    if not re.search(rf"Request for Comments:\s*{number}\b", head):
        raise SpecStoreError(
            f"RFC {number}: text has no 'Request for Comments: {number}' line near the top"
        )


class SpecStore:
    """Reads RFC texts (folder, cache, network) and memoizes their parsed documents."""

    def __init__(
        self,
        spec_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        allow_fetch: bool = True,
        timeout: float = FETCH_TIMEOUT,
        errata_dir: Path | str | None = None,
    ) -> None:
        self.spec_dir = Path(spec_dir) if spec_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.allow_fetch = allow_fetch
        self.timeout = timeout
        self._texts: dict[int, str] = {}
        self._documents: dict[int, RfcDocument] = {}
        self._requirements: dict[int, list[Requirement]] = {}
        # The errata come from the same kind of place: the folder beside the spec folder
        # (never the network, as for the texts there), else the cache (fetched once).
        if errata_dir is None and self.spec_dir is not None:
            beside = self.spec_dir.parent / "errata"
            errata_dir = beside if beside.is_dir() else None
        self.errata = ErrataStore(
            errata_dir,
            cache_dir=self.cache_dir.parent / "errata",
            allow_fetch=allow_fetch and self.spec_dir is None and errata_dir is None,
        )

    @classmethod
    def from_env(cls, spec_dir: Path | str | None = None) -> SpecStore:
        """A store configured by SIPREF_SPEC_DIR, SIPREF_CACHE_DIR, SIPREF_RFC_BASE_URL and
        SIPREF_OFFLINE (an explicit ``spec_dir`` wins over the environment)."""
        env = os.environ
        if spec_dir is None and env.get("SIPREF_SPEC_DIR"):
            spec_dir = env["SIPREF_SPEC_DIR"]
        cache = env.get("SIPREF_CACHE_DIR") or None
        return cls(
            spec_dir=spec_dir,
            cache_dir=cache,
            base_url=env.get("SIPREF_RFC_BASE_URL") or DEFAULT_BASE_URL,
            allow_fetch=env.get("SIPREF_OFFLINE", "") not in ("1", "true", "yes"),
            errata_dir=env.get("SIPREF_ERRATA_DIR") or None,
        )

    # ----------------------------------------------------------------------- texts

    def url(self, rfc: int) -> str:
        return f"{self.base_url}rfc{rfc}.txt"

    def path(self, rfc: int) -> Path | None:
        """The local file holding RFC ``rfc`` (spec folder first, then cache), if any."""
        name = f"rfc{rfc}.txt"
        for folder in (self.spec_dir, self.cache_dir):
            if folder is not None and (folder / name).is_file():
                return folder / name
        return None

    def text(self, rfc: int) -> str:
        """The plain text of RFC ``rfc``; fetched into the cache on first use."""
        rfc = int(rfc)
        if rfc in self._texts:
            return self._texts[rfc]
        path = self.path(rfc)
        if path is not None:
            text = self._read(path, rfc)
        else:
            text = self._fetch(rfc)
        self._texts[rfc] = text
        return text

    def _read(self, path: Path, rfc: int) -> str:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SpecStoreError(f"RFC {rfc}: cannot read {path}: {exc}") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecStoreError(f"RFC {rfc}: {path} is not UTF-8 text ({exc})") from exc
        try:
            check_rfc_text(text, rfc)
        except SpecStoreError as exc:
            raise SpecStoreError(f"{exc} (file {path})") from None
        return text

    def _where(self, rfc: int) -> str:
        places = [str(f / f"rfc{rfc}.txt") for f in (self.spec_dir, self.cache_dir) if f]
        return ", ".join(places)

    def _fetch(self, rfc: int) -> str:
        url = self.url(rfc)
        if not self.allow_fetch:
            raise SpecStoreError(
                f"RFC {rfc}: not found in {self._where(rfc)}, and fetching is off "
                f"(SIPREF_OFFLINE); it would come from {url}"
            )
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                data = response.read(MAX_RFC_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SpecStoreError(
                f"RFC {rfc}: not found in {self._where(rfc)}, and fetching {url} failed: {exc}"
            ) from exc
        if len(data) > MAX_RFC_BYTES:
            raise SpecStoreError(f"RFC {rfc}: {url} sent more than {MAX_RFC_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecStoreError(f"RFC {rfc}: {url} did not send UTF-8 text ({exc})") from exc
        try:
            check_rfc_text(text, rfc)
        except SpecStoreError as exc:
            raise SpecStoreError(f"{exc} (fetched from {url})") from None
        self._store(rfc, data)
        return text

    def _store(self, rfc: int, data: bytes) -> None:
        """Write the cache file atomically (temporary file, then rename)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".rfc{rfc}.", suffix=".tmp", dir=self.cache_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.cache_dir / f"rfc{rfc}.txt")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------- documents

    def document(self, rfc: int) -> RfcDocument:
        """The parsed RFC (memoized); SpecStoreError if it cannot be read or parsed."""
        rfc = int(rfc)
        doc = self._documents.get(rfc)
        if doc is None:
            text = self.text(rfc)
            try:
                doc = parse_rfc(text, rfc)
            except RfcParseError as exc:
                where = self.path(rfc) or self.url(rfc)
                raise SpecStoreError(f"{exc} ({where})") from exc
            self._documents[rfc] = doc
        return doc

    def requirements(self, rfc: int) -> list[Requirement]:
        """The BCP 14 requirements of RFC ``rfc`` (memoized)."""
        rfc = int(rfc)
        reqs = self._requirements.get(rfc)
        if reqs is None:
            reqs = self._requirements[rfc] = extract_requirements(self.document(rfc))
        return reqs

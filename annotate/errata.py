"""Errata of the RFCs: records of the RFC Editor, read and cached like the RFC texts.

The repository holds no errata text.  :class:`ErrataStore` reads, first found wins:

- a local folder (``SIPREF_ERRATA_DIR``; by default the ``errata`` folder beside the spec
  folder, e.g. ``../shared/errata``) holding ``errata.json`` in the RFC Editor's format and/or
  ``rfcNNNN.json`` lists of records as metadata only (no text);
- otherwise the cache, ``.cache/errata/errata.json``, filled once from the RFC Editor's
  machine-readable list (``https://www.rfc-editor.org/errata.json``) when fetching is allowed.

With a spec folder the store never fetches (a local folder is what CI points at), exactly as
the spec store reads ``rfcNNNN.txt`` there.

An erratum with text says which words of a section it corrects (``original``) and what they
should say (``corrected``).  :func:`locate` finds the original words in the section;
:func:`corrected_match` lets an annotation quote the corrected text of a *verified* erratum
(the checker accepts it and says so); :func:`stale_citations` flags code and tests that cite
words a verified erratum corrects.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.rfctext import normalize

if TYPE_CHECKING:
    from annotate.checker import Diagnostic, Resolved
    from annotate.rfctext import RfcDocument, Section

__all__ = [
    "DEFAULT_URL",
    "ErrataStore",
    "ErrataStoreError",
    "Erratum",
    "corrected_match",
    "locate",
    "parse_records",
    "stale_citations",
]

DEFAULT_URL = "https://www.rfc-editor.org/errata.json"
FETCH_TIMEOUT = 60.0  # seconds: the whole list is a few MB
MAX_BYTES = 64_000_000
STATUSES = ("Verified", "Reported", "Held for Document Update", "Rejected")
_SECTION = re.compile(r"(?:section\s+|appendix\s+)?([0-9]+(?:\.[0-9]+)*|[A-Z](?:\.[0-9]+)*)\.?$")


class ErrataStoreError(Exception):
    """The errata list could not be read or fetched; the message says where we looked."""


@dataclass(frozen=True)
class Erratum:
    """One erratum record (text empty when the source gave metadata only)."""

    eid: int
    rfc: int
    status: str  # Verified, Reported, Held for Document Update, Rejected
    type: str  # Technical, Editorial
    section: str | None  # "25.1", "A"; None when the record names no section
    original: str = ""
    corrected: str = ""
    notes: str = ""
    reported: str = ""

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/errata/eid{self.eid}"

    @property
    def verified(self) -> bool:
        return self.status == "Verified"

    @property
    def has_text(self) -> bool:
        return bool(normalize(self.original)) and bool(normalize(self.corrected))


def _section(value: Any) -> str | None:
    """The section a record names, as the spec view numbers it ("25.1", "A"), or None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    m = _SECTION.match(str(value).strip())
    return m[1] if m else None


def _rfc_number(value: Any) -> int | None:
    m = re.fullmatch(r"(?:RFC)?\s*0*([0-9]+)", str(value).strip(), re.I)
    return int(m[1]) if m else None


def parse_records(data: Any) -> list[Erratum]:
    """Errata from the RFC Editor's ``errata.json`` (a list of records with ``errata_id``,
    ``doc-id``, ``errata_status_code``, ...) or from a metadata list (``eid``, ``rfc``,
    ``status``, ...; possibly under an ``errata`` key).  Unreadable records are skipped."""
    if isinstance(data, dict):
        data = data.get("errata", [])
    if not isinstance(data, list):
        raise ErrataStoreError("expected a list of errata records")
    out: list[Erratum] = []
    for rec in data:
        if not isinstance(rec, dict):
            continue
        eid = rec.get("errata_id", rec.get("eid"))
        rfc = _rfc_number(rec.get("doc-id", rec.get("rfc", "")))
        status = rec.get("errata_status_code", rec.get("status"))
        if not str(eid).isdigit() or rfc is None or status not in STATUSES:
            continue
        out.append(
            Erratum(
                eid=int(str(eid)),
                rfc=rfc,
                status=str(status),
                type=str(rec.get("errata_type_code", rec.get("type", "")) or ""),
                section=_section(rec.get("section")),
                original=str(rec.get("orig_text") or ""),
                corrected=str(rec.get("correct_text") or ""),
                notes=str(rec.get("notes") or ""),
                reported=str(rec.get("submit_date", rec.get("date_reported", "")) or ""),
            )
        )
    return out


class ErrataStore:
    """The errata records, by RFC: a local folder, else the cache (filled from the web)."""

    def __init__(
        self,
        errata_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
        url: str = DEFAULT_URL,
        allow_fetch: bool = False,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self.errata_dir = Path(errata_dir) if errata_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.url = url
        self.allow_fetch = allow_fetch
        self.timeout = timeout
        self._by_rfc: dict[int, list[Erratum]] | None = None
        self.problem: str | None = None  # why the list is empty, when it could not be read

    def records(self, rfc: int) -> list[Erratum]:
        """The errata of RFC ``rfc``, by Errata ID ([] when none are known here)."""
        if self._by_rfc is None:
            self._by_rfc = {}
            try:
                found = self._load()
            except ErrataStoreError as exc:
                self.problem, found = str(exc), []
            seen: set[int] = set()
            for e in sorted(found, key=lambda e: (not e.has_text, e.eid)):
                if e.eid not in seen:  # a record with text wins over its metadata
                    seen.add(e.eid)
                    self._by_rfc.setdefault(e.rfc, []).append(e)
            for records in self._by_rfc.values():
                records.sort(key=lambda e: e.eid)
        return list(self._by_rfc.get(int(rfc), []))

    def _load(self) -> list[Erratum]:
        if self.errata_dir is not None:
            return self._read_folder(self.errata_dir)
        cached = self.cache_dir / "errata.json" if self.cache_dir is not None else None
        if cached is not None and cached.is_file():
            return self._read_file(cached)
        if not self.allow_fetch or cached is None:
            return []
        return self._fetch(cached)

    def _read_folder(self, folder: Path) -> list[Erratum]:
        found: list[Erratum] = []
        for path in sorted(folder.glob("*.json")):
            if path.name == "errata.json" or re.fullmatch(r"rfc\d+\.json", path.name):
                found.extend(self._read_file(path))
        return found

    def _read_file(self, path: Path) -> list[Erratum]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ErrataStoreError(f"errata: cannot read {path}: {exc}") from exc
        try:
            return parse_records(data)
        except ErrataStoreError as exc:
            raise ErrataStoreError(f"errata: {path}: {exc}") from None

    def _fetch(self, cached: Path) -> list[Erratum]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                data = response.read(MAX_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ErrataStoreError(f"errata: fetching {self.url} failed: {exc}") from exc
        if len(data) > MAX_BYTES:
            raise ErrataStoreError(f"errata: {self.url} sent more than {MAX_BYTES} bytes")
        try:
            records = parse_records(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ErrataStoreError(f"errata: {self.url} did not send a JSON list: {exc}") from exc
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".errata.", suffix=".tmp", dir=cached.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, cached)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return records


# --- where an erratum applies --------------------------------------------------------------


def locate(erratum: Erratum, doc: RfcDocument) -> tuple[Section, tuple[int, int]] | None:
    """The section and span (in ``section.normalized``) of the words ``erratum`` corrects:
    in the section it names first, then anywhere; None without text or when not found."""
    if not erratum.has_text:
        return None
    named = doc.section(erratum.section) if erratum.section else None
    if named is not None:
        span = _words(named, erratum.original)
        if span is not None:
            return named, span
    # Searched everywhere only with words enough not to match by chance.
    if len(normalize(erratum.original).split()) < 4:
        return None
    for section in doc.sections:
        span = _words(section, erratum.original)
        if span is not None:
            return section, span
    return None


def _words(section: Section, text: str) -> tuple[int, int] | None:
    """The span of ``text`` in the section, starting and ending at word boundaries."""
    needle = normalize(text)
    hay = section.normalized
    start = hay.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = hay[start - 1] if start else " "
        after = hay[end] if end < len(hay) else " "
        if not (before.isalnum() and needle[0].isalnum()) and not (
            after.isalnum() and needle[-1].isalnum()
        ):
            return start, end
        start = hay.find(needle, start + 1)
    return None


def corrected_match(
    errata: Iterable[Erratum], doc: RfcDocument, section: Section, quote: str
) -> tuple[Erratum, tuple[int, int]] | None:
    """A verified erratum of ``section`` whose corrected text holds ``quote``, with the span
    of the original words it corrects (what the annotation stands for), or None."""
    needle = normalize(quote)
    if not needle:
        return None
    for erratum in errata:
        if not erratum.verified or needle not in normalize(erratum.corrected):
            continue
        found = locate(erratum, doc)
        if found is not None and found[0] is section:
            return erratum, found[1]
    return None


def stale_citations(resolved: Iterable[Resolved], errata_of: Any) -> list[Diagnostic]:
    """A warning per code or test annotation that quotes words a verified erratum corrects
    (quote the corrected text instead, once the code follows it).  ``errata_of(rfc)`` gives
    the records of an RFC."""
    from annotate.checker import Diagnostic

    out: list[Diagnostic] = []
    spans: dict[tuple[int, str], list[tuple[Erratum, tuple[int, int]]]] = {}
    for item in resolved:
        a = item.annotation
        if a.type not in ("implementation", "test") or item.erratum is not None:
            continue
        key = (item.document.number, item.section.number)
        if key not in spans:
            spans[key] = []
            for erratum in errata_of(item.document.number):
                found = locate(erratum, item.document) if erratum.verified else None
                if found is not None and found[0] is item.section:
                    spans[key].append((erratum, found[1]))
        for erratum, (start, end) in spans[key]:
            if item.span[0] < end and item.span[1] > start:
                out.append(
                    Diagnostic(
                        a.path,
                        a.line,
                        f"warning: RFC {erratum.rfc} §{item.section.number}: this quote has "
                        f"words that verified erratum {erratum.eid} corrects ({erratum.url}); "
                        "check the code against the corrected text and quote that instead",
                    )
                )
    return sorted(set(out))

"""The site's model: RFC sections, requirements, annotations and the code they sit on.

Built once per Sphinx run from the same code the report uses (`annotate.report.build_coverage`),
so the spec view shows the statuses the report counts.  Source files are read as text; nothing
that is shown is imported.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.annotations import Annotation

if TYPE_CHECKING:
    from annotate.checker import Resolved
    from annotate.report import Coverage, RequirementStatus
    from annotate.rfctext import RfcDocument, Section

#: Status names in the report's precedence order, plus "cited" for quotes of sentences that
#: state no requirement.
STATUS_LABELS: dict[str, str] = {
    "verified": "Verified",
    "complete": "Complete",
    "partial": "Partial",
    "implied": "Implied",
    "exception": "Exception",
    "missing test": "Missing test",
    "missing citation": "Missing citation",
    "todo": "To do",
    "not started": "Not started",
    "cited": "Cited",
}
STATUS_HELP: dict[str, str] = {
    "verified": "implemented and tested; the test fails when the code is broken",
    "complete": "implemented and tested, not (yet) verified by breaking the code",
    "partial": "implemented and tested, but some clause of it is quoted by neither",
    "implied": "met by implication only: no code, no test",
    "exception": "a deliberate deviation, with its reason",
    "missing test": "implemented, no test cites it yet",
    "missing citation": "a test cites it, no implementation does",
    "todo": "marked as work to do",
    "not started": "nothing cites it yet",
    "cited": "quoted by the code, states no requirement",
}
#: Small glyphs printed next to the label, so status never rests on colour alone.
STATUS_ICONS: dict[str, str] = {
    "verified": "✔",
    "complete": "✓",
    "partial": "◒",
    "implied": "≈",
    "exception": "⊘",
    "missing test": "◐",
    "missing citation": "◑",
    "todo": "…",
    "not started": "○",
    "cited": "❝",
}
GENERATED = "_generated"


def status_class(status: str) -> str:
    """CSS class of a status: ``st-missing-test``."""
    return "st-" + status.replace(" ", "-")


def page_key(section_number: str) -> str:
    """The page a section lives on: its top-level section (``17.1.2`` -> ``section-17``)."""
    top = section_number.split(".", 1)[0]
    return f"section-{top}" if top[0].isdigit() else f"appendix-{top}"


def spec_doc(rfc: int, section_number: str) -> str:
    return f"{GENERATED}/spec/rfc{rfc}/{page_key(section_number)}"


def rfc_index_doc(rfc: int) -> str:
    return f"{GENERATED}/spec/rfc{rfc}/index"


def code_doc(path: str) -> str:
    stem = path[:-3] if path.endswith(".py") else path
    return f"{GENERATED}/code/{stem}"


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return "tests" in parts[:-1] or name.startswith("test_") or name == "conftest.py"


def _short(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass
class Item:
    """One thing shown beside the spec text: a requirement, or a quote citing no requirement."""

    key: str  # anchor stem: "req-<key>" on the text, "cite-<key>" on the card
    section: Section
    span: tuple[int, int]
    status: str
    citations: list[Resolved]
    requirement: object | None = None  # annotate.requirements.Requirement

    @property
    def level(self) -> str | None:
        return getattr(self.requirement, "level", None)

    @property
    def text(self) -> str:
        return self.section.normalized[self.span[0] : self.span[1]]


@dataclass
class Run:
    """Consecutive ``##`` lines of one file: one or more stacked annotations."""

    path: str
    start: int  # first ``##`` line
    end: int  # last ``##`` line
    annotations: list[Annotation]
    block: tuple[int, int] | None


@dataclass
class CodeFile:
    path: str
    text: str
    runs: list[Run] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def is_test(self) -> bool:
        return is_test_path(self.path)


@dataclass
class RfcView:
    document: RfcDocument
    items: dict[str, list[Item]]  # by section number, in text order
    whole: dict[str, list[Resolved]]  # TOML annotations covering the whole section

    def counts(self, number: str, deep: bool = False) -> dict[str, int]:
        """Requirements per status in a section (``deep``: with its subsections)."""
        result: dict[str, int] = defaultdict(int)
        for num, items in self.items.items():
            if num == number or (deep and num.startswith(number + ".")):
                for item in items:
                    if item.requirement is not None:
                        result[item.status] += 1
        return dict(result)


class Site:
    """Everything the generated pages show, computed from a coverage run."""

    def __init__(self, root: Path, coverage: Coverage) -> None:
        self.root = Path(root)
        self.coverage = coverage
        self.resolved_by_annotation: dict[int, Resolved] = {
            id(r.annotation): r for r in coverage.resolved
        }
        # requirement ids each annotation cites, and the item key it is shown under
        self.items_of_annotation: dict[int, list[Item]] = defaultdict(list)
        self.rfcs: dict[int, RfcView] = {}
        for rfc in coverage.rfcs:
            self.rfcs[rfc.document.number] = self._rfc_view(rfc.document, rfc.requirements)
        self.files: dict[str, CodeFile] = self._code_files(coverage.annotations)
        # conformance: requirement id -> (run, case) of every case exercising it, and the runs
        self.verdicts: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
        self.runs: list[Any] = []
        # later RFCs that update RFC 3261, per section (annotate.sphinxext.later.Later)
        self.later: Any = None
        # the sentences later RFCs changed (annotate.later_updates.Update, reviewed data)
        self.updates: list[Any] = []
        # the errata of each RFC shown (annotate.errata.Erratum), by RFC number
        self.errata: dict[int, list[Any]] = {}
        # every annotation sitting on one code block: the block is shown once per spec page,
        # with all the requirements it covers
        self.annotations_on_block: dict[tuple[str, int, int], list[Annotation]] = defaultdict(list)
        for a in coverage.annotations:
            if a.origin == "code" and a.block is not None:
                self.annotations_on_block[(a.path, *a.block)].append(a)

    def items_on_block(self, path: str, block: tuple[int, int]) -> list[Item]:
        """The requirements (and cited sentences) the annotations on one block cover."""
        seen: dict[int, Item] = {}
        for a in self.annotations_on_block.get((path, *block), []):
            for item in self.items_of_annotation.get(id(a), []):
                seen.setdefault(id(item), item)
        return list(seen.values())

    # --- spec side ----------------------------------------------------------------------

    def _rfc_view(self, doc: RfcDocument, requirements: list[RequirementStatus]) -> RfcView:
        items: dict[str, list[Item]] = defaultdict(list)
        sections = {s.number: s for s in doc.sections}
        for entry in requirements:
            req = entry.requirement
            section = sections.get(req.section)
            if section is None:
                continue
            item = Item(
                key=req.id,
                section=section,
                span=(req.start, req.end),
                status=entry.status,
                citations=list(entry.citations),
                requirement=req,
            )
            items[req.section].append(item)
            for cite in entry.citations:
                self.items_of_annotation[id(cite.annotation)].append(item)
        whole: dict[str, list[Resolved]] = defaultdict(list)
        for cite in self.coverage.resolved:
            if cite.document is not doc and cite.document.number != doc.number:
                continue
            a = cite.annotation
            if cite.whole_section:
                whole[cite.section.number].append(cite)
                continue
            if a.type == "spec" or id(a) in self.items_of_annotation:
                continue
            # A quote of text that states no requirement: shown as "cited".
            own = items[cite.section.number]
            match = next((i for i in own if i.requirement is None and i.span == cite.span), None)
            if match is None:
                match = Item(
                    key="q-" + _short(f"{doc.number}:{cite.section.number}:{cite.span}"),
                    section=cite.section,
                    span=cite.span,
                    status="cited",
                    citations=[],
                )
                own.append(match)
            match.citations.append(cite)
            self.items_of_annotation[id(a)].append(match)
        for number in items:
            items[number].sort(key=lambda i: (i.span[0], i.requirement is None))
        return RfcView(doc, dict(items), dict(whole))

    def rfc_numbers(self) -> list[int]:
        """RFC 3261 first, then the others in numeric order."""
        return sorted(self.rfcs, key=lambda n: (n != 3261, n))

    # --- code side ----------------------------------------------------------------------

    def _code_files(self, annotations: list[Annotation]) -> dict[str, CodeFile]:
        by_path: dict[str, list[Annotation]] = defaultdict(list)
        for a in annotations:
            if a.origin == "code" and a.path.endswith(".py"):
                by_path[a.path].append(a)
        files: dict[str, CodeFile] = {}
        for path in sorted(by_path):
            try:
                text = (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            code = CodeFile(path, text)
            lines = text.splitlines()
            runs: dict[int, Run] = {}
            for a in sorted(by_path[path], key=lambda a: a.line):
                start = a.line
                while start > 1 and lines[start - 2].lstrip().startswith("##"):
                    start -= 1
                run = runs.get(start)
                if run is None:
                    end = a.line
                    while end < len(lines) and lines[end].lstrip().startswith("##"):
                        end += 1
                    run = runs[start] = Run(path, start, end, [], a.block)
                run.annotations.append(a)
            code.runs = [runs[k] for k in sorted(runs)]
            files[path] = code
        return files

    def block_text(self, a: Annotation) -> str:
        """The source lines of the block an annotation sits on."""
        code = self.files.get(a.path)
        if code is None or a.block is None:
            return ""
        lines = code.lines
        return "\n".join(lines[a.block[0] - 1 : a.block[1]])

    def test_name(self, a: Annotation) -> str:
        """``test_x`` for an annotation above ``def test_x(...)``, else the first code line."""
        code = self.files.get(a.path)
        if code is None or a.block is None:
            return ""
        for line in code.lines[a.block[0] - 1 : a.block[1]]:
            m = re.match(r"\s*(?:async\s+)?(?:def|class)\s+(\w+)", line)
            if m:
                return m[1]
        return code.lines[a.block[0] - 1].strip()[:60]

    def spec_target(self, a: Annotation) -> tuple[str, str] | None:
        """(docname, anchor) of the place an annotation cites in the spec view."""
        items = self.items_of_annotation.get(id(a))
        if items:
            item = items[0]
            return spec_doc(item.section.rfc, item.section.number), f"req-{item.key}"
        if a.rfc in self.rfcs and a.section is not None:
            section = self.rfcs[a.rfc].document.section(a.section)
            if section is not None:
                return spec_doc(a.rfc, section.number), section.anchor
        return None

    def code_target(self, a: Annotation) -> tuple[str, str] | None:
        """(docname, anchor) of an annotated block in the code view."""
        if a.path in self.files and a.block is not None:
            return code_doc(a.path), f"L-{a.block[0]}"
        return None

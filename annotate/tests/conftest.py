"""Fixtures for the annotation tool's tests: where the RFC texts are, and a store over them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def spec_dir_path() -> Path:
    """$SIPREF_SPEC_DIR, else the shared folder beside the work tree (../shared/rfcs)."""
    env = os.environ.get("SIPREF_SPEC_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "rfcs"


def spec_rfc_numbers() -> list[int]:
    """The RFC numbers whose texts are in the spec folder (for parametrized tests)."""
    folder = spec_dir_path()
    if not folder.is_dir():
        return []
    return sorted(int(p.stem[3:]) for p in folder.glob("rfc*.txt") if p.stem[3:].isdigit())


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    folder = spec_dir_path()
    if not (folder / "rfc3261.txt").is_file():
        pytest.fail(f"RFC texts not found in {folder}: set SIPREF_SPEC_DIR")
    return folder


@pytest.fixture(scope="session")
def spec_store(spec_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store over the spec folder that never touches the network."""
    from annotate.specstore import SpecStore

    return SpecStore(spec_dir, cache_dir=tmp_path_factory.mktemp("cache"), allow_fetch=False)


@pytest.fixture(scope="session")
def rfc3261(spec_store):
    return spec_store.document(3261)

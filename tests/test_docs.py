"""The README and docs/: every relative link resolves to a file inside the repository (and to a
heading, when it names one), and the README stays an overview."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|\bsrc=\"([^\"]+)\"")
README_MAX_BYTES = 8 * 1024


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in document.read_text().splitlines() if line.startswith("#")}


def _relative_links(document: Path):
    for match in LINK.finditer(document.read_text()):
        target = match.group(1) or match.group(2)
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize("document", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves_inside_the_repository(document):
    for target in _relative_links(document):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        assert resolved.is_relative_to(ROOT), f"{document.name}: {target} points outside the repository"
        assert resolved.exists(), f"{document.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{document.name}: {target} names no heading"


def test_no_document_points_outside_the_repository_in_prose():
    for document in DOCS:
        assert "../shared" not in document.read_text(), document


def test_the_readme_stays_an_overview():
    assert (ROOT / "README.md").stat().st_size <= README_MAX_BYTES

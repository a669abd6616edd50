"""The documentation holds together: a short README, no link to a missing file, a LICENSE.

Evidence: the README had grown to 670 lines and pointed to a ``DESIGN.md`` that was not in the repository.
These checks read files only (no Redis, no workers).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 200

_FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [README, *sorted((ROOT / "docs").glob("**/*.md"))]


def relative_link_targets(text: str) -> list[str]:
    """Targets of inline and reference links that point into the repository (code is not prose: skipped)."""
    prose = _INLINE_CODE.sub("", _FENCED_BLOCK.sub("", text))
    targets = _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)
    return [t for t in targets if not t.startswith("#") and not _EXTERNAL.match(t)]


def test_readme_is_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text  # CI runs the README's test command


def test_license_exists() -> None:
    assert (ROOT / "LICENSE").is_file()


def test_docs_folder_has_pages() -> None:
    assert len(markdown_files()) > 1


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    missing = []
    for target in relative_link_targets(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_links_every_docs_page_and_the_license() -> None:
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in relative_link_targets(README.read_text(encoding="utf-8"))}
    unlinked = [p.relative_to(ROOT) for p in [*markdown_files()[1:], ROOT / "LICENSE"] if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link to {unlinked}"


def test_link_finder_sees_links_and_skips_code() -> None:
    text = "[a](docs/x.md) [b](https://example.org) [c](#top) `[d](nope.md)`\n```\n[e](nope.md)\n```\n[f]: ../y.md\n"
    assert relative_link_targets(text) == ["docs/x.md", "../y.md"]

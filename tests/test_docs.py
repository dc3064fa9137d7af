"""The README and docs/: every relative link points at a file that exists (and, with #anchor, at a heading of it),
the README stays a guide of at most 250 lines, and the user's pages (the README, docs/*.md) carry no dates and
no project-internal words: dated experiments live in docs/experiments/, which the README links to once. Fast.

Run: python -m pytest tests/test_docs.py -n 0 -q
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES = [*USER_PAGES, *sorted((ROOT / "docs" / "experiments").glob("*.md"))]
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b|\b\d{1,2} (January|February|March|April|May|June|July|August|"
                  r"September|October|November|December) 20\d\d\b")
INTERNAL = re.compile(r"\bthe mission\b|\bthe issue\b|\bissue's\b|\bthis session\b", re.I)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(target)
        elif fragment and file.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", file.read_text(), flags=re.M)
            if fragment not in {anchor(h) for h in headings}:
                broken.append(target)
    return broken


def test_every_relative_link_points_at_an_existing_file():
    assert len(PAGES) > 2
    assert {page.name: broken_links(page) for page in PAGES if broken_links(page)} == {}


def test_the_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](page.md#title) [gone](missing.md) [bad anchor](page.md#nope) [web](https://x.org)\n")
    assert broken_links(page) == ["missing.md", "page.md#nope"]


def test_the_readme_is_a_guide_of_at_most_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def dated_or_internal(page: Path) -> list[str]:
    """Each line of a page that holds a date or a project-internal word, as 'NAME:LINE: text'."""
    return [f"{page.name}:{n}: {line.strip()[:80]}" for n, line in enumerate(page.read_text().splitlines(), 1)
            if DATE.search(line) or INTERNAL.search(line)]


def test_the_users_pages_hold_no_dates_and_no_internal_words():
    assert [hit for page in USER_PAGES for hit in dated_or_internal(page)] == []


def test_the_date_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("measured 2026-12-05\nfine\non 5 December 2026\nwhat the mission asks\n")
    assert [hit.split(":")[1] for hit in dated_or_internal(page)] == ["1", "3", "4"]


def test_the_readme_links_to_the_lab_notes_once_and_the_lab_notes_are_indexed():
    links = [t for t in relative_links(ROOT / "README.md") if t.startswith("docs/experiments")]
    assert links == ["docs/experiments/README.md"]
    index = (ROOT / "docs" / "experiments" / "README.md").read_text()
    assert all(f"]({page.name})" in index for page in PAGES if page.parent.name == "experiments"
               and page.name != "README.md")

"""Check the built HTML documentation: links, anchors and outside loads.

Usage::

    python docs/tools/check_html.py [docs/_build/html]

Walks every ``.html`` page of the built site (``_static`` and ``_sources``
excepted) and fails, listing every problem, on

* a local ``href`` or ``src`` whose file does not exist;
* a ``#fragment`` of a local HTML page that is no ``id`` (or ``<a name>``) of
  that page;
* a page that loads a resource from outside the site: a ``<script src>``, a
  stylesheet, preloaded or icon ``<link>``, an ``<img>``, ``<iframe>`` and the
  like, with an ``http:``, ``https:`` or protocol-relative (``//``) address;
* a stylesheet of the site that imports or loads a ``url(...)`` from outside.

Ordinary links to other sites (``<a href="https://...">``) are fine: they are
followed only when the reader clicks them.  Only the standard library is
used; each page is parsed once.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Attributes that make the browser fetch something when the page loads,
# by tag; ``<link>`` counts only for the ``rel`` values below.
LOADING = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "embed": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "track": "src",
    "input": "src",
    "object": "data",
}
LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "manifest"}
# Attributes that are links to follow (checked for existence and anchors).
LINKS = {"a": "href", "area": "href", "link": "href"}
SKIPPED_SCHEMES = ("mailto:", "javascript:", "data:", "tel:", "blob:")
SKIPPED_DIRS = {"_static", "_sources", "_images", "_downloads"}
CSS_OUTSIDE = re.compile(
    r"""(?:@import\s+(?:url\()?|url\()\s*['"]?\s*((?:https?:)?//[^'")\s]+)""",
    re.IGNORECASE,
)


def is_outside(url: str) -> bool:
    """True for an absolute or protocol-relative address (another site)."""
    lowered = url.strip().lower()
    return lowered.startswith(("http://", "https://", "//"))


class Page(HTMLParser):
    """The ids of one page, its links, and what it loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[int, str, str]] = []  # (line, tag, url)
        self.loads: list[tuple[int, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        for name in ("id", "name") if tag == "a" else ("id",):
            if name in values:
                self.ids.add(values[name])
        line = self.getpos()[0]
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if rels & LOADING_LINK_RELS and "href" in values:
                self.loads.append((line, "link", values["href"]))
        if tag in LOADING and LOADING[tag] in values:
            self.loads.append((line, tag, values[LOADING[tag]]))
        if tag in LINKS and LINKS[tag] in values:
            self.links.append((line, tag, values[LINKS[tag]]))

    handle_startendtag = handle_starttag


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    page.close()
    return page


def check(root: Path) -> tuple[list[str], dict[str, int]]:
    """Every problem of the site under ``root``, and what was counted."""
    root = root.resolve()
    pages: dict[Path, Page] = {}

    def page_of(path: Path) -> Page:
        if path not in pages:
            pages[path] = parse(path)
        return pages[path]

    sources = sorted(
        path
        for path in root.rglob("*.html")
        if not SKIPPED_DIRS & set(path.relative_to(root).parts[:-1])
    )
    problems: list[str] = []
    counts = {"pages": len(sources), "links": 0, "anchors": 0, "loads": 0}
    for source in sources:
        page = page_of(source)
        where = source.relative_to(root).as_posix()
        for line, tag, url in page.loads:
            counts["loads"] += 1
            if is_outside(url):
                problems.append(f"{where}:{line}: <{tag}> loads from outside: {url}")
        for line, tag, url in page.links + page.loads:
            url = url.strip()
            if not url or is_outside(url) or url.lower().startswith(SKIPPED_SCHEMES):
                continue
            parts = urlsplit(url)
            if parts.scheme:  # another scheme (file:, ftp:, ...): not ours
                problems.append(f"{where}:{line}: <{tag}> unexpected address: {url}")
                continue
            counts["links"] += 1
            if parts.path:
                target = (source.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = source
            if not target.is_file():
                problems.append(f"{where}:{line}: <{tag}> missing file: {url}")
                continue
            if root not in target.parents:
                problems.append(f"{where}:{line}: <{tag}> outside the site: {url}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                counts["anchors"] += 1
                if fragment not in page_of(target).ids:
                    problems.append(f"{where}:{line}: <{tag}> missing anchor: {url}")
    for css in sorted(root.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for match in CSS_OUTSIDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            url = match[1]
            where = css.relative_to(root).as_posix()
            problems.append(f"{where}:{line}: stylesheet loads from outside: {url}")
    return problems, counts


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    if not (root / "index.html").is_file():
        print(f"{root}: no built site here (index.html missing)", file=sys.stderr)
        return 2
    problems, counts = check(root)
    for problem in problems:
        print(problem)
    print(
        f"check_html: {counts['pages']} pages, {counts['links']} local links, "
        f"{counts['anchors']} anchors, {counts['loads']} loaded resources: "
        f"{len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

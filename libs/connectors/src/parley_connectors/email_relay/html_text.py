"""Plain text from an HTML-only email, with the standard library's HTML tokenizer.

Relays usually send a text/plain part; when a mail has only HTML, Parley still stores
text (replies and previews are plain text). A real tokenizer, not pattern matching,
decides what is markup: block elements and ``<br>`` become line breaks, list items get
a dash, links keep their target when it differs from their text, and what a reader
never sees (``<head>``, ``<script>``, ``<style>``, comments) is dropped. Entities are
decoded by the tokenizer itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"head", "script", "style", "template", "title", "noscript"})
_CELLS = frozenset({"td", "th"})
_PARAGRAPHS = frozenset({"p", "blockquote", "table", "ul", "ol", "pre"})
_SPACES = re.compile(r" {2,}")
_WHITESPACE = re.compile(r"\s+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._link: str | None = None
        self._link_text: list[str] = []

    # --- structure -------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._break(force=True)
        elif tag in _BLOCKS:
            self._break()
            if tag == "pre":
                self._pre += 1
        elif tag == "li":
            self._break()
            self._current.append("- ")
        elif tag in _CELLS and self._current:
            self._current.append("\t")
        elif tag == "a":
            self._link = dict(attrs).get("href") or None
            self._link_text = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._hidden:
                self._current.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break(force=True)
        elif tag in _BLOCKS:
            self._break()
        elif tag == "img":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS or tag == "li":
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._break()
            if tag in _PARAGRAPHS:
                self._lines.append("")
        elif tag == "a":
            text = "".join(self._link_text).strip()
            target = self._link
            if (
                target
                and not target.startswith(("#", "mailto:", "javascript:"))
                and (target != text)
            ):
                self._current.append(f" <{target}>")
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if not self._pre:
            data = _WHITESPACE.sub(" ", data)
        self._current.append(data)
        if self._link is not None:
            self._link_text.append(data)

    # --- output ----------------------------------------------------------------------

    def _break(self, *, force: bool = False) -> None:
        """Ends the current line; an empty one only for an explicit ``<br>``."""
        line = "".join(self._current)
        if force or line.strip():
            self._lines.append(line)
        self._current = []

    def text(self) -> str:
        self._break()
        out: list[str] = []
        for line in "\n".join(self._lines).split("\n"):
            indent = line[: len(line) - len(line.lstrip(" "))]
            line = indent + _SPACES.sub(" ", line.strip(" ")).rstrip()
            if not line and (not out or not out[-1]):
                continue  # at most one blank line in a row, none at the start
            out.append(line)
        return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, one paragraph or line per line."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return collector.text()

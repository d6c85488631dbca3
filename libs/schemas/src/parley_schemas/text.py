"""Plain-text rule for replies, shared by every producer and consumer of replies.

Marketplaces show replies as plain text (several strip or refuse markup), so HTML is
refused rather than silently mangled. Detection uses a real HTML tokenizer so that
"a < b", "<3" or "5 > 3" stay plain text while tags and comments are caught.
"""

from __future__ import annotations

from html.parser import HTMLParser


class _MarkupDetector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found = True

    def handle_endtag(self, tag: str) -> None:
        self.found = True

    def handle_comment(self, data: str) -> None:
        self.found = True


def contains_html(text: str) -> bool:
    detector = _MarkupDetector()
    detector.feed(text)
    detector.close()
    return detector.found


PLAIN_TEXT_ONLY = "replies must be plain text; HTML markup is not accepted"

"""Text rules shared by every producer and consumer of merchant-written text.

Plain text: marketplaces show replies as plain text (several strip or refuse markup),
so HTML is refused rather than silently mangled. Detection uses a real HTML tokenizer
so that "a < b", "<3" or "5 > 3" stay plain text while tags and comments are caught.

Hygiene (:func:`clean_text`), for replies, autoresponder templates and tags: a NUL or
another control character corrupts exports, logs and some marketplaces' storage; a
bidi override or isolate makes a text display in another order than it is read (the
"Trojan Source" trick); a text of only invisible characters looks empty to the buyer
yet passes a naive emptiness check. All three are refused, each with its own code,
and accepted text is normalised to Unicode NFC so that equal-looking texts compare
and search equal wherever they are stored.
"""

from __future__ import annotations

import unicodedata
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


# Tab, newline and carriage return are the only control characters ordinary text needs.
_ALLOWED_CONTROLS = frozenset("\t\n\r")
# Embeddings and overrides (U+202A..U+202E) and isolates (U+2066..U+2069). The plain
# marks U+200E/U+200F change no order by themselves and stay accepted.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Characters that draw nothing although Unicode does not class them as spaces or
# format characters (fillers and the blank braille pattern).
_BLANK_LOOKING = frozenset("\u115f\u1160\u2800\u3164\uffa0")

CONTROL_CHARACTER = "control_character"
BIDI_CONTROL = "bidi_control"
EMPTY_TEXT = "empty"


class TextRejected(ValueError):
    """Text that breaks a hygiene rule; ``code`` names the rule (a constant above)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _is_control(char: str) -> bool:
    # C0, DEL and C1: category Cc is exactly these.
    return unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS


def _is_invisible(char: str) -> bool:
    """Draws nothing: whitespace, format characters (U+200B, U+2060, U+FEFF...),
    controls, separators and blank fillers."""
    return (
        char.isspace()
        or unicodedata.category(char) in ("Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me")
        or char in _BLANK_LOOKING
    )


def clean_text(text: str, *, what: str = "the text") -> str:
    """``text`` in NFC without surrounding whitespace; TextRejected when it holds a
    control character other than tab/newline/CR, a bidi embedding/override/isolate,
    or nothing visible. ``what`` names the text in the messages ("a reply")."""
    for position, char in enumerate(text):
        if _is_control(char):
            raise TextRejected(
                CONTROL_CHARACTER,
                f"{what} contains the control character U+{ord(char):04X} at position "
                f"{position}; only tab, newline and carriage return are accepted",
            )
        if char in BIDI_CONTROLS:
            raise TextRejected(
                BIDI_CONTROL,
                f"{what} contains the bidirectional control U+{ord(char):04X} at position "
                f"{position}; embeddings, overrides and isolates are not accepted",
            )
    normalised = unicodedata.normalize("NFC", text).strip()
    if all(_is_invisible(char) for char in normalised):
        raise TextRejected(EMPTY_TEXT, f"{what} needs some visible text")
    return normalised

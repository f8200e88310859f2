"""Outside text (resource names, types, reasons, stack names) as inert Markdown.

Every Markdown the budget prints (``check --format markdown``, the pull-request comment, ``fit``'s
Markdown) passes such text through :func:`md`, so a name written by whoever wrote the program cannot end a
table row, start a heading, link, image, emphasis or HTML, or mention a user in the bot's comment.
"""

from __future__ import annotations

import re

#: A name longer than this is cut, with an ellipsis.
MAX_CHARS = 120
ZERO_WIDTH_SPACE = "\u200b"
#: Markdown punctuation a backslash makes literal anywhere in a line (CommonMark: any ASCII punctuation
#: may be escaped): code, emphasis, links and images, headings, table cells, strikethrough.
_PUNCTUATION = re.compile(r"([\\`*_\[\]#!|~])")
#: What starts a block only at the start of a line: a list item, an ordered item, a setext underline.
_LEADING = re.compile(r"^([-+=]|\d+(?=[.)]))")
#: Left as entities: what would start HTML, or an entity of its own.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
#: Mentions and autolinks are found in the rendered text (after escapes are undone), so they are broken
#: with a zero-width space instead: ``@user``, ``user@host``, ``https://``, ``www.``.
_AUTOLINKS = re.compile(r"@|://|www\.", re.IGNORECASE)
_BROKEN = {"@": "@" + ZERO_WIDTH_SPACE, "://": ":" + ZERO_WIDTH_SPACE + "//"}


def md(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as literal text inside a Markdown table cell, list item or paragraph: on one line,
    at most ``limit`` characters (then an ellipsis), with nothing Markdown, HTML or GitHub acts upon."""
    text = " ".join(str(value).split())  # newlines and tabs end a row or start a block: one space
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _AUTOLINKS.sub(lambda m: _BROKEN.get(m[0], m[0][:3] + ZERO_WIDTH_SPACE + "."), text)
    text = _PUNCTUATION.sub(r"\\\1", text)
    text = _LEADING.sub(lambda m: m[0] + "\\" if m[0][0].isdigit() else "\\" + m[0], text)
    return "".join(_ENTITIES.get(ch, ch) for ch in text)

"""Hostile names in every Markdown the budget prints: rendered, then parsed back with markdown-it-py.

A resource name is written by whoever wrote the program (or the preview). Rendered with hostile names, the
check's Markdown, the pull-request comment and fit's Markdown must parse to exactly the structure they have
with plain names (no heading, link, HTML, emphasis or code from a name; every table row keeps its columns),
and no name may carry a mention or a bare link into the rendered text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from budget.comment import render_markdown
from budget.diff import diff_reports
from budget.fit.render import render_markdown as render_fit
from budget.report import markdown
from budget.report.md_escape import MAX_CHARS, md
from budget.report.model import CostReport, parse_report
from tests.budget_review.review_data import clone

GOLDEN = Path(__file__).resolve().parents[1] / "budget" / "golden" / "check-all.json"
HOSTILE = [
    "x|`y`<script>alert(1)</script>\n## @someone [click](https://evil.example)",
    "# heading\n\n- item\n1. one",
    "**bold** _em_ *em* ~~strike~~ ![img](https://evil.example/i.png)",
    "<img src=x onerror=alert(1)> &lt; &amp; &#64;user",
    "www.evil.example and mail@evil.example and <https://evil.example>",
    "a\\|b\\`c` | d\r\ne\tf",
    "=====",
    "-",
    "1) start",
    "```\ncode\n```",
    "[ref]: https://evil.example",
    "@" + "a" * 500,
]
PARSER = MarkdownIt("gfm-like")
MENTION_OR_LINK = re.compile(r"@\w|https?://|www\.\w", re.IGNORECASE)


def _structure(text: str) -> list[tuple[str, ...]]:
    """Every token's type (inline children too), with the texts that came from names left out."""
    out: list[tuple[str, ...]] = []
    for token in PARSER.parse(text):
        out.append((token.type, token.tag))
        out += [(child.type, child.tag) for child in token.children or [] if child.type != "text"]
    return out


def _texts(text: str) -> list[str]:
    inline = [c for t in PARSER.parse(text) for c in t.children or []]
    return [c.content for c in inline if c.type in ("text", "code_inline")]


def _check(render: Callable[[Callable[[int], str]], str]) -> None:
    plain = render(lambda i: f"name{i}")
    hostile = render(lambda i: HOSTILE[i % len(HOSTILE)])
    # the same blocks, rows, cells and inline markup: nothing came from a name
    assert _structure(hostile) == _structure(plain)
    for text in _texts(hostile):
        assert not MENTION_OR_LINK.search(text), text


def _rename(report: dict[str, Any], name: Callable[[int], str]) -> dict[str, Any]:
    """Every name, type, tier, line and free text of each stack from ``name`` (consistently by value)."""
    seen: dict[str, str] = {}

    def new(old: str) -> str:
        return seen.setdefault(old, name(len(seen)))

    for stack in report.get("stacks", [report]):
        for r in [*stack["resources"], *stack.get("deleted", [])]:
            r["name"], r["type"], r["tier"] = new(r["name"]), new(r["type"]), new(r["tier"])
            for line in r["lines"]:
                line["name"], line["unit"] = new(line["name"]), new(line["unit"])
        for d in stack.get("top_drivers", []):
            d["resource"], d["line"], d["tier"] = new(d["resource"]), new(d["line"]), new(d["tier"])
        for t in stack.get("tiers", []):
            t["tier"] = new(t["tier"])
    return report


def _check_report(name: Callable[[int], str]) -> str:
    stack = clone(json.loads(GOLDEN.read_text(encoding="utf-8"))["stacks"][0])
    stack["deleted"] = [clone(stack["resources"][0])]
    stack["unpriced"] = [{"urn": "urn:x", "type": "t", "name": "u", "reason": "r"}]
    stack = _rename(stack, name)
    stack["unpriced"] = [{"urn": "urn:x", "type": name(90), "name": name(91), "reason": name(92)}]
    stack["warnings"] = [name(93)]
    stack["override"] = {"reason": name(94), "approved_by": name(95)}
    stack["overridden"] = True
    return markdown.render(CostReport.from_json(stack).stacks)


def test_check_markdown_keeps_its_structure_with_hostile_names() -> None:
    _check(_check_report)


def test_the_pr_comment_keeps_its_structure_with_hostile_names(
    base_report: dict[str, Any], head_report: dict[str, Any]
) -> None:
    def render(name: Callable[[int], str]) -> str:
        # the same renaming of both reports, so the diff pairs their resources as before
        base, head = _rename(clone(base_report), name), _rename(clone(head_report), name)
        return render_markdown(diff_reports(parse_report(base), parse_report(head)))

    body = render(lambda i: HOSTILE[i % len(HOSTILE)])
    assert "script" in body and "<script>" not in body  # the name is there, inert
    _check(render)


def test_fit_markdown_routes_outside_text_through_the_same_escape() -> None:
    from budget.fit.report import FitFailure

    def render(name: Callable[[int], str]) -> str:
        return render_fit([FitFailure(stack=name(0), error=name(1))])

    _check(render)


@pytest.mark.parametrize("name", HOSTILE)
def test_one_name_is_one_line_of_inert_text(name: str) -> None:
    escaped = md(name)
    assert "\n" not in escaped and "\r" not in escaped and len(escaped) < 6 * MAX_CHARS
    cell = PARSER.parse(f"| a |\n|---|\n| {escaped} |\n")
    assert [t.type for t in cell].count("td_open") == 1
    assert all(c.type == "text" for t in cell if t.type == "inline" for c in t.children or [])


def test_long_names_end_in_an_ellipsis() -> None:
    assert md("a" * 1000) == "a" * (MAX_CHARS - 1) + "…"
    assert md("short") == "short"

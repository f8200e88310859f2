"""Bounded reading of the YAML and JSON documents the project takes from outside.

Stack files, the price catalog, ``pulumi preview --json`` documents, saved reports and config values all
arrive as text someone else wrote. Each is read here, within limits, so a hostile document is refused in
one line instead of hanging the budget gate or ending in a traceback:

- a size limit per kind of document (checked on the bytes, before parsing);
- a nesting limit (a 100,000-deep document otherwise ends in ``RecursionError``);
- YAML aliases may only name a plain value: an alias of a mapping or list is how a "billion laughs"
  document grows exponentially from a few hundred bytes, so it is refused while composing, before
  anything is expanded;
- JSON's non-standard ``NaN`` and ``Infinity`` are refused.

Every refusal is an :class:`InputError` whose message is a single line; each reader prefixes the file.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser as _LibyamlParser
except ImportError:  # PyYAML built without libyaml: the pure-Python loader below
    _LibyamlParser = object  # type: ignore[misc,assignment]  # only a base; the loader is then unused

KIB = 1024
MIB = 1024 * KIB
#: A stack file (the project's are under 10 KiB).
STACK_FILE_BYTES = 1 * MIB
#: The price catalog (about 80 KiB today).
CATALOG_BYTES = 8 * MIB
#: A ``pulumi preview --json`` document or a saved report (a preview with ``--show-sames`` of a large
#: stack runs to a few MiB).
DOCUMENT_BYTES = 64 * MIB
#: One config value given as JSON text (``stars:api`` from the Pulumi SDK, ``--config-json``).
CONFIG_VALUE_BYTES = 1 * MIB
#: Nesting of mappings and lists, far below Python's recursion limit and far above any real document
#: (a preview's deepest inputs are about 15 levels down).
MAX_DEPTH = 64


class InputError(ValueError):
    """A document outside the limits above, or not valid YAML/JSON; the message is one line."""


def read_text(path: Path, limit: int) -> str:
    """The file's text, refused when larger than ``limit`` bytes (read no further than that)."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError("not found") from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})") from None
    if len(data) > limit:
        raise InputError(f"larger than the {_size(limit)} limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})") from None


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB"


def _check_size(text: str | bytes, limit: int) -> None:
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > limit:
        raise InputError(f"larger than the {_size(limit)} limit")


class _BoundedComposer(Composer):
    """PyYAML's composer with the nesting limit and aliases of plain values only (the limits act while
    the document's events are composed, before anything is built or expanded)."""

    _depth = 0
    # provided by the parser the loader pairs it with (PyYAML's or libyaml's)
    check_event: Callable[..., bool]
    peek_event: Callable[[], Any]

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and not isinstance(target, yaml.ScalarNode):
                raise InputError(
                    f"line {event.start_mark.line + 1}: the alias *{short(event.anchor)} names a"
                    " mapping or list; only aliases of plain values are allowed (alias expansion is"
                    " unbounded)"
                )
            # the stub types the index as int; PyYAML also passes a mapping's key node
            return super().compose_node(parent, index)  # type: ignore[arg-type]  # PyYAML passes key nodes
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise InputError(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
            # the stub types the index as int; PyYAML also passes a mapping's key node
            return super().compose_node(parent, index)  # type: ignore[arg-type]  # PyYAML passes key nodes
        finally:
            self._depth -= 1


class _BoundedLoader(Reader, Scanner, Parser, _BoundedComposer, SafeConstructor, Resolver):
    """The pure-Python safe loader with the bounded composer (when PyYAML was built without libyaml)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)  # refuses control characters already here
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


class _BoundedCLoader(_BoundedComposer, _LibyamlParser, SafeConstructor, Resolver):
    """libyaml's scanner and parser (4x faster on the 80 KiB catalog, read by every budget command) under
    the same bounded composer and safe constructor: the events come from C, every limit stays in Python.
    libyaml's own idea of a printable character differs slightly, so the text is checked first with the
    pure loader's rule, and both loaders refuse the same characters."""

    def __init__(self, stream: str) -> None:
        match = Reader.NON_PRINTABLE.search(stream)
        if match:
            raise ReaderError(
                "<unicode string>",
                match.start(),
                ord(match.group()),
                "unicode",
                "special characters are not allowed",
            )
        _LibyamlParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


#: Where libyaml and PyYAML read the same text differently (a byte-order mark or a line separator inside
#: the text, a bare ``!`` tag): such a text goes to the pure-Python loader, which the project always used.
_READ_APART = re.compile("[!\ufeff\x85\u2028\u2029]")


def _loader_for(text: str) -> Callable[[str], Any]:
    """libyaml's loader when PyYAML has it (the pinned wheels do) and the text reads alike in both."""
    if yaml.__with_libyaml__ and not _READ_APART.search(text):
        return _BoundedCLoader
    return _BoundedLoader


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error (several lines, with a snippet of the document) as one line."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return f"{where}{short(exc.problem or exc.context or 'invalid')}"
    return short(str(exc))


def load_yaml(text: str, limit: int) -> Any:
    """The document in ``text`` (one YAML document, safe tags only), within the limits."""
    return load_yaml_with(_loader_for(text), text, limit)


def load_yaml_with(make_loader: Callable[[str], Any], text: str, limit: int) -> Any:
    """:func:`load_yaml` with a given loader class (a test holds that both loaders read alike)."""
    _check_size(text, limit)
    loader = None
    try:
        loader = make_loader(text)
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:  # a construct the composer's limit does not see (never expected)
        raise InputError(f"not valid YAML (nested deeper than {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: Path, limit: int) -> Any:
    """:func:`load_yaml` of a file."""
    return load_yaml(read_text(path, limit), limit)


def _refuse_constant(name: str) -> Any:
    raise InputError(f"not valid JSON ({name} is not a JSON value)")


def depth_of(value: Any) -> int:
    """How deeply mappings and lists nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        stack.extend((child, depth) for child in children)
    return deepest


def load_json(text: str | bytes, limit: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``text``, within the size and nesting limits."""
    _check_size(text, limit)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid JSON (not UTF-8 text at byte {exc.start})") from None
    except RecursionError:
        raise InputError(f"not valid JSON (nested deeper than {max_depth} levels)") from None
    if depth_of(value) > max_depth:
        raise InputError(f"not valid JSON (nested deeper than {max_depth} levels)")
    return value


def read_json(path: Path, limit: int) -> Any:
    """:func:`load_json` of a file."""
    return load_json(read_text(path, limit), limit)


_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
#: The longest value an error message quotes.
SHOWN_CHARS = 80


def shown(value: Any) -> str:
    """``repr(value)`` cut short (a few items, two levels, 80 characters): error messages quote a value
    without rendering a huge one (``reprlib`` never walks more than it prints)."""
    return short(_REPR.repr(value))


#: The longest explanation an error message gives (the project's own validators' messages fit in it).
MESSAGE_CHARS = 400


def short(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (80: a quoted value) with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(told: str) -> str:
    """A message told on several lines (a parser's heading, then one line per field) on one line: the
    heading, then the lines separated by "; " (a single line only has its whitespace collapsed, as
    :func:`short` does, without the cut)."""
    lines = [" ".join(line.split()) for line in told.splitlines() if line.strip()]
    if len(lines) < 2:
        return lines[0] if lines else ""
    head, *rest = lines
    return f"{head} {'; '.join(rest)}" if head.endswith(":") else "; ".join(lines)

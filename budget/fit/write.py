"""``budget fit --write``: put the fitted configuration into the stack file, changing only what changes.

The file is edited as YAML that keeps its comments, key order and flow style (ruamel.yaml round trip),
each changed key is set where it stands, and a comment above the config records the date and the fit's
figures. The result is read back through the config model and must equal the fitted config, or the file
is left as it was: an edit is complete or not made.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from budget.fit.report import FitReport, flatten, stack_file_config
from budget.report.formatting import per_thousand
from components.bounded_input import STACK_FILE_BYTES, InputError, load_yaml, read_text
from components.config import ConfigError, StackConfig, parse_stack_config, read_stack_file


class WriteError(RuntimeError):
    """The stack file could not be updated (nothing was changed)."""


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.representer.add_representer(
        type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return y


def _set(config: CommentedMap, key: str, value: Any, at: int | None = None) -> None:
    """Set ``stars:api.spot.enabled``-style keys, creating blocks that do not exist yet (at ``at``)."""
    top, *rest = key.split(".")
    if not rest:
        config[top] = value
        return
    if top not in config:
        config.insert(len(config) if at is None else at, top, CommentedMap())
    node = config[top]
    for part in rest[:-1]:
        child = node.get(part)
        if not isinstance(child, Mapping):
            child = CommentedMap()
            node[part] = child
        node = child
    node[rest[-1]] = value


def _delete(config: CommentedMap, key: str) -> None:
    top, *rest = key.split(".")
    if not rest:
        config.pop(top, None)
        return
    node = config.get(top)
    for part in rest[:-1]:
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, dict):
        node.pop(rest[-1], None)


def comment(report: FitReport, today: dt.date) -> str:
    assert report.best is not None
    best = report.best
    return (
        f"budget fit {today.isoformat()}: the cheapest configuration that carries {report.users:,} users,"
        f" TZS {best.total_tzs:,} a month at max size (TZS {per_thousand(best.total_tzs, report.users):,}"
        f" per 1,000 users) against the limit of TZS {report.limit_tzs:,}; the plan's configuration costs"
        f" TZS {report.plan.total_tzs:,}. {len(report.best.changes)} keys changed (`python -m budget fit`)."
    )


def write_fit(report: FitReport, path: Path, today: dt.date | None = None) -> list[str]:
    """Write ``report``'s best configuration into ``path``; returns the keys it changed."""
    if not report.fits or report.best is None:
        raise WriteError(f"{report.stack}: nothing fits the limit; the stack file was not changed")
    try:  # the limits of every stack file read (aliases of collections, depth, size) before ruamel's
        original = read_text(path, STACK_FILE_BYTES)
        load_yaml(original, STACK_FILE_BYTES)
    except InputError as exc:
        raise WriteError(f"{path}: {exc}; nothing changed") from None
    y = _yaml()
    document = y.load(original)
    config = document["config"]
    fitted = stack_file_config(report.best.config)
    leaves = flatten(fitted)
    # a block the fitted configuration no longer has goes, and a new block takes its place in the file
    # (one stars:app group where stars:api and stars:realtime were)
    gone = [c.key for c in report.best.changes if c.key not in leaves and c.key not in fitted]
    at = min((list(config).index(k) for k in gone if k in config), default=None)
    for key in gone:
        _delete(config, key)
    for change in report.best.changes:
        if change.key not in gone:
            _set(config, change.key, change.to, at)
    keys = [c.key for c in report.best.changes]
    first = next(iter(config))
    note = "\n".join(textwrap.wrap(comment(report, today or dt.date.today()), width=104))
    config.yaml_set_comment_before_after_key(first, before=note, indent=2)
    out = io.StringIO()
    y.dump(document, out)
    text = out.getvalue()
    _check(report, path, text)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return keys


def _check(report: FitReport, path: Path, text: str) -> None:
    """The edited text must read back as exactly the fitted configuration."""
    assert report.best is not None
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        try:
            written: StackConfig = parse_stack_config(report.stack, read_stack_file(probe))
        except ConfigError as exc:
            raise WriteError(
                f"{path}: the edit would not be a valid stack file ({exc}); nothing changed"
            ) from None
    if written != report.best.config:
        raise WriteError(f"{path}: the edit does not read back as the fitted configuration; nothing changed")

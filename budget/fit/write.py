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


def _note(node: CommentedMap, key: str, text: str) -> None:
    """Make ``text`` the end-of-line comment of ``key``: the old one described the old value.

    ruamel.yaml keeps a key's end-of-line comment and the whole-line comments under it (which belong to
    the keys below) in one token; only its first line is replaced.
    """
    entry = node.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    if token is None:
        node.yaml_add_eol_comment(f"# {text}", key)
        return
    first, _, below = token.value.partition("\n")
    below = below if first.lstrip().startswith("#") else token.value.lstrip("\n")
    token.value = f"# {text}\n{below}"


def _set(config: CommentedMap, key: str, value: Any, at: int | None = None, note: str = "") -> None:
    """Set ``stars:api.spot.enabled``-style keys, creating blocks that do not exist yet (at ``at``), with
    ``note`` as the key's end-of-line comment."""
    top, *rest = key.split(".")
    if not rest:
        config[top] = value
        if note and not isinstance(value, Mapping):
            _note(config, top, note)
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
    if note and not isinstance(value, Mapping):
        _note(node, rest[-1], note)


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


def _was(old: Any, day: str) -> str:
    """The comment of a changed key: when fit set it and what it was (a block's old value is not shown)."""
    if isinstance(old, Mapping | list):
        return f"set by budget fit {day}"
    return f"set by budget fit {day} (was {'null' if old is None else old})"


def _explain_placement(config: CommentedMap, report: FitReport, day: str) -> None:
    """A single-zone plan runs its servers in the data stores' zone: the stated cross-zone traffic stays
    in the file (it is the app's) but is billed nothing, which the file now says beside it."""
    assert report.best is not None
    usage = config.get("stars:usage")
    single_zone = report.best.config.network.placement == "single_zone"
    if single_zone and isinstance(usage, CommentedMap) and "cross_az_gb" in usage:
        _note(
            usage,
            "cross_az_gb",
            f"budget fit {day}: not billed, stars:network.placement = single_zone runs the servers in the"
            " data stores' zone",
        )


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
    day = (today or dt.date.today()).isoformat()
    for change in report.best.changes:
        if change.key not in gone:
            _set(config, change.key, change.to, at, _was(change.from_, day))
    _explain_placement(config, report, day)
    keys = [c.key for c in report.best.changes]
    first = next(iter(config))
    note = "\n".join(textwrap.wrap(comment(report, dt.date.fromisoformat(day)), width=104))
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

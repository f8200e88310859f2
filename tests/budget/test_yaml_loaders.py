"""The YAML reader of every outside document (stack files, the catalog, saved reports) scans and parses with
libyaml for speed (the catalog: 0.58 s with PyYAML's pure-Python parser, 0.15 s) and composes in Python
under the nesting and alias limits. It reads every document the project writes exactly as the pure-Python
loader does; on malformed text libyaml is more lenient (it reads as a string some text PyYAML refuses),
which the schema behind each reader refuses in turn. Neither crashes, and each refusal is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import bounded_input
from components.bounded_input import MAX_DEPTH, InputError, load_yaml

ROOT = Path(__file__).resolve().parents[2]

LIMIT = bounded_input.STACK_FILE_BYTES

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
#: Characters YAML gives meaning to, so random text reaches the scanner's and parser's corners.
YAML_TEXT = st.text(
    alphabet=st.sampled_from(list(" \t\n-:?,[]{}#&*!|>'\"%@`.=~0123abyn\x01\x85\u2028\ufeff")), max_size=60
)


def _outcome(loader: Any, text: str) -> tuple[str, Any]:
    try:
        return "read", bounded_input.load_yaml_with(loader, text, LIMIT)
    except InputError as exc:
        assert "\n" not in str(exc)
        return "refused", None


def _same(text: str) -> None:
    """``load_yaml`` (libyaml where it reads alike) and the pure-Python loader agree on ``text``."""
    fast = _outcome(lambda text: bounded_input._loader_for(text)(text), text)
    pure = _outcome(bounded_input._BoundedLoader, text)
    assert fast == pure, (text, fast, pure)


def _alike_where_both_read(text: str) -> None:
    fast = _outcome(lambda text: bounded_input._loader_for(text)(text), text)
    pure = _outcome(bounded_input._BoundedLoader, text)
    if fast[0] == pure[0] == "read":
        assert fast == pure, (text, fast, pure)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.booleans(), st.booleans())
def test_any_document_reads_the_same_with_both_loaders(value: Any, flow: bool, canonical: bool) -> None:
    _same(yaml.safe_dump(value, default_flow_style=flow, canonical=canonical, allow_unicode=True))


@settings(max_examples=400, deadline=None)
@given(YAML_TEXT)
def test_any_text_both_loaders_read_has_one_value(text: str) -> None:
    _alike_where_both_read(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: \x01",  # a control character
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),  # too deep
        "a: &x [1, 2]\nb: *x",  # an alias of a list
        "a: [1, 2\nb: 3",  # unclosed flow sequence
        "a: 1\n--- \nb: 2",  # two documents
        "a: !!python/object:os.system x",  # an unsafe tag
    ],
)
def test_what_the_limits_refuse_both_loaders_refuse(text: str) -> None:
    _same(text)
    assert _outcome(bounded_input._BoundedCLoader, text)[0] == "refused"


@pytest.mark.parametrize("path", ["budget/catalog/prices.yaml", "Pulumi.phase1.yaml", "Pulumi.phase3.yaml"])
def test_the_project_files_read_with_libyaml_as_with_pyyaml(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert yaml.__with_libyaml__ and bounded_input._loader_for(text) is bounded_input._BoundedCLoader
    assert load_yaml(text, bounded_input.CATALOG_BYTES) == _outcome(bounded_input._BoundedLoader, text)[1]


@pytest.mark.parametrize("text", ["a: !", "a: 1\ufeff", "a: b\u2028c", "a: \x85"])
def test_a_text_libyaml_reads_apart_goes_to_the_pure_loader(text: str) -> None:
    assert bounded_input._loader_for(text) is bounded_input._BoundedLoader

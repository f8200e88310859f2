"""Check recorded inputs against the provider SDK's own type annotations.

Mocks accept any input, so a misspelt nested key or a number where the provider wants a string would only
fail at ``pulumi up``. This walks every input (camelCase, as recorded) against the annotations of the
resource class and its ``*Args`` input classes: unknown keys and wrong scalar types are reported.
"""

from __future__ import annotations

import collections.abc
import importlib
import re
import typing
from typing import Any, ForwardRef

SECRET_SIG = "4dabf18193072939515e22adb298388d"
_ROOTS = {"aws": "pulumi_aws", "random": "pulumi_random"}


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def resource_class(token: str) -> type[Any]:  # a pulumi resource class, read by its generated members
    package, module_path, name = token.split(":")
    module = module_path.split("/")[0]
    root = _ROOTS[package]
    return getattr(importlib.import_module(root if module == "index" else f"{root}.{module}"), name)


class _Checker:
    def __init__(self, token: str) -> None:
        cls = resource_class(token)
        package = cls.__module__.rsplit(".", 1)[0]
        try:
            self.inputs_module: Any = importlib.import_module(f"{package}._inputs")
        except ModuleNotFoundError:  # a package without nested input types (pulumi_random)
            self.inputs_module = importlib.import_module(package)
        self.root_hints = dict(cls._internal_init.__annotations__)
        self.errors: list[str] = []

    def _alternatives(self, hint: Any) -> list[Any]:
        """Union/Optional/Input as concrete alternatives (no Output, Awaitable, outputs.*, *Dict)."""
        if typing.get_origin(hint) is typing.Union:
            return [alt for arg in typing.get_args(hint) for alt in self._alternatives(arg)]
        if typing.get_origin(hint) is collections.abc.Awaitable or hint is type(None):
            return []
        if isinstance(hint, ForwardRef):
            name = hint.__forward_arg__
            if name.startswith(("Output", "outputs.")) or name.endswith("Dict"):
                return []
            resolved = getattr(self.inputs_module, name, None)
            return [resolved] if resolved is not None else [Any]
        if isinstance(hint, str):
            return self._alternatives(ForwardRef(hint))
        return [hint]

    def check(self, value: Any, hint: Any, path: str) -> None:
        if value is None:
            return
        if isinstance(value, dict) and SECRET_SIG in value:
            value = value.get("value")
        alts = self._alternatives(hint)
        if not alts or Any in alts:
            return
        if isinstance(value, dict):
            classes: list[type[Any]] = [
                a for a in alts if isinstance(a, type) and a.__name__.endswith("Args")
            ]
            maps = [a for a in alts if typing.get_origin(a) in (collections.abc.Mapping, dict)]
            if classes:
                fields = dict(classes[0].__init__.__annotations__)
                for key, item in value.items():
                    name = _snake(key)
                    name = name if name in fields else f"{name}_"
                    if name not in fields:
                        self.errors.append(f"{path}.{key}: not a property of {classes[0].__name__}")
                    else:
                        self.check(item, fields[name], f"{path}.{key}")
            elif maps:
                for key, item in value.items():
                    self.check(item, typing.get_args(maps[0])[1], f"{path}.{key}")
            else:
                self.errors.append(f"{path}: an object where the provider expects {alts}")
            return
        if isinstance(value, list):
            seqs = [a for a in alts if typing.get_origin(a) in (collections.abc.Sequence, list)]
            if not seqs:
                self.errors.append(f"{path}: a list where the provider expects {alts}")
                return
            for i, item in enumerate(value):
                self.check(item, typing.get_args(seqs[0])[0], f"{path}[{i}]")
            return
        scalars = {a for a in alts if a in (str, int, float, bool)}
        if not scalars:
            return  # enums and other special types: not checked
        ok = (
            (isinstance(value, bool) and bool in scalars)
            or (isinstance(value, str) and str in scalars)
            or (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and (float in scalars or (int in scalars and float(value).is_integer()))
            )
        )
        if not ok:
            want = "/".join(sorted(s.__name__ for s in scalars))
            self.errors.append(f"{path}: {type(value).__name__} {value!r} where the provider expects {want}")


def schema_errors(token: str, inputs: dict[str, Any]) -> list[str]:
    """Unknown keys and wrong scalar types in one resource's recorded inputs."""
    checker = _Checker(token)
    for key, value in inputs.items():
        name = _snake(key)
        name = name if name in checker.root_hints else f"{name}_"
        if name not in checker.root_hints:
            checker.errors.append(f"{key}: not an input of {token}")
            continue
        checker.check(value, checker.root_hints[name], key)
    return checker.errors

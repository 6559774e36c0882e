"""CloudFormation intrinsic functions, resolved the way CloudFormation would for one local "stack".

``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` (both forms, ``${!Literal}``), ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::If``/``Fn::Equals``/``Fn::Not``/``Fn::And``/``Fn::Or``/``Condition``,
``Fn::FindInMap``, ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::ToJsonString`` and the pseudo parameters; and the
parameters' values, checked against their constraints (:func:`parameter_values`). What a reference points
at is decided by the caller through two callables (``ref`` and ``get_att``), so this module knows no
resource types.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from thermostat.local.exceptions import TemplateError

NO_VALUE = object()  # AWS::NoValue: the property is dropped
_SUB = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    def __init__(self, *, parameters: Mapping[str, Any], pseudo: Mapping[str, str],
                 ref: Callable[[str], Any], get_att: Callable[[str, str], Any],
                 conditions: Mapping[str, Any] | None = None,
                 mappings: Mapping[str, Any] | None = None) -> None:
        self.parameters = parameters
        self.pseudo = dict(pseudo)
        self._ref = ref
        self._get_att = get_att
        self._conditions_raw = dict(conditions or {})
        self._conditions: dict[str, bool] = {}
        self.mappings = mappings or {}

    # --- public -------------------------------------------------------------------------------------
    def resolve(self, value: Any, where: str = "") -> Any:
        """Resolve every intrinsic in ``value`` (dicts and lists are walked; NoValue entries dropped)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    return self._function(key, arg, where)
            out = {}
            for k, v in value.items():
                resolved = self.resolve(v, f"{where}.{k}" if where else str(k))
                if resolved is not NO_VALUE:
                    out[k] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._conditions_raw:
                raise TemplateError(f"Conditions.{name}: no such condition")
            self._conditions[name] = bool(self.resolve(self._conditions_raw[name], f"Conditions.{name}"))
        return self._conditions[name]

    def ref(self, name: str, where: str = "") -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        try:
            return self._ref(name)
        except KeyError:
            raise TemplateError(f"{where}: Ref to unknown parameter or resource {name!r}") from None

    def sub(self, text: str, variables: Mapping[str, Any], where: str) -> str:
        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return _text(variables[inner])
            if "." in inner and inner.split(".", 1)[0] not in self.parameters:
                resource, attribute = inner.split(".", 1)
                return _text(self._att(resource, attribute, where))
            return _text(self.ref(inner, where))

        return _SUB.sub(replace, text)

    # --- internals ----------------------------------------------------------------------------------
    def _att(self, resource: str, attribute: str, where: str) -> Any:
        try:
            return self._get_att(resource, attribute)
        except KeyError:
            raise TemplateError(f"{where}: GetAtt {resource}.{attribute} is not known locally") from None

    def _function(self, key: str, arg: Any, where: str) -> Any:
        at = f"{where} ({key})"
        if key == "Ref":
            return self.ref(str(arg), at)
        if key == "Condition":
            return self.condition(str(arg))
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
            if len(parts) != 2:
                raise TemplateError(f"{at}: expected Resource.Attribute, got {arg!r}")
            return self._att(str(parts[0]), str(self.resolve(parts[1], where)), at)
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return self.sub(arg, {}, at)
            text, variables = arg
            return self.sub(text, self.resolve(variables, where), at)
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(_text(v) for v in self.resolve(items, where))
        if key == "Fn::Select":
            index, items = self.resolve(arg, where)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(arg, where)
            return str(text).split(str(separator))
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self.resolve(if_true if self.condition(name) else if_false, where)
        if key == "Fn::Equals":
            left, right = self.resolve(arg, where)
            return _text(left) == _text(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0], where)
        if key == "Fn::And":
            return all(self.resolve(a, where) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a, where) for a in arg)
        if key == "Fn::FindInMap":
            name, top, second = (_text(v) for v in self.resolve(arg, where))
            try:
                return self.mappings[name][top][second]
            except KeyError:
                raise TemplateError(f"{at}: Mappings.{name}.{top}.{second} not found") from None
        if key == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(arg, where)).encode()).decode()
        if key == "Fn::GetAZs":
            region = self.pseudo["AWS::Region"]
            return [f"{region}{suffix}" for suffix in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg, where), separators=(",", ":"))
        raise TemplateError(f"{at}: intrinsic function not supported locally")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def parameter_values(path: Path, declared: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, str]:
    """Every parameter's value (override, else Default), checked against its constraints like CloudFormation."""
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"{path}: parameter override {sorted(unknown)[0]!r} is not a template parameter")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"{path}: Parameters.{name} has no Default and no value was given")
        value = _text(raw)
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise TemplateError(f"{path}: Parameters.{name}={value!r} is not one of {allowed}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise TemplateError(f"{path}: Parameters.{name}={value!r} is not a number") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if (low is not None and number < float(low)) or (high is not None and number > float(high)):
                raise TemplateError(f"{path}: Parameters.{name}={value} is outside [{low}, {high}]")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise TemplateError(f"{path}: Parameters.{name}={value!r} does not match {pattern}")
        values[name] = value
    return values


def substitute_definition(text: str, substitutions: Mapping[str, Any]) -> str:
    """``DefinitionSubstitutions``: replace ``${Key}`` for every key given, leave anything else alone."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return _text(substitutions[key]) if key in substitutions else match.group(0)

    return _SUB.sub(replace, text)

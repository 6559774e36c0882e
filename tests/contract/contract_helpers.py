"""Helpers of the contract tier: paths, the flattened states of the ASL, sample events, and a small evaluator of
the CloudFormation intrinsics template.yaml uses, to check what CloudFormation would render (environment
values, the warm function's IAM policy) for given parameter values, offline."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "warming.asl.json"
EVENTS = ROOT / "events"


def flatten_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, including those inside Map/Parallel (names are unique in this definition)."""
    flat: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        flat[name] = state
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if inner:
            flat.update(flatten_states(inner["States"]))
        for branch in state.get("Branches", []):
            flat.update(flatten_states(branch["States"]))
    return flat


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))



PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "thermostat",
    "AWS::NoValue": None,
}
_SUB = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


class Renderer:
    """Evaluates Ref/Sub/If/Select/Split/Join/Equals/Not/And/Or/GetAtt with the parameters' values (defaults
    unless overridden). A Ref or GetAtt to a resource renders as ``<LogicalId>`` / ``<LogicalId.Attr>``."""

    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.values: dict[str, str] = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.values.update(overrides or {})
        self.conditions: Mapping[str, Any] = template.get("Conditions", {})

    def condition(self, name: str) -> bool:
        return bool(self.render(self.conditions[name]))

    def _ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.template.get("Resources", {}):
            return f"<{name}>"
        raise KeyError(f"Ref to unknown {name}")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in variables:
                return str(self.render(variables[key]))
            if "." in key:
                return f"<{key}>"
            return str(self._ref(key))

        return _SUB.sub(replace, text)

    def render(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.render(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1:
            return {key: self.render(value) for key, value in node.items()}
        (key, arg), = node.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return self._sub(text, variables)
        if key == "Fn::If":
            return self.render(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Select":
            return self.render(arg[1])[int(self.render(arg[0]))]
        if key == "Fn::Split":
            return str(self.render(arg[1])).split(arg[0])
        if key == "Fn::Join":
            return arg[0].join(str(part) for part in self.render(arg[1]))
        if key == "Fn::Equals":
            return str(self.render(arg[0])) == str(self.render(arg[1]))
        if key == "Fn::Not":
            return not self.render(arg[0])
        if key == "Fn::And":
            return all(self.render(item) for item in arg)
        if key == "Fn::Or":
            return any(self.render(item) for item in arg)
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return f"<{parts[0]}.{parts[1]}>"
        return {key: self.render(arg)}

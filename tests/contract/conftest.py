"""Fixtures of the contract tier: the real template.yaml, the real ASL, the real events/ — read, never mocked."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

sys.path.insert(0, str(Path(__file__).parent))  # contract_helpers

from contract_helpers import ASL, TEMPLATE, flatten_states


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return cfn_yaml.load(str(TEMPLATE))


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def parameters(template: dict[str, Any]) -> dict[str, Any]:
    return template["Parameters"]


@pytest.fixture(scope="session")
def globals_function(template: dict[str, Any]) -> dict[str, Any]:
    return template["Globals"]["Function"]


@pytest.fixture(scope="session")
def asl_text() -> str:
    return ASL.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def asl(asl_text: str) -> dict[str, Any]:
    return json.loads(asl_text)


@pytest.fixture(scope="session")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return flatten_states(asl["States"])


@pytest.fixture(scope="session")
def state_machine(resources: dict[str, Any]) -> dict[str, Any]:
    return resources["WarmingStateMachine"]["Properties"]


@pytest.fixture(scope="session")
def workflow_functions(state_machine: dict[str, Any]) -> dict[str, str]:
    """Logical id -> substitution name, for every function the ASL invokes (``${XFunctionArn}``)."""
    return {
        name.removesuffix("Arn"): name
        for name in state_machine["DefinitionSubstitutions"]
        if name.endswith("FunctionArn")
    }

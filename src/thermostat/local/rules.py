"""EventBridge rules on the embedded AWS: an event in, the executions its rules start out.

moto stores the template's rules (``deploy`` creates them) and has EventBridge's pattern matcher (the one its
``PutEvents`` uses; its ``TestEventPattern`` API is not implemented), but delivers to no state machine.
:func:`deliver` does that part as EventBridge does: every enabled rule of the default bus whose pattern
matches, every Step Functions target of it, the input its ``InputTransformer`` builds (:func:`transform`),
one ``StartExecution`` each.

:func:`cloudtrail_event` builds what EventBridge receives when CloudTrail records a Lambda API call (a
"AWS API Call via CloudTrail" event, ``source`` ``aws.lambda``): the shape the WarmOnDeploy rules match.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
from moto.events.models import EventPattern

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
_PATH = re.compile(r"\$(?:\.[A-Za-z0-9_-]+)+")


class Starter(Protocol):
    """What :func:`deliver` needs of :class:`~thermostat.local.session.LocalAws`."""

    def start(self, execution_input: Any, name: str | None = None, state_machine: str | None = None) -> str: ...


def cloudtrail_event(event_name: str, request_parameters: Mapping[str, Any], response_elements: Mapping[str, Any],
                     *, region: str, account_id: str, at: datetime | None = None) -> dict[str, Any]:
    """The EventBridge event of one successful Lambda management API call recorded by CloudTrail
    (``event_name`` as CloudTrail spells it: ``UpdateFunctionCode20150331v2``, ``PublishVersion20150331``,
    ``UpdateAlias20150331``); parameters and response elements in CloudTrail's camelCase."""
    when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.lambda", "account": account_id, "time": when, "region": region, "resources": [],
        "detail": {
            "eventVersion": "1.08", "eventTime": when, "eventSource": "lambda.amazonaws.com",
            "eventName": event_name, "awsRegion": region, "sourceIPAddress": "192.0.2.10",
            "userAgent": "aws-sam-cli", "requestParameters": dict(request_parameters),
            "responseElements": dict(response_elements), "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()), "readOnly": False, "eventType": "AwsApiCall",
            "managementEvent": True, "recipientAccountId": account_id, "eventCategory": "Management",
            "userIdentity": {"type": "AssumedRole", "accountId": account_id},
        },
    }


def camel(response: Mapping[str, Any]) -> dict[str, Any]:
    """A Lambda API response (boto3's PascalCase) as CloudTrail records it (camelCase, no ResponseMetadata)."""
    return {key[:1].lower() + key[1:]: value for key, value in response.items() if key != "ResponseMetadata"}


def _value(event: Mapping[str, Any], path: str) -> Any:
    if not _PATH.fullmatch(path):
        raise ValueError(f"InputPathsMap path {path!r}: JSON dot notation ($.a.b) only")
    value: Any = event
    for part in path.split(".")[1:]:
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"{path}: not in the event")
        value = value[part]
    return value


def transform(target: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """The input a rule target sends: the event itself without a transformer; with one, ``InputTemplate``
    with each ``<name>`` replaced by the ``InputPathsMap`` value — a string inside quotes goes in as its
    (escaped) text, anything else as JSON."""
    transformer = target.get("InputTransformer")
    if not transformer:
        return str(target["Input"]) if "Input" in target else json.dumps(event)
    values = {name: _value(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    template = str(transformer["InputTemplate"])

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in values:
            return match[0]
        value = values[name]
        quoted = template[match.start() - 1:match.start()] == '"' and template[match.end():match.end() + 1] == '"'
        if quoted and isinstance(value, str):
            return json.dumps(value)[1:-1]
        return json.dumps(value)

    return _PLACEHOLDER.sub(fill, template)


def matches(pattern: str, event: Mapping[str, Any]) -> bool:
    """Whether an EventBridge pattern (JSON text) matches ``event`` (moto's matcher: prefix, exists, ...)."""
    message: Any = dict(event)
    return bool(EventPattern.load(pattern).matches_event(message))


def matching_targets(events: Any, event: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(rule name, target) of every enabled rule of the default bus whose pattern matches ``event``."""
    out: list[tuple[str, dict[str, Any]]] = []
    for rule in events.list_rules()["Rules"]:
        if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
            continue
        if not matches(rule["EventPattern"], event):
            continue
        out += [(rule["Name"], target) for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
    return out


def deliver(aws: Starter, event: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """What EventBridge does with ``event``: an execution per matching Step Functions target.
    Returns (rule name, execution ARN, the execution input) for each."""
    events = boto3.client("events", region_name=str(event["region"]))
    started: list[tuple[str, str, Any]] = []
    for rule, target in matching_targets(events, event):
        if ":states:" not in target["Arn"]:
            continue
        execution_input = json.loads(transform(target, event))
        started.append((rule, aws.start(execution_input, state_machine=target["Arn"]), execution_input))
    return started

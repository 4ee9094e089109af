"""The receipt rule set's activation, as a CloudFormation custom resource (template.yaml,
`ActiveReceiptRuleSet`): SES has one active rule set per region and account and no resource for
choosing it. Create and Update activate ours, refusing to replace another active set unless the
stack says so; Delete deactivates ours, so the stack can then delete the rule set.

Every request is answered on its presigned ResponseURL, failures included: a custom resource that
never answers holds the stack for an hour.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from functools import cache
from typing import Any

from popdrop import logfmt
from popdrop.faces.faults import StoreError
from popdrop.store.receipt_rules import ReceiptRules

logger = logging.getLogger("popdrop.functions.ruleset")
RESPONSE_TIMEOUT = 30.0


@cache
def rules() -> ReceiptRules:
    return ReceiptRules.from_environment()


def handler(event: dict[str, Any], context: object) -> None:
    logfmt.configure()
    properties = event.get("ResourceProperties", {})
    name = str(properties.get("RuleSetName", ""))
    replace = str(properties.get("ReplaceActive", "false")).lower() == "true"
    request = event.get("RequestType")
    try:
        if request == "Delete":
            deactivated = rules().deactivate(name)
            logfmt.log_event(logger, "ruleset.deleted", name=name, deactivated=deactivated)
        else:
            replaced = rules().activate(name, replace_active=replace)
            logfmt.log_event(logger, "ruleset.active", name=name, replaced=replaced)
    except StoreError as error:
        logfmt.log_event(logger, "ruleset.failed", logging.ERROR, name=name, error=str(error))
        respond(event, context, "FAILED", str(error), name)
        return
    respond(event, context, "SUCCESS", "", name)


def respond(
    event: dict[str, Any], context: object, status: str, reason: str, physical_id: str
) -> None:
    """PUT the outcome to CloudFormation's presigned URL (no Content-Type: it is signed without)."""
    log_stream = getattr(context, "log_stream_name", "")
    body = {
        "Status": status,
        "Reason": reason or f"see CloudWatch Logs stream {log_stream}",
        "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or "none",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    }
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's https ResponseURL
        event["ResponseURL"],
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": ""},
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT):  # noqa: S310
        pass

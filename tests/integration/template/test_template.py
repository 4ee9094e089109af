"""template.yaml deploys what DESIGN.md describes; what cfn-lint cannot judge is checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from popdrop.settings import Settings
from popdrop.store import arrivals, schema

Resources = dict[str, dict[str, Any]]


def props(resources: Resources, name: str) -> dict[str, Any]:
    found: dict[str, Any] = resources[name]["Properties"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_finds_nothing_to_report(template_path: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(template_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_table_is_exactly_the_schema_definition(resources: Resources) -> None:
    table = props(resources, "MailTable")
    defined = {key: table.get(key) for key in schema.TABLE_DEFINITION}
    assert defined == schema.TABLE_DEFINITION
    assert table["TimeToLiveSpecification"] == schema.TIME_TO_LIVE
    assert "LocalSecondaryIndexes" not in table


def test_the_table_is_encrypted_and_recoverable(resources: Resources) -> None:
    table = props(resources, "MailTable")
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_bucket_is_encrypted_and_never_public(resources: Resources) -> None:
    bucket = props(resources, "MailBucket")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4


def test_ses_may_only_put_objects_under_the_incoming_prefix(resources: Resources) -> None:
    policy = props(resources, "MailBucketPolicy")
    assert policy["Bucket"] == {"Ref": "MailBucket"}
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]

    (ses,) = allows  # nothing else is granted through the bucket policy
    assert ses["Principal"] == {"Service": "ses.amazonaws.com"}
    assert as_list(ses["Action"]) == ["s3:PutObject"]
    assert as_list(ses["Resource"]) == [{"Fn::Sub": "${MailBucket.Arn}/${IncomingPrefix}*"}]
    assert ses["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_receipt_rule_stores_the_message_then_invokes_ingest(resources: Resources) -> None:
    """DESIGN: the S3 action runs first, so the object exists when the function reads it. With
    IngestTrigger=s3 the rule only stores: the Object Created event invokes ingest instead."""
    condition, s3_only, both = props(resources, "ReceiptRule")["Rule"]["Actions"]["Fn::If"]
    assert condition == "IngestFromS3Events"
    store, invoke = both
    assert s3_only == [store]

    assert store == {
        "S3Action": {
            "BucketName": {"Ref": "MailBucket"},
            "ObjectKeyPrefix": {"Ref": "IncomingPrefix"},
        }
    }
    assert invoke == {
        "LambdaAction": {
            "FunctionArn": {"Fn::GetAtt": ["IngestFunction", "Arn"]},
            "InvocationType": "Event",
        }
    }


def test_the_receipt_rule_serves_the_domain_scanned_and_over_tls_only(resources: Resources) -> None:
    rule = props(resources, "ReceiptRule")
    assert rule["RuleSetName"] == {"Ref": "ReceiptRuleSet"}
    assert rule["Rule"]["Recipients"] == [{"Ref": "Domain"}]
    assert rule["Rule"]["Enabled"] is True
    assert rule["Rule"]["ScanEnabled"] is True
    assert rule["Rule"]["TlsPolicy"] == "Require"


def test_the_receipt_rule_is_created_after_ses_may_write_and_invoke(resources: Resources) -> None:
    """SES test-writes to the bucket and checks the invoke permission when it creates the rule."""
    assert set(resources["ReceiptRule"]["DependsOn"]) == {"MailBucketPolicy", "IngestReady"}
    # A DependsOn may not name a conditional resource: the handle stands in for the permission.
    assert resources["IngestReady"]["Metadata"] == {
        "InvokePermission": {"Fn::If": ["IngestFromSes", {"Ref": "IngestInvokePermission"}, "none"]}
    }


RULE_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/"
    "${ReceiptRuleSetName}:receipt-rule/*"
}


def test_only_this_accounts_rule_set_may_invoke_ingest_and_only_with_the_ses_trigger(
    resources: Resources,
) -> None:
    assert resources["IngestInvokePermission"]["Condition"] == "IngestFromSes"
    permission = props(resources, "IngestInvokePermission")
    assert permission["FunctionName"] == {"Ref": "IngestFunction"}
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "ses.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert permission["SourceArn"] == RULE_ARN


def test_both_ses_grants_name_this_accounts_rule_set_as_the_source(resources: Resources) -> None:
    """aws:SourceArn (not only SourceAccount): another rule set in this account, or another
    account's SES, can neither write to the bucket nor invoke ingest (confused deputy)."""
    [ses] = [
        s
        for s in props(resources, "MailBucketPolicy")["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert ses["Condition"]["ArnLike"] == {"aws:SourceArn": RULE_ARN}
    assert props(resources, "IngestInvokePermission")["SourceArn"] == RULE_ARN


def test_ingest_is_configured_with_the_deployed_bucket_table_and_prefix(
    resources: Resources,
) -> None:
    function = props(resources, "IngestFunction")
    variables = function["Environment"]["Variables"]
    assert variables == {
        "POPDROP_TABLE": {"Ref": "MailTable"},
        "POPDROP_BUCKET": {"Ref": "MailBucket"},
        "POPDROP_INCOMING_PREFIX": {"Ref": "IncomingPrefix"},
    }
    prefix = Settings.model_config.get("env_prefix", "")
    assert {name.removeprefix(prefix).lower() for name in variables} <= set(Settings.model_fields)
    assert function["Runtime"] == "python3.12"


def test_reconcile_runs_on_a_schedule_with_the_deployed_names(
    resources: Resources, template_path: Path
) -> None:
    assert resources["ReconcileFunction"]["Metadata"] == {"BuildMethod": "makefile"}
    makefile = (template_path.parent / "infra" / "lambda.mk").read_text(encoding="utf-8")
    assert "\nbuild-ReconcileFunction:" in makefile
    function = props(resources, "ReconcileFunction")
    assert function["Handler"] == "functions.reconcile.app.handler"
    assert function["Events"]["Sweep"] == {
        "Type": "Schedule",
        "Properties": {"Schedule": {"Ref": "ReconcileSchedule"}},
    }
    variables = function["Environment"]["Variables"]
    prefix = Settings.model_config.get("env_prefix", "")
    assert {name.removeprefix(prefix).lower() for name in variables} <= set(Settings.model_fields)
    assert variables["POPDROP_INCOMING_PREFIX"] == {"Ref": "IncomingPrefix"}


def test_with_the_s3_trigger_new_incoming_objects_invoke_ingest(resources: Resources) -> None:
    """IngestTrigger=s3: S3 Object Created events on EventBridge, matched to the incoming prefix
    of this bucket, invoke ingest, and only that rule may."""
    bucket = props(resources, "MailBucket")["NotificationConfiguration"]
    assert bucket == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rule = resources["IngestObjectCreatedRule"]
    assert rule["Condition"] == "IngestFromS3Events"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": "MailBucket"}]},
            "object": {"key": [{"prefix": {"Ref": "IncomingPrefix"}}]},
        },
    }
    assert rule["Properties"]["Targets"] == [
        {"Id": "ingest", "Arn": {"Fn::GetAtt": ["IngestFunction", "Arn"]}}
    ]
    permission = resources["IngestEventsInvokePermission"]
    assert permission["Condition"] == "IngestFromS3Events"
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {
        "Fn::GetAtt": ["IngestObjectCreatedRule", "Arn"]
    }


def test_every_incoming_object_reaches_the_reconcile_sweeps_queue(resources: Resources) -> None:
    """Issue 13, "Reconcile in O(new objects)": the sweep reads the arrivals queue, which the
    ArrivalsRule fills (the same pattern `popdrop.store.arrivals` sets up locally), delayed by the
    sweep's grace period; only that rule may send to it, and what the sweep keeps failing on ends
    in a retained dead-letter queue with an alarm."""
    rule = props(resources, "ArrivalsRule")
    assert rule["EventPattern"] == arrivals.event_pattern(
        {"Ref": "MailBucket"},
        {"Ref": "IncomingPrefix"},
    )
    assert rule["Targets"] == [{"Id": "arrivals", "Arn": {"Fn::GetAtt": ["ArrivalsQueue", "Arn"]}}]
    queue = props(resources, "ArrivalsQueue")
    sweep = props(resources, "ReconcileFunction")["Environment"]["Variables"]
    assert queue["DelaySeconds"] == int(sweep["POPDROP_RECONCILE_GRACE_SECONDS"])
    assert queue["VisibilityTimeout"] == arrivals.RECEIVE_VISIBILITY
    assert queue["VisibilityTimeout"] > props(resources, "ReconcileFunction")["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["ArrivalsDeadLetterQueue", "Arn"]
    }
    assert sweep["POPDROP_ARRIVALS_QUEUE"] == {"Ref": "ArrivalsQueue"}
    [grant] = props(resources, "ArrivalsQueuePolicy")["PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"}
    assert grant["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ArrivalsRule", "Arn"]}}
    }
    assert resources["ArrivalsDeadLetterQueue"]["DeletionPolicy"] == "Retain"
    alarm = props(resources, "ArrivalsDeadLetterAlarm")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ArrivalsDeadLetterQueue", "QueueName"]}}
    ]


def test_an_event_ingest_keeps_failing_is_kept_for_a_redrive(resources: Resources) -> None:
    """DESIGN invariant 1: an event is never dropped silently after Lambda's async retries; the
    queue outlives the stack (it holds mail not yet filed) and an alarm says when it fills."""
    assert resources["IngestFailureQueue"]["DeletionPolicy"] == "Retain"
    assert resources["IngestFailureQueue"]["UpdateReplacePolicy"] == "Retain"
    alarm = props(resources, "IngestFailureAlarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["IngestFailureQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    invoke = props(resources, "IngestFunction")["EventInvokeConfig"]
    on_failure = invoke["DestinationConfig"]["OnFailure"]
    assert on_failure == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["IngestFailureQueue", "Arn"]},
    }
    assert props(resources, "IngestFailureQueue")["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_ingest_function_is_built_by_the_makefile_target(
    resources: Resources, template_path: Path
) -> None:
    function = resources["IngestFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    assert function["Metadata"] == {"BuildMethod": "makefile"}
    makefile = (template_path.parent / "infra" / "lambda.mk").read_text(encoding="utf-8")
    assert "\nbuild-IngestFunction:" in makefile


def test_the_outputs_name_the_bucket_table_and_function(template: dict[str, Any]) -> None:
    values = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert values["MailBucketName"] == {"Ref": "MailBucket"}
    assert values["MailTableName"] == {"Ref": "MailTable"}
    assert values["IngestFunctionArn"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}

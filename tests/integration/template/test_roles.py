"""Least privilege, asserted (issue 11): after the SAM transform, every role in the stack grants
exactly these actions on exactly these resources, nothing more. A new store call that needs a
permission fails here first, and so does a grant nothing uses."""

from __future__ import annotations

import json
from typing import Any

import pytest

Grant = tuple[str, str]  # (action, resource as canonical JSON)

INCOMING = {"Fn::Sub": "${MailBucket.Arn}/${IncomingPrefix}*"}
TABLE = {"Fn::GetAtt": ["MailTable", "Arn"]}
BUCKET = {"Fn::GetAtt": ["MailBucket", "Arn"]}
ZONE = {"Fn::Sub": "arn:${AWS::Partition}:route53:::hostedzone/${HostedZoneId}"}


def logs(group: str) -> set[Grant]:
    arn = {"Fn::GetAtt": [group, "Arn"]}
    return grants(("logs:CreateLogStream", arn), ("logs:PutLogEvents", arn))


def grants(*pairs: tuple[str, Any]) -> set[Grant]:
    return {(action, json.dumps(resource, sort_keys=True)) for action, resource in pairs}


def on(resource: Any, *actions: str) -> set[Grant]:
    return grants(*((action, resource) for action in actions))


FILING = on(INCOMING, "s3:GetObject", "s3:PutObject") | on(
    TABLE,
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)

EXPECTED: dict[str, set[Grant]] = {
    # Reads and the one canonical rewrite under the incoming prefix, the item writes of its
    # transactions, the failure queue: nothing on other keys or the index, no deletes.
    "IngestRole": logs("IngestLogGroup")
    | FILING
    | on({"Fn::GetAtt": ["IngestFailureQueue", "Arn"]}, "sqs:SendMessage"),
    "ReconcileRole": logs("ReconcileLogGroup")
    | FILING
    | on(
        {"Fn::GetAtt": ["ArrivalsQueue", "Arn"]},
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    ),
    "GcRole": logs("GcLogGroup")
    | on(BUCKET, "s3:ListBucket")
    | on(INCOMING, "s3:DeleteObject")
    | on(
        TABLE,
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
    )
    | on({"Fn::Sub": "${MailTable.Arn}/index/garbage"}, "dynamodb:Query"),
    "ApiRole": logs("ApiLogGroup")
    | on({"Ref": "ApiTokenSecret"}, "secretsmanager:GetSecretValue")
    | on(INCOMING, "s3:GetObject", "s3:DeleteObject")
    | on(
        TABLE,
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    )
    | on({"Fn::Sub": "${MailTable.Arn}/index/directory"}, "dynamodb:Query"),
    "RuleSetRole": logs("RuleSetLogGroup")
    | on("*", "ses:DescribeActiveReceiptRuleSet", "ses:SetActiveReceiptRuleSet"),
    "DnsRole": logs("DnsLogGroup")
    | on("*", "ecs:ListTasks", "ec2:DescribeNetworkInterfaces")
    | on(
        {
            "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/"
            "${PopdCluster}/*"
        },
        "ecs:DescribeTasks",
    )
    | on(ZONE, "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"),
    "PopdTaskRole": on({"Ref": "CertificateSecretArn"}, "secretsmanager:GetSecretValue")
    | on(INCOMING, "s3:GetObject", "s3:DeleteObject")
    | on(
        TABLE,
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchGetItem",
    ),
    "PopdExecutionRole": logs("PopdLogGroup")
    | on("*", "ecr:GetAuthorizationToken")
    | on({"Ref": "DecoyKeySecret"}, "secretsmanager:GetSecretValue")
    | on(
        {
            "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
            "${ImageRepository}"
        },
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ),
}
TRUSTED = {name: "lambda.amazonaws.com" for name in EXPECTED} | {
    "PopdTaskRole": "ecs-tasks.amazonaws.com",
    "PopdExecutionRole": "ecs-tasks.amazonaws.com",
}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def granted(role: dict[str, Any]) -> set[Grant]:
    found = set()
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            found |= {(action, json.dumps(resource, sort_keys=True)) for action in actions}
    return found


def test_every_role_in_the_stack_is_one_this_test_states(deployed: dict[str, Any]) -> None:
    roles = {name for name, resource in deployed.items() if resource["Type"] == "AWS::IAM::Role"}
    assert roles == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_grants_exactly_its_actions_on_its_resources(
    deployed: dict[str, Any], name: str
) -> None:
    role = deployed[name]
    assert granted(role) == EXPECTED[name]
    assert "ManagedPolicyArns" not in role["Properties"]  # no AWS-wide managed policy


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_is_assumed_by_its_service_only(deployed: dict[str, Any], name: str) -> None:
    [trust] = deployed[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": TRUSTED[name]}
    assert trust["Action"] == "sts:AssumeRole"


def test_wildcard_resources_are_only_where_aws_offers_nothing_narrower(
    deployed: dict[str, Any],
) -> None:
    star = {
        (name, action)
        for name in EXPECTED
        for action, resource in granted(deployed[name])
        if resource == '"*"'
    }
    assert star == {
        ("RuleSetRole", "ses:DescribeActiveReceiptRuleSet"),
        ("RuleSetRole", "ses:SetActiveReceiptRuleSet"),
        ("DnsRole", "ecs:ListTasks"),
        ("DnsRole", "ec2:DescribeNetworkInterfaces"),
        ("PopdExecutionRole", "ecr:GetAuthorizationToken"),
    }
    [list_tasks] = [s for s in statements(deployed["DnsRole"]) if s["Action"] == "ecs:ListTasks"]
    assert list_tasks["Condition"] == {
        "ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["PopdCluster", "Arn"]}}
    }


def test_listing_is_limited_to_the_incoming_prefix(deployed: dict[str, Any]) -> None:
    for name in ("GcRole",):  # the reconcile sweep reads its queue, not a listing
        [listing] = [s for s in statements(deployed[name]) if s["Action"] == "s3:ListBucket"]
        assert listing["Condition"] == {
            "StringLike": {"s3:prefix": {"Fn::Sub": "${IncomingPrefix}*"}}
        }


def test_the_dns_updater_may_only_upsert_the_one_a_record(deployed: dict[str, Any]) -> None:
    [change] = [
        s
        for s in statements(deployed["DnsRole"])
        if s["Action"] == "route53:ChangeResourceRecordSets"
    ]
    assert change["Condition"] == {
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [{"Ref": "PopHostName"}],
            "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
        }
    }


def test_every_function_runs_as_its_own_stated_role(deployed: dict[str, Any]) -> None:
    functions = {
        name: resource["Properties"]["Role"]
        for name, resource in deployed.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert functions == {
        f"{role.removesuffix('Role')}Function": {"Fn::GetAtt": [role, "Arn"]}
        for role in EXPECTED
        if TRUSTED[role] == "lambda.amazonaws.com"
    }

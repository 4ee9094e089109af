"""The Lambdas issue 11 adds, against moto: the daily gc, the rule-set custom resource and the
small mode's DNS updater (each handler called as Lambda calls it)."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto.ec2.models.elastic_network_interfaces import NetworkInterface

from functions.dns import app as dns_app
from functions.gc import app as gc_app
from functions.ruleset import app as ruleset_app
from popdrop.ingest.pipeline import ingest_object
from popdrop.logfmt import now_ms
from popdrop.settings import get_settings
from popdrop.store import Store

CONTEXT = SimpleNamespace(aws_request_id="request-1", log_stream_name="stream-1")


def test_the_gc_function_deletes_unreferenced_objects_past_the_grace_period(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for message_id in ("unfiled-1", "unfiled-2"):  # mail for nobody: ingest files it nowhere
        key = store.put_incoming(message_id, b"Subject: x\r\n\r\none\r\n")
        ingest_object(store, key, now_ms())
    s3 = boto3.client("s3")
    # The objects cannot be made two days old in moto: the grace period is made zero instead.
    monkeypatch.setattr(gc_app, "GC_GRACE_SECONDS", 0)
    gc_app.store.cache_clear()
    get_settings.cache_clear()
    try:
        summary = gc_app.handler({"source": "aws.scheduler"}, CONTEXT)
    finally:
        gc_app.store.cache_clear()
    assert summary == {"examined": 2, "in_grace": 0, "deleted": 2}
    assert s3.list_objects_v2(Bucket=store.bucket).get("KeyCount") == 0


class Responses(http.server.BaseHTTPRequestHandler):
    """CloudFormation's side of a custom resource: records the PUT on the ResponseURL."""

    received: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test by design

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    Responses.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Responses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response"
    server.shutdown()
    thread.join(10)


def custom_resource(request: str, url: str, name: str, replace: str = "false") -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/popdrop/1",
        "RequestId": "req-1",
        "LogicalResourceId": "ActiveReceiptRuleSet",
        "ResourceProperties": {"RuleSetName": name, "ReplaceActive": replace},
    }


@pytest.fixture
def ses(moto: str) -> Any:
    ruleset_app.rules.cache_clear()
    client = boto3.client("ses")
    for name in ("popdrop", "other"):
        client.create_receipt_rule_set(RuleSetName=name)
    return client


def active(ses: Any) -> str | None:
    metadata = ses.describe_active_receipt_rule_set().get("Metadata") or {}
    return metadata.get("Name")


def test_create_activates_the_rule_set_and_delete_deactivates_it_so_teardown_works(
    ses: Any, response_url: str
) -> None:
    ruleset_app.handler(custom_resource("Create", response_url, "popdrop"), CONTEXT)
    assert active(ses) == "popdrop"
    ruleset_app.handler(custom_resource("Delete", response_url, "popdrop"), CONTEXT)
    assert active(ses) is None
    ses.delete_receipt_rule_set(RuleSetName="popdrop")  # what the stack does next
    assert [r["Status"] for r in Responses.received] == ["SUCCESS", "SUCCESS"]
    assert Responses.received[0]["PhysicalResourceId"] == "popdrop"


def test_another_active_rule_set_is_not_replaced_unless_the_stack_says_so(
    ses: Any, response_url: str
) -> None:
    ses.set_active_receipt_rule_set(RuleSetName="other")
    ruleset_app.handler(custom_resource("Create", response_url, "popdrop"), CONTEXT)
    assert active(ses) == "other"
    failed = Responses.received[-1]
    assert failed["Status"] == "FAILED" and "ReplaceActiveRuleSet=true" in failed["Reason"]

    ruleset_app.handler(custom_resource("Delete", response_url, "popdrop"), CONTEXT)
    assert active(ses) == "other"  # deleting ours never touches theirs
    assert Responses.received[-1]["Status"] == "SUCCESS"

    ruleset_app.handler(custom_resource("Update", response_url, "popdrop", "true"), CONTEXT)
    assert active(ses) == "popdrop"
    assert Responses.received[-1]["Status"] == "SUCCESS"


def moto_api(endpoint: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


@pytest.fixture
def public_task(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A cluster with a RUNNING awsvpc task of service popd whose ENI has a public address, and
    a hosted zone: what the small mode's updater sees."""
    # moto advances a task's status at every describe (RUNNING, then DEACTIVATING...): hold it.
    transition = {"progression": "manual", "times": 1_000_000}
    moto_api(moto, "set-transition", {"model_name": "ecs::task", "transition": transition})
    # moto 5.2 names an awsvpc task's ENI by its private DNS name, which its ENIs lack unless
    # the VPC has DNS hostnames: give them one (moto's server runs in this process).
    monkeypatch.setattr(
        NetworkInterface, "private_dns_name", "ip-10-0-1-9.ec2.internal", raising=False
    )
    ec2, ecs, route53 = boto3.client("ec2"), boto3.client("ecs"), boto3.client("route53")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="popd", Description="popd", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="popdrop")
    ecs.register_task_definition(
        family="popd",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "popd", "image": "popd:latest", "memory": 512}],
    )
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="popdrop-test")
    zone_id = zone["HostedZone"]["Id"].rpartition("/")[2]
    for name, value in {
        "POPDROP_DNS_CLUSTER": "popdrop",
        "POPDROP_DNS_SERVICE": "popd",
        "POPDROP_DNS_ZONE_ID": zone_id,
        "POPDROP_DNS_NAME": "pop.example.com",
    }.items():
        monkeypatch.setenv(name, value)
    dns_app.dns.cache_clear()

    def start_task() -> str:
        [task] = ecs.run_task(
            cluster="popdrop",
            taskDefinition="popd",
            launchType="FARGATE",
            group="service:popd",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
            },
        )["tasks"]
        eni = next(
            detail["value"]
            for detail in task["attachments"][0]["details"]
            if detail["name"] == "networkInterfaceId"
        )
        allocation = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=allocation["AllocationId"], NetworkInterfaceId=eni)
        return str(allocation["PublicIp"])

    yield {"start_task": start_task, "zone_id": zone_id, "route53": route53}
    moto_api(moto, "unset-transition", {"model_name": "ecs::task"})


def record(public_task: dict[str, Any]) -> list[str]:
    sets = public_task["route53"].list_resource_record_sets(HostedZoneId=public_task["zone_id"])
    return [
        entry["Value"]
        for found in sets["ResourceRecordSets"]
        if found["Name"] == "pop.example.com." and found["Type"] == "A"
        for entry in found["ResourceRecords"]
    ]


def test_the_dns_record_follows_the_running_task(public_task: dict[str, Any]) -> None:
    event = {"detail-type": "ECS Task State Change", "detail": {"lastStatus": "RUNNING"}}
    assert dns_app.handler(event, CONTEXT)["address"] is None  # no task yet: nothing changed
    assert record(public_task) == []

    first = public_task["start_task"]()
    assert dns_app.handler(event, CONTEXT) == {"name": "pop.example.com", "address": first}
    assert record(public_task) == [first]
    dns_app.handler(event, CONTEXT)  # a repeated or late event changes nothing
    assert record(public_task) == [first]

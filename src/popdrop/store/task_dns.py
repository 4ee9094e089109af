"""The small deployment's address record (template.yaml, Exposure=public-task): a Fargate task
cannot keep an Elastic IP, so a Route 53 A record follows the service's newest running task.

Order-independent by design: EventBridge may deliver task state changes late or out of order, so
each event only triggers a look at the service as it is now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_route53 import Route53Client

# Short, so clients find a replaced task within a minute or so (docs/deployment.md).
RECORD_TTL = 60


class TaskDns:
    def __init__(self, ecs: ECSClient, ec2: EC2Client, route53: Route53Client) -> None:
        self._ecs, self._ec2, self._route53 = ecs, ec2, route53

    @classmethod
    def from_environment(cls) -> TaskDns:
        session = boto3.session.Session()
        with aws_errors():
            return cls(session.client("ecs"), session.client("ec2"), session.client("route53"))

    def newest_public_ip(self, cluster: str, service: str) -> str | None:
        """The public IPv4 address of the service's most recently started RUNNING task."""
        with aws_errors():
            arns = self._ecs.list_tasks(
                cluster=cluster, serviceName=service, desiredStatus="RUNNING"
            )["taskArns"]
            if not arns:
                return None
            tasks = self._ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        running = [
            task
            for task in tasks
            if task.get("lastStatus") == "RUNNING" and task.get("group") == f"service:{service}"
        ]
        for task in sorted(running, key=lambda task: str(task.get("startedAt", "")), reverse=True):
            interface = _network_interface(task)
            if interface is None:
                continue
            with aws_errors():
                found = self._ec2.describe_network_interfaces(NetworkInterfaceIds=[interface])
            for described in found["NetworkInterfaces"]:
                if address := described.get("Association", {}).get("PublicIp"):
                    return address
        return None

    def point(self, zone_id: str, name: str, address: str) -> None:
        """UPSERT the A record `name` in the hosted zone to `address`."""
        with aws_errors():
            self._route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Comment": "popdrop: the POP3 task's public address",
                    "Changes": [
                        {
                            "Action": "UPSERT",
                            "ResourceRecordSet": {
                                "Name": name,
                                "Type": "A",
                                "TTL": RECORD_TTL,
                                "ResourceRecords": [{"Value": address}],
                            },
                        }
                    ],
                },
            )

    def record(self, zone_id: str, name: str) -> str | None:
        """The address the A record `name` holds now (None without one)."""
        fqdn = name.rstrip(".") + "."
        with aws_errors():
            sets = self._route53.list_resource_record_sets(
                HostedZoneId=zone_id, StartRecordName=fqdn, StartRecordType="A", MaxItems="1"
            )["ResourceRecordSets"]
        for record in sets:
            if record["Name"] == fqdn and record["Type"] == "A" and record.get("ResourceRecords"):
                return record["ResourceRecords"][0]["Value"]
        return None


def _network_interface(task: Any) -> str | None:
    for attachment in task.get("attachments", []):
        if attachment.get("type") == "ElasticNetworkInterface":
            for detail in attachment.get("details", []):
                if detail.get("name") == "networkInterfaceId":
                    return str(detail["value"])
    return None

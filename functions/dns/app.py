"""The small deployment's DNS updater (template.yaml, Exposure=public-task): on every ECS task
state change of the popd service, point the POP3 host name at the newest running task's public
address. Environment: POPDROP_DNS_CLUSTER, POPDROP_DNS_SERVICE, POPDROP_DNS_ZONE_ID and
POPDROP_DNS_NAME (the stack sets them)."""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from popdrop import logfmt
from popdrop.store.task_dns import TaskDns

logger = logging.getLogger("popdrop.functions.dns")


@cache
def dns() -> TaskDns:
    return TaskDns.from_environment()


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    logfmt.configure()
    cluster, service = os.environ["POPDROP_DNS_CLUSTER"], os.environ["POPDROP_DNS_SERVICE"]
    zone, name = os.environ["POPDROP_DNS_ZONE_ID"], os.environ["POPDROP_DNS_NAME"]
    address = dns().newest_public_ip(cluster, service)
    if address is None:
        # Between tasks (the old one stopped, the new one not running yet): keep the record;
        # the new task's RUNNING event comes next.
        logfmt.log_event(logger, "dns.no_running_task", service=service)
        return {"name": name, "address": None}
    if dns().record(zone, name) != address:
        dns().point(zone, name, address)
        logfmt.log_event(logger, "dns.updated", name=name, address=address)
    return {"name": name, "address": address}

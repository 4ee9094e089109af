"""popd on ECS Fargate in template.yaml (issue 11), after the SAM transform: the load balancer,
its PROXY v2 target groups, timings that agree with popd's settings, the small mode's
conditions, and the outputs an operator needs."""

from __future__ import annotations

from typing import Any

import pytest

from popdrop.settings import DECOY_KEY_MIN_LENGTH, Settings

Resources = dict[str, dict[str, Any]]
FARGATE_MAX_STOP_TIMEOUT = 120
# What popd needs after its drain to cut the last sessions and release their leases.
SHUTDOWN_MARGIN = 10


def props(resources: Resources, name: str) -> dict[str, Any]:
    found: dict[str, Any] = resources[name]["Properties"]
    return found


def container(resources: Resources) -> dict[str, Any]:
    [popd] = props(resources, "PopdTaskDefinition")["ContainerDefinitions"]
    return popd


def environment(resources: Resources) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in container(resources)["Environment"]}


def attributes(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


def test_the_task_environment_names_only_real_settings(deployed: Resources) -> None:
    names = set(environment(deployed)) - {"AWS_DEFAULT_REGION"}
    prefix = Settings.model_config.get("env_prefix", "")
    assert {name.removeprefix(prefix).lower() for name in names} <= set(Settings.model_fields)
    assert environment(deployed)["POPDROP_TLS_SECRET"] == {"Ref": "CertificateSecretArn"}


def test_every_task_gets_one_generated_decoy_key_from_secrets_manager(deployed: Resources) -> None:
    """Issue 15: unknown names' SCRAM salts are stable across replicas and restarts only if every
    task has the same POPDROP_DECOY_KEY; ECS hands it over from a secret the stack generates."""
    secrets = {item["Name"]: item["ValueFrom"] for item in container(deployed)["Secrets"]}
    assert secrets == {"POPDROP_DECOY_KEY": {"Ref": "DecoyKeySecret"}}
    generated = props(deployed, "DecoyKeySecret")["GenerateSecretString"]
    assert generated["PasswordLength"] >= DECOY_KEY_MIN_LENGTH
    assert "POPDROP_DECOY_KEY" not in environment(deployed)


def test_two_tcp_listeners_forward_110_and_995_to_ip_target_groups(deployed: Resources) -> None:
    for listener, port, group in (
        ("Pop3Listener", 110, "Pop3TargetGroup"),
        ("Pop3sListener", 995, "Pop3sTargetGroup"),
    ):
        found = props(deployed, listener)
        assert (found["Port"], found["Protocol"]) == (port, "TCP")  # TLS ends at popd
        assert found["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": group}}]
        target = props(deployed, group)
        assert (target["TargetType"], target["Protocol"], target["Port"]) == ("ip", "TCP", port)
        assert target["HealthCheckProtocol"] == "TCP"
    assert props(deployed, "LoadBalancer")["Type"] == "network"
    ports = {mapping["ContainerPort"] for mapping in container(deployed)["PortMappings"]}
    assert ports == {110, 995}
    assert {lb["ContainerPort"]: lb["TargetGroupArn"] for lb in _service_lbs(deployed)} == {
        110: {"Ref": "Pop3TargetGroup"},
        995: {"Ref": "Pop3sTargetGroup"},
    }


def _service_lbs(deployed: Resources) -> list[dict[str, Any]]:
    condition, with_nlb, without = props(deployed, "PopdService")["LoadBalancers"]["Fn::If"]
    assert (condition, without) == ("UseNlb", {"Ref": "AWS::NoValue"})
    return list(with_nlb)


@pytest.mark.parametrize("group", ["Pop3TargetGroup", "Pop3sTargetGroup"])
def test_target_groups_send_proxy_v2_and_let_popd_drain(deployed: Resources, group: str) -> None:
    """cfn-lint does not check attribute keys: a misspelt `proxy_protocol_v2.enabled` would
    deploy, and popd would refuse every connection from the load balancer."""
    found = attributes(props(deployed, group)["TargetGroupAttributes"])
    assert found == {
        "proxy_protocol_v2.enabled": "true",
        "preserve_client_ip.enabled": "false",
        "deregistration_delay.timeout_seconds": "30",
        "deregistration_delay.connection_termination.enabled": "false",
    }


def test_popds_proxy_trust_is_the_vpc_and_its_own_health_check(deployed: Resources) -> None:
    assert environment(deployed)["POPDROP_PROXY_TRUSTED_NETWORKS"] == {
        "Fn::If": ["UseNlb", {"Fn::Sub": "${VpcCidr},127.0.0.1/32"}, "127.0.0.1/32"]
    }
    assert container(deployed)["HealthCheck"]["Command"] == [
        "CMD",
        "python",
        "-m",
        "popd.healthcheck",
    ]


@pytest.mark.parametrize("listener", ["Pop3Listener", "Pop3sListener"])
def test_the_listeners_idle_timeout_is_above_popds(deployed: Resources, listener: str) -> None:
    """NLB's default 350 s would cut an idle client while popd still holds its maildrop lease;
    the reconnect would get [IN-USE]. popd must close first (RFC 1939 §3 autologout)."""
    idle = attributes(props(deployed, listener)["ListenerAttributes"])
    popd_idle = float(environment(deployed)["POPDROP_IDLE_TIMEOUT"])
    assert popd_idle >= 600  # RFC 1939 §3: at least 10 minutes
    assert 60 <= popd_idle < int(idle["tcp.idle_timeout.seconds"]) <= 6000


def test_the_drain_finishes_inside_the_stop_timeout(deployed: Resources) -> None:
    """ECS deregisters the target, waits the deregistration delay, sends SIGTERM, and kills the
    container stopTimeout seconds later: popd's drain plus its shutdown must fit, and the load
    balancer must not cut the sessions popd is draining."""
    stop_timeout = container(deployed)["StopTimeout"]
    drain = float(environment(deployed)["POPDROP_DRAIN_SECONDS"])
    assert stop_timeout <= FARGATE_MAX_STOP_TIMEOUT
    assert drain + SHUTDOWN_MARGIN <= stop_timeout
    for group in ("Pop3TargetGroup", "Pop3sTargetGroup"):
        found = attributes(props(deployed, group)["TargetGroupAttributes"])
        assert found["deregistration_delay.connection_termination.enabled"] == "false"
    assert props(deployed, "PopdService")["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100


def test_security_groups_open_only_the_pop3_ports(deployed: Resources) -> None:
    clients = props(deployed, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert {(rule["FromPort"], rule["ToPort"], rule["CidrIp"]) for rule in clients} == {
        (110, 110, "0.0.0.0/0"),
        (995, 995, "0.0.0.0/0"),
    }
    ingress = {
        name: resource
        for name, resource in deployed.items()
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress"
    }
    from_lb = {
        (r["Properties"]["FromPort"], r["Properties"]["ToPort"])
        for r in ingress.values()
        if r["Properties"].get("SourceSecurityGroupId") == {"Ref": "LoadBalancerSecurityGroup"}
    }
    assert from_lb == {(110, 110), (995, 995)}
    for resource in ingress.values():
        assert resource["Properties"]["GroupId"] == {"Ref": "TaskSecurityGroup"}
        assert resource["Properties"]["FromPort"] in (110, 995)
        assert resource["Properties"]["FromPort"] == resource["Properties"]["ToPort"]
    egress = [r for r in deployed.values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
    assert {r["Properties"]["DestinationSecurityGroupId"]["Ref"] for r in egress} == {
        "TaskSecurityGroup"
    }
    assert "SecurityGroupIngress" not in props(deployed, "TaskSecurityGroup")


def test_the_service_scales_on_cpu_between_the_parameters(deployed: Resources) -> None:
    target = props(deployed, "PopdScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        {"Ref": "MinTasks"},
        {"Ref": "MaxTasks"},
    )
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    policy = props(deployed, "PopdCpuScaling")["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }
    assert props(deployed, "PopdTaskDefinition")["RuntimePlatform"]["CpuArchitecture"] == {
        "Ref": "CpuArchitecture"
    }


NLB_ONLY = {
    "LoadBalancer",
    "LoadBalancerSecurityGroup",
    "LoadBalancerToTasksPop3",
    "LoadBalancerToTasksPop3s",
    "Pop3Listener",
    "Pop3sListener",
    "Pop3TargetGroup",
    "Pop3sTargetGroup",
    "PopdScalableTarget",
    "PopdCpuScaling",
    "TaskFromLoadBalancerPop3",
    "TaskFromLoadBalancerPop3s",
}
PUBLIC_TASK_ONLY = {
    "DnsFunction",
    "DnsRole",
    "DnsLogGroup",
    "DnsFunctionTaskStateChange",
    "DnsFunctionTaskStateChangePermission",
    "TaskFromClientsPop3",
    "TaskFromClientsPop3s",
}


def test_each_exposure_has_exactly_its_own_resources(
    deployed: Resources, transformed: dict[str, Any]
) -> None:
    assert transformed["Conditions"]["UseNlb"] == {"Fn::Equals": [{"Ref": "Exposure"}, "nlb"]}
    assert transformed["Conditions"]["UsePublicTask"] == {
        "Fn::Equals": [{"Ref": "Exposure"}, "public-task"]
    }
    by_condition = {name: resource.get("Condition") for name, resource in deployed.items()}
    assert {name for name, c in by_condition.items() if c == "UseNlb"} == NLB_ONLY
    assert {name for name, c in by_condition.items() if c == "UsePublicTask"} == PUBLIC_TASK_ONLY


def test_the_small_mode_runs_one_public_task_and_needs_a_zone_and_a_name(
    deployed: Resources, transformed: dict[str, Any]
) -> None:
    service = props(deployed, "PopdService")
    assert service["DesiredCount"] == {"Fn::If": ["UseNlb", {"Ref": "MinTasks"}, 1]}
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == {
        "Fn::If": ["UsePublicTask", "ENABLED", {"Ref": "AssignPublicIp"}]
    }
    rule = transformed["Rules"]["PublicTaskNeedsAName"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Exposure"}, "public-task"]}
    asserted = [a["Assert"]["Fn::Not"][0]["Fn::Equals"][0] for a in rule["Assertions"]]
    assert asserted == [{"Ref": "HostedZoneId"}, {"Ref": "PopHostName"}]
    pattern = props(deployed, "DnsFunctionTaskStateChange")["EventPattern"]
    assert pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["RUNNING"]


def test_the_outputs_give_the_operator_every_record_and_address(
    transformed: dict[str, Any],
) -> None:
    outputs = {name: output["Value"] for name, output in transformed["Outputs"].items()}
    assert outputs["MxRecord"] == {"Fn::Sub": "10 inbound-smtp.${AWS::Region}.amazonaws.com"}
    for number in (1, 2, 3):
        assert outputs[f"DkimRecord{number}"] == {
            "Fn::Sub": f"${{EmailIdentity.DkimDNSTokenName{number}}} CNAME "
            f"${{EmailIdentity.DkimDNSTokenValue{number}}}"
        }
    assert outputs["Pop3Host"] == {
        "Fn::If": ["UseNlb", {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}, {"Ref": "PopHostName"}]
    }
    assert outputs["ApiUrl"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert outputs["ApiTokenSecretArn"] == {"Ref": "ApiTokenSecret"}
    assert outputs["MailBucketName"] == {"Ref": "MailBucket"}
    assert outputs["MailTableName"] == {"Ref": "MailTable"}


def test_the_api_runs_behind_an_http_api_with_its_token_in_secrets_manager(
    deployed: Resources,
) -> None:
    function = props(deployed, "ApiFunction")
    assert function["Handler"] == "functions.api.app.handler"
    variables = function["Environment"]["Variables"]
    assert variables["POPDROP_API_TOKEN_SECRET"] == {"Ref": "ApiTokenSecret"}
    assert "POPDROP_API_TOKEN" not in variables
    assert deployed["HttpApi"]["Type"] == "AWS::ApiGatewayV2::Api"
    routes = deployed["HttpApi"]["Properties"]["Body"]["paths"]
    assert set(routes) == {"/", "/{proxy+}"}


def test_gc_runs_daily_and_the_rule_set_is_activated_by_the_stack(
    deployed: Resources, transformed: dict[str, Any]
) -> None:
    assert transformed["Parameters"]["GcSchedule"]["Default"] == "rate(1 day)"
    schedule = props(deployed, "GcFunctionDaily")
    assert schedule["ScheduleExpression"] == {"Ref": "GcSchedule"}
    activation = deployed["ActiveReceiptRuleSet"]
    assert activation["DependsOn"] == "ReceiptRule"
    assert activation["Properties"] == {
        "ServiceToken": {"Fn::GetAtt": ["RuleSetFunction", "Arn"]},
        "RuleSetName": {"Ref": "ReceiptRuleSet"},
        "ReplaceActive": {"Ref": "ReplaceActiveRuleSet"},
    }
    assert transformed["Parameters"]["ReplaceActiveRuleSet"]["Default"] == "false"
    assert props(deployed, "EmailIdentity") == {"EmailIdentity": {"Ref": "Domain"}}


def test_every_log_group_has_a_retention(deployed: Resources) -> None:
    groups = [r for r in deployed.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 7
    assert {group["Properties"]["RetentionInDays"] for group in groups} == {30}

"""Every template in infra/cloudformation/ created through moto_server's CloudFormation API, and
the wiring that matters asserted (run by scripts/test.sh; moto_server at SENDOPS_MOTO_URL).

Each assertion says where its value comes from:
  [moto]     read back from the service moto's CloudFormation created the resource in;
  [applied]  a type moto's CloudFormation skips: the properties CloudFormation would send
             (cfn.Stack.properties, resolved against the resources moto made) are applied
             through the service's own API on moto and read back;
  [resolved] a type moto skips and has no API for (SES event destinations are stored verbatim
             by moto's SES, so applying them proves nothing): the resolved properties only.
"""

import json
import re
import uuid
from pathlib import Path

import pytest

from cfn import ACCOUNT, REGION, Stack, client, load, policy_doc

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = ["111111111111", "222222222222"]
PLATFORM = "999999999999"
EXTERNAL_ID = "sendops-0f8e2a9c4b7d41e6a3c5"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:sendops-ops"
ALL_EVENT_TYPES = {"send", "reject", "bounce", "complaint", "delivery", "open", "click",
                   "renderingFailure", "deliveryDelay", "subscription"}


def readme_ses_actions() -> set[str]:
    """The SES v2 actions the README says the read role needs (section "SES access")."""
    text = (ROOT / "README.md").read_text()
    para = text[text.index("### SES access"):]
    para = para[:para.index("the platform identity needs")]
    return set(re.findall(r"`(ses:[A-Za-z]+)`", para))


def secret_arn() -> str:
    sm = client("secretsmanager")
    return sm.create_secret(Name=f"sendops-clickhouse-{uuid.uuid4().hex[:8]}",
                            SecretString=json.dumps({"username": "sendops", "password": "pw"}))["ARN"]


def lambda_code() -> tuple[str, str]:
    import io
    import zipfile

    s3 = client("s3")
    bucket = "sendops-artifacts"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket=bucket, Key="sendops-ingest-lambda-x86_64.zip", Body=buf.getvalue())
    return bucket, "sendops-ingest-lambda-x86_64.zip"


# ---- ingest.yaml -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest():
    bucket, key = lambda_code()
    secret = secret_arn()
    stack = Stack("ingest.yaml", {
        "CustomerAccountIds": ",".join(CUSTOMERS),
        "ClickHouseUrl": "https://abc.eu-west-1.aws.clickhouse.cloud:8443",
        "ClickHouseSecretArn": secret,
        "CodeBucket": bucket,
        "CodeKey": key,
        "MaximumConcurrency": "7",
        "BatchingWindowSeconds": "10",
        "AlarmTopicArn": TOPIC,
    })
    stack.secret = secret
    return stack


def queue_attrs(url: str) -> dict:
    return client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_ingest_queue_redrives_to_a_dlq_that_keeps_messages_longer(ingest):
    # [moto]
    q = queue_attrs(ingest.outputs["QueueUrl"])
    dlq = queue_attrs(ingest.outputs["DeadLetterQueueUrl"])
    redrive = json.loads(q["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"] == ingest.outputs["DeadLetterQueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert int(dlq["MessageRetentionPeriod"]) == 1209600
    assert int(q["MessageRetentionPeriod"]) == 345600
    assert int(dlq["MessageRetentionPeriod"]) > int(q["MessageRetentionPeriod"])
    # The template cannot make the queue outlive its DLQ: the parameter's ceiling is below 14 days.
    assert int(ingest.template["Parameters"]["QueueRetentionSeconds"]["MaxValue"]) < 1209600
    assert int(q["VisibilityTimeout"]) >= 6 * int(ingest.params["FunctionTimeout"])


def test_event_source_mapping_reports_batch_item_failures_with_bounded_concurrency(ingest):
    # [moto]
    lam = client("lambda")
    fn = ingest.outputs["FunctionArn"]
    [m] = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]
           if m["FunctionArn"] == fn]
    assert m["EventSourceArn"] == ingest.outputs["QueueArn"]
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert m["MaximumBatchingWindowInSeconds"] == 10
    assert m["BatchSize"] == 1000


def test_function_reads_clickhouse_credentials_from_secrets_manager_only(ingest):
    # [moto]
    cfg = client("lambda").get_function_configuration(FunctionName=ingest.outputs["FunctionArn"])
    assert cfg["Runtime"] == "provided.al2023" and cfg["Handler"] == "bootstrap"
    assert cfg["Architectures"] == ["x86_64"]
    env = cfg["Environment"]["Variables"]
    assert env["CLICKHOUSE_SECRET_ARN"] == ingest.secret
    assert not {"CLICKHOUSE_PASSWORD", "CLICKHOUSE_USER"} & set(env)
    assert "pw" not in json.dumps(env)
    iam = client("iam")
    role = cfg["Role"].rsplit("/", 1)[1]
    doc = policy_doc(iam.get_role_policy(RoleName=role, PolicyName="read-clickhouse-secret")
                     ["PolicyDocument"])
    assert doc["Statement"] == [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                 "Resource": ingest.secret}]
    doc = policy_doc(iam.get_role_policy(RoleName=role, PolicyName="confirm-sns-subscriptions")
                     ["PolicyDocument"])
    assert doc["Statement"] == [{"Effect": "Allow", "Action": "sns:ConfirmSubscription",
                                 "Resource": "arn:aws:sns:*:*:*"}]
    # [moto] log retention
    [group] = client("logs").describe_log_groups(
        logGroupNamePrefix=f"/sendops/{ingest.name}/ingest")["logGroups"]
    assert group["retentionInDays"] == 30


def test_queue_accepts_only_listed_accounts_and_the_platform_rule(ingest):
    # [applied] AWS::SQS::QueuePolicy
    props = ingest.properties("EventQueuePolicy")
    assert props["Queues"] == [ingest.outputs["QueueUrl"]]
    sqs = client("sqs")
    sqs.set_queue_attributes(QueueUrl=ingest.outputs["QueueUrl"],
                             Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    doc = json.loads(queue_attrs(ingest.outputs["QueueUrl"])["Policy"])
    rule_arn = ingest.getatt("SesEventsRule", "Arn")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert set(by_sid) == {"SnsTopicsOfListedAccounts", "PlatformEventBusRule"}
    sns = by_sid["SnsTopicsOfListedAccounts"]
    assert sns["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns["Action"] == "sqs:SendMessage"
    assert sns["Resource"] == ingest.outputs["QueueArn"]
    assert sns["Condition"] == {"StringEquals": {"aws:SourceAccount": CUSTOMERS}}
    eb = by_sid["PlatformEventBusRule"]
    assert eb["Principal"] == {"Service": "events.amazonaws.com"}
    assert eb["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    # Nothing is allowed without a condition naming the sender.
    assert all(s.get("Condition") for s in doc["Statement"])


def test_platform_bus_takes_events_from_listed_accounts_into_the_queue(ingest):
    ev = client("events")
    bus = ingest.getatt("EventBus", "Name")
    assert ingest.outputs["EventBusArn"] == ev.describe_event_bus(Name=bus)["Arn"]  # [moto]
    # [moto] the rule on that bus: SES events of listed accounts, to the queue
    rule = ingest.physical["SesEventsRule"]
    desc = ev.describe_rule(Name=rule, EventBusName=bus)
    assert json.loads(desc["EventPattern"]) == {"source": ["aws.ses"], "account": CUSTOMERS}
    [target] = ev.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
    assert target["Arn"] == ingest.outputs["QueueArn"]
    # [applied] AWS::Events::EventBusPolicy
    props = ingest.properties("EventBusPolicy")
    assert props["EventBusName"] == bus
    stmt = props["Statement"]
    assert stmt["Action"] == "events:PutEvents"
    assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalAccount": CUSTOMERS}}
    ev.put_permission(EventBusName=bus, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{**stmt, "Sid": props["StatementId"]}]}))
    policy = json.loads(ev.describe_event_bus(Name=bus)["Policy"])
    [applied] = policy["Statement"]
    assert applied["Condition"] == {"StringEquals": {"aws:PrincipalAccount": CUSTOMERS}}
    assert applied["Resource"] == ingest.outputs["EventBusArn"]


def apply_alarms(stack: Stack) -> dict[str, dict]:
    """[applied] AWS::CloudWatch::Alarm: put each resolved alarm, return what CloudWatch holds."""
    cw = client("cloudwatch")
    names = []
    for logical in stack.of_type("AWS::CloudWatch::Alarm"):
        props = stack.properties(logical)
        props["Threshold"] = float(props["Threshold"])
        props["Period"] = int(props["Period"])
        props["EvaluationPeriods"] = int(props["EvaluationPeriods"])
        cw.put_metric_alarm(**props)
        names.append(props["AlarmName"])
    alarms = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["MetricName"]: a for a in alarms}


def dims(alarm) -> dict:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def test_ingest_alarms_watch_the_dlq_the_backlog_and_the_function(ingest):
    alarms = apply_alarms(ingest)
    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage",
                           "Errors", "Throttles"}
    dlq = alarms["ApproximateNumberOfMessagesVisible"]
    assert dims(dlq) == {"QueueName": f"{ingest.name}-events-dlq"}
    assert dlq["Threshold"] == 1 and dlq["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    age = alarms["ApproximateAgeOfOldestMessage"]
    assert dims(age) == {"QueueName": f"{ingest.name}-events"} and age["Threshold"] == 900
    for name in ("Errors", "Throttles"):
        assert alarms[name]["Namespace"] == "AWS/Lambda"
        assert dims(alarms[name]) == {"FunctionName": f"{ingest.name}-ingest"}
    for a in alarms.values():
        assert a["AlarmActions"] == [TOPIC] and a["OKActions"] == [TOPIC]


def test_poller_only_ingest_stack_has_no_function():
    # [moto] DeployFunction=false needs no code and makes no function, mapping or function alarms
    stack = Stack("ingest.yaml", {
        "CustomerAccountIds": CUSTOMERS[0],
        "ClickHouseUrl": "http://clickhouse.internal:8123",
        "ClickHouseSecretArn": secret_arn(),
        "DeployFunction": "false",
    })
    assert "FunctionArn" not in stack.outputs
    assert not stack.of_type("AWS::Lambda::Function")
    assert not stack.of_type("AWS::Lambda::EventSourceMapping")
    assert set(apply_alarms(stack)) == {"ApproximateNumberOfMessagesVisible",
                                        "ApproximateAgeOfOldestMessage"}
    assert queue_attrs(stack.outputs["QueueUrl"])["RedrivePolicy"]


# ---- api.yaml ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def network():
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab")]
    return vpc, subnets


QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/sendops-events"


@pytest.fixture(scope="module")
def api(network):
    vpc, subnets = network
    secret = secret_arn()
    stack = Stack("api.yaml", {
        "VpcId": vpc,
        "LoadBalancerSubnetIds": ",".join(subnets),
        "ServiceSubnetIds": ",".join(subnets),
        "ApiImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sendops-api:abc1234",
        "PublicUrl": "https://api.example.com",
        "Commit": "abc1234",
        "ClickHouseUrl": "https://abc.eu-west-1.aws.clickhouse.cloud:8443",
        "ClickHouseSecretArn": secret,
        "PollerImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sendops-poller:abc1234",
        "QueueUrl": QUEUE_URL,
        "AlarmTopicArn": TOPIC,
    })
    stack.secret = secret
    return stack


def test_alb_checks_health_on_v1_health_and_forwards_to_the_api(api):
    # [moto]
    elb = client("elbv2")
    [tg] = elb.describe_target_groups(TargetGroupArns=[api.physical["TargetGroup"]])["TargetGroups"]
    assert tg["HealthCheckPath"] == "/v1/_health"
    assert tg["Port"] == 8080 and tg["TargetType"] == "ip" and tg["Protocol"] == "HTTP"
    assert tg["Matcher"] == {"HttpCode": "200"}
    [listener] = elb.describe_listeners(LoadBalancerArn=api.physical["LoadBalancer"])["Listeners"]
    assert listener["Port"] == 80  # no CertificateArn in this test: plain HTTP, forward
    assert listener["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    # [resolved] moto's ECS keeps no LoadBalancers for a service made by CloudFormation
    [lb] = api.properties("ApiService")["LoadBalancers"]
    assert lb == {"ContainerName": "api", "ContainerPort": 8080,
                  "TargetGroupArn": tg["TargetGroupArn"]}


def container(task_def_arn: str) -> dict:
    td = client("ecs").describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
    [c] = td["containerDefinitions"]
    return c


def test_api_task_wires_public_url_trusted_proxies_and_injected_secrets(api):
    # [moto]
    c = container(api.physical["ApiTaskDefinition"])
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert env["SENDOPS_API_ADDR"] == "0.0.0.0:8080"
    assert env["SENDOPS_PUBLIC_URL"] == "https://api.example.com"
    assert env["SENDOPS_TRUSTED_PROXIES"] == "1"
    assert env["SENDOPS_COMMIT"] == "abc1234"
    # The API keeps idle keep-alive connections longer than the ALB does (no 502 on reuse).
    # [resolved] moto's ELBv2 does not keep LoadBalancerAttributes given through CloudFormation
    lb_attrs = {a["Key"]: a["Value"]
                for a in api.properties("LoadBalancer")["LoadBalancerAttributes"]}
    alb_idle = int(lb_attrs["idle_timeout.timeout_seconds"])
    assert int(env["SENDOPS_HEADER_READ_TIMEOUT_SECONDS"]) > alb_idle
    assert int(env["SENDOPS_IDLE_TIMEOUT_SECONDS"]) > alb_idle
    assert env["CLICKHOUSE_URL"].startswith("https://")
    assert not {"CLICKHOUSE_PASSWORD", "CLICKHOUSE_USER"} & set(env)
    secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    assert secrets == {"CLICKHOUSE_USER": f"{api.secret}:username::",
                       "CLICKHOUSE_PASSWORD": f"{api.secret}:password::"}
    assert c["user"] == "10001"
    assert c["healthCheck"]["command"] == ["CMD", "/usr/local/bin/healthcheck"]
    # [moto] only the execution role reads the secret (at task start), the task role cannot
    iam = client("iam")
    exec_role = api.physical["ExecutionRole"]
    doc = policy_doc(iam.get_role_policy(RoleName=exec_role, PolicyName="read-clickhouse-secret")
                     ["PolicyDocument"])
    assert doc["Statement"][0]["Resource"] == api.secret
    task_doc = policy_doc(iam.get_role_policy(RoleName=api.physical["ApiTaskRole"],
                                              PolicyName="assume-customer-read-roles")["PolicyDocument"])
    assert task_doc["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                      "Resource": "arn:aws:iam::*:role/sendops-read"}]


def test_poller_service_polls_the_queue_with_its_own_role(api):
    # [moto]
    c = container(api.physical["PollerTaskDefinition"])
    assert c["command"] == ["poll", "--queue-url", QUEUE_URL]
    assert {s["name"] for s in c["secrets"]} == {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
    assert c["stopTimeout"] == 120
    doc = policy_doc(client("iam").get_role_policy(RoleName=api.physical["PollerTaskRole"],
                                                   PolicyName="read-event-queue")["PolicyDocument"])
    assert doc["Statement"][0]["Resource"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:sendops-events"
    [svc] = client("ecs").describe_services(cluster=api.physical["Cluster"],
                                            services=["poller"])["services"]
    assert svc["desiredCount"] == 1 and not svc.get("loadBalancers")


def test_api_scales_on_cpu(api):
    # [applied] AWS::ApplicationAutoScaling::ScalableTarget / ScalingPolicy
    target = api.properties("ApiScalableTarget")
    assert target["ResourceId"] == f"service/{api.physical['Cluster']}/api"
    aas = client("application-autoscaling")
    aas.register_scalable_target(ServiceNamespace=target["ServiceNamespace"],
                                 ResourceId=target["ResourceId"],
                                 ScalableDimension=target["ScalableDimension"],
                                 MinCapacity=int(target["MinCapacity"]),
                                 MaxCapacity=int(target["MaxCapacity"]))
    policy = api.properties("ApiCpuScaling")
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    cfg["TargetValue"] = float(cfg["TargetValue"])
    aas.put_scaling_policy(PolicyName=policy["PolicyName"], ServiceNamespace="ecs",
                           ResourceId=target["ResourceId"],
                           ScalableDimension=target["ScalableDimension"],
                           PolicyType=policy["PolicyType"],
                           TargetTrackingScalingPolicyConfiguration=cfg)
    [p] = aas.describe_scaling_policies(ServiceNamespace="ecs",
                                        ResourceId=target["ResourceId"])["ScalingPolicies"]
    tt = p["TargetTrackingScalingPolicyConfiguration"]
    assert tt["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "ECSServiceAverageCPUUtilization"
    assert tt["TargetValue"] == 60.0
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs",
                                        ResourceIds=[target["ResourceId"]])["ScalableTargets"]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (2, 6)


def test_api_5xx_alarms_watch_the_load_balancer(api):
    alarms = apply_alarms(api)  # [applied]
    assert set(alarms) == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"}
    lb_full = api.physical["LoadBalancer"].split(":loadbalancer/", 1)[1]
    assert dims(alarms["HTTPCode_ELB_5XX_Count"]) == {"LoadBalancer": lb_full}
    target = dims(alarms["HTTPCode_Target_5XX_Count"])
    assert target["LoadBalancer"] == lb_full
    assert target["TargetGroup"].startswith("targetgroup/")
    for a in alarms.values():
        assert a["Namespace"] == "AWS/ApplicationELB" and a["AlarmActions"] == [TOPIC]


# ---- customer.yaml -----------------------------------------------------------------------------

BUS = f"arn:aws:events:{REGION}:{PLATFORM}:event-bus/sendops-ses"
PLATFORM_QUEUE = f"arn:aws:sqs:{REGION}:{PLATFORM}:sendops-events"
# IAM role names are account-wide; moto_server outlives a test run.
READ_ROLE = f"sendops-read-{uuid.uuid4().hex[:8]}"
CONFIG_SET = f"sendops-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def customer():
    return Stack("customer.yaml", {
        "PlatformAccountId": PLATFORM,
        "ExternalId": EXTERNAL_ID,
        "PlatformDestinationArn": BUS,
        "ConfigurationSetName": CONFIG_SET,
        "ReadRoleName": READ_ROLE,
    })


def test_read_role_trusts_the_platform_with_the_external_id_and_reads_only_ses(customer):
    # [moto]
    iam = client("iam")
    role = iam.get_role(RoleName=READ_ROLE)["Role"]
    assert customer.outputs["ReadRoleArn"] == role["Arn"]
    trust = policy_doc(role["AssumeRolePolicyDocument"])
    assert trust["Statement"] == [{
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PLATFORM}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
    }]
    assert iam.list_attached_role_policies(RoleName=READ_ROLE)["AttachedPolicies"] == []
    [name] = iam.list_role_policies(RoleName=READ_ROLE)["PolicyNames"]
    doc = policy_doc(iam.get_role_policy(RoleName=READ_ROLE, PolicyName=name)["PolicyDocument"])
    [stmt] = doc["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Resource"] == "*"
    want = readme_ses_actions()
    assert len(want) == 7, want
    assert sorted(stmt["Action"]) == sorted(want)


def test_configuration_set_sends_every_event_type_to_the_platform_bus(customer):
    # [resolved] AWS::SES::ConfigurationSetEventDestination
    dest = customer.properties("EventDestination")
    assert dest["ConfigurationSetName"] == CONFIG_SET
    # moto leaves out an output that Refs a type it skipped; resolved instead
    assert "ConfigurationSetName" not in customer.outputs
    assert customer.resolve(customer.template["Outputs"]["ConfigurationSetName"]["Value"]) == CONFIG_SET
    ed = dest["EventDestination"]
    assert ed["Enabled"] is True and ed["Name"] == "sendops"
    assert sorted(ed["MatchingEventTypes"]) == sorted(ALL_EVENT_TYPES)
    assert ed["EventBridgeDestination"] == {
        "EventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"}
    assert "SnsDestination" not in ed
    # [applied] AWS::SES::ConfigurationSet with its version tag, through SES v2 on moto
    cs = customer.properties("ConfigurationSet")
    ses = client("sesv2")
    ses.create_configuration_set(ConfigurationSetName=cs["Name"], Tags=cs["Tags"])
    got = ses.get_configuration_set(ConfigurationSetName=CONFIG_SET)
    assert {"Key": "sendops:template-version", "Value": customer.outputs["TemplateVersion"]} \
        in got["Tags"]
    # [moto] the rule on the default bus forwards that set's SES events to the platform bus
    ev = client("events")
    rule = customer.physical["ForwardRule"]
    pattern = json.loads(ev.describe_rule(Name=rule, EventBusName="default")["EventPattern"])
    assert pattern["source"] == ["aws.ses"]
    # moto resolves a Ref to a type it skipped (the configuration set) as None, so the rule it
    # holds names ".../configuration-set/None"; the pattern CloudFormation sends, resolved:
    assert customer.properties("ForwardRule")["EventPattern"] == {
        "source": ["aws.ses"],
        "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{CONFIG_SET}"]}
    [target] = ev.list_targets_by_rule(Rule=rule, EventBusName="default")["Targets"]
    assert target["Arn"] == BUS
    role = target["RoleArn"].rsplit("/", 1)[1]
    iam = client("iam")
    [pname] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    doc = policy_doc(iam.get_role_policy(RoleName=role, PolicyName=pname)["PolicyDocument"])
    assert doc["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS}]


def test_sns_transport_with_an_existing_configuration_set_and_no_second_role():
    stack = Stack("customer.yaml", {
        "PlatformAccountId": PLATFORM,
        "ExternalId": EXTERNAL_ID,
        "Transport": "SNS",
        "PlatformDestinationArn": PLATFORM_QUEUE,
        "ExistingConfigurationSetName": "marketing",
        "ReadRoleName": "",
    })
    assert not stack.created("ConfigurationSet") and not stack.created("ReadRole")
    assert not stack.created("ForwardRule")
    assert "ReadRoleArn" not in stack.outputs
    topic = stack.outputs["EventTopicArn"]
    assert client("sns").get_topic_attributes(TopicArn=topic)  # [moto]
    # [resolved] the destination on the existing set, to the topic
    ed = stack.properties("EventDestination")
    assert ed["ConfigurationSetName"] == "marketing"
    assert ed["EventDestination"]["SnsDestination"] == {"TopicARN": topic}
    assert "EventBridgeDestination" not in ed["EventDestination"]
    assert sorted(ed["EventDestination"]["MatchingEventTypes"]) == sorted(ALL_EVENT_TYPES)
    # [resolved] only this account's SES may publish to the topic
    pol = stack.properties("EventTopicPolicy")["PolicyDocument"]["Statement"]
    assert pol == [{"Sid": "SesOfThisAccount", "Effect": "Allow",
                    "Principal": {"Service": "ses.amazonaws.com"}, "Action": "sns:Publish",
                    "Resource": topic,
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]
    # [applied] AWS::SNS::Subscription: raw delivery to the platform queue
    sub = stack.properties("EventTopicSubscription")
    assert (sub["Protocol"], sub["Endpoint"], sub["RawMessageDelivery"]) == \
        ("sqs", PLATFORM_QUEUE, True)
    sns = client("sns")
    arn = sns.subscribe(TopicArn=sub["TopicArn"], Protocol=sub["Protocol"], Endpoint=sub["Endpoint"],
                        Attributes={"RawMessageDelivery": "true"},
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["Endpoint"] == PLATFORM_QUEUE and attrs["RawMessageDelivery"] == "true"


def test_template_version_output_matches_what_the_api_calls_latest():
    # [resolved] the output, and the Rust constant /v1/account reports as latest_version
    template = load("customer.yaml")
    stack_version = str(template["Outputs"]["TemplateVersion"]["Value"])
    consts = [m.group(1) for p in ROOT.glob("*/src/**/*.rs")
              for m in re.finditer(r"CUSTOMER_STACK_LATEST_VERSION: u32 = (\d+);", p.read_text())]
    assert consts == [stack_version]
    assert str(template["Metadata"]["SendOps"]["TemplateVersion"]) == stack_version
    assert f"template version {stack_version}:" in template["Description"]
    for tag in template["Resources"]["ConfigurationSet"]["Properties"]["Tags"]:
        if tag["Key"] == "sendops:template-version":
            assert tag["Value"] == stack_version


def test_with_a_certificate_https_forwards_and_http_redirects(network):
    # [moto] listeners; the service waits for both through the ListenersReady handle [resolved]
    vpc, subnets = network
    cert = client("acm").request_certificate(DomainName="api.example.com")["CertificateArn"]
    stack = Stack("api.yaml", {
        "VpcId": vpc,
        "LoadBalancerSubnetIds": ",".join(subnets),
        "ServiceSubnetIds": ",".join(subnets),
        "ApiImage": "sendops-api:abc1234",
        "CertificateArn": cert,
        "ClickHouseUrl": "http://clickhouse.internal:8123",
        "ClickHouseSecretArn": secret_arn(),
    })
    elb = client("elbv2")
    listeners = {l["Port"]: l for l in
                 elb.describe_listeners(LoadBalancerArn=stack.physical["LoadBalancer"])["Listeners"]}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["Certificates"][0]["CertificateArn"] == cert
    assert https["DefaultActions"][0]["TargetGroupArn"] == stack.physical["TargetGroup"]
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert stack.resource("ApiService")["DependsOn"] == "ListenersReady"
    assert stack.resolve(stack.resource("ListenersReady")["Metadata"]) == {
        "Http": stack.physical["HttpListener"], "Https": stack.physical["HttpsListener"]}
    assert not stack.created("PollerService") and "PlainHttpWarning" not in stack.outputs
    env = {e["name"]: e["value"] for e in container(stack.physical["ApiTaskDefinition"])["environment"]}
    assert env["SENDOPS_PUBLIC_URL"].startswith("https://")

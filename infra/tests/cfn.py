"""Create a CloudFormation template on moto_server and read back what it made.

moto's CloudFormation creates the resource types it supports (SQS queues, IAM roles, Lambda
functions and event source mappings, EventBridge buses and rules, SNS topics, ECS, ELBv2, EC2
security groups, log groups) in its service backends, where the tests read them through the
services' own APIs. Types it does not support (moto 5.2.5: AWS::SQS::QueuePolicy,
AWS::Events::EventBusPolicy, AWS::CloudWatch::Alarm, AWS::SES::ConfigurationSet(EventDestination),
AWS::SNS::Subscription, AWS::SNS::TopicPolicy, AWS::ApplicationAutoScaling::*) it skips with a
warning and still reports CREATE_COMPLETE. For those, `Stack.properties()` resolves the
template's properties the way CloudFormation would (parameters, conditions, Ref, GetAtt against
the resources moto really made, Sub, If, Join, Split, Select, FindInMap), so a test asserts on
the values CloudFormation would send, and where moto has the service API the test applies them
through it and reads them back.
"""

import json
import os
import re
import uuid
from pathlib import Path

import boto3
import yaml

TEMPLATES = Path(__file__).resolve().parents[1] / "cloudformation"
MOTO_URL = os.environ.get("SENDOPS_MOTO_URL", "http://127.0.0.1:5055")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
NO_VALUE = object()


def client(service: str):
    return boto3.client(service, endpoint_url=MOTO_URL, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...)."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load(name: str) -> dict:
    return yaml.load((TEMPLATES / name).read_text(), Loader=_Loader)


class Stack:
    def __init__(self, template: str, params: dict[str, str], name: str | None = None):
        self.template_name = template
        self.template = load(template)
        self.name = name or f"t{uuid.uuid4().hex[:10]}"
        self.cfn = client("cloudformation")
        self.cfn.create_stack(
            StackName=self.name,
            TemplateBody=(TEMPLATES / template).read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        desc = self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        assert desc["StackStatus"] == "CREATE_COMPLETE", desc
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
        self.params = {}
        for key, spec in self.template.get("Parameters", {}).items():
            raw = params.get(key, spec.get("Default"))
            assert raw is not None, f"parameter {key} has no value"
            raw = str(raw)
            if spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<"):
                self.params[key] = [] if raw == "" else raw.split(",")
            else:
                self.params[key] = raw
        summaries = self.cfn.list_stack_resources(StackName=self.name)["StackResourceSummaries"]
        # moto lists the types it skipped without a logical id.
        self.physical = {s["LogicalResourceId"]: s["PhysicalResourceId"]
                         for s in summaries if s["LogicalResourceId"]}
        self.conditions = {}

    # ---- what exists --------------------------------------------------------------------------

    def resource(self, logical: str) -> dict:
        return self.template["Resources"][logical]

    def created(self, logical: str) -> bool:
        """Whether CloudFormation would create the resource (its condition holds)."""
        cond = self.resource(logical).get("Condition")
        return cond is None or self.condition(cond)

    def in_moto(self, logical: str) -> bool:
        """Whether moto's CloudFormation really made it (a supported type)."""
        return logical in self.physical

    def of_type(self, type_: str) -> list[str]:
        return [k for k, r in self.template["Resources"].items()
                if r["Type"] == type_ and self.created(k)]

    def properties(self, logical: str) -> dict:
        assert self.created(logical), f"{logical} is not created with these parameters"
        return self.resolve(self.resource(logical).get("Properties", {}))

    # ---- intrinsic functions ------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self.resolve(self.template["Conditions"][name])
        return self.conditions[name]

    def ref(self, name: str):
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::StackName": self.name, "AWS::URLSuffix": "amazonaws.com",
                  "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.physical:
            return self.physical[name]
        # A type moto skipped: what CloudFormation returns for the ones these templates Ref.
        res = self.resource(name)
        if res["Type"] == "AWS::SES::ConfigurationSet":
            return self.properties(name)["Name"]
        return f"<{name}>"

    def getatt(self, logical: str, attr: str):
        res = self.resource(logical)
        phys = self.physical.get(logical)
        t = res["Type"]
        if t == "AWS::SQS::Queue":
            if attr == "QueueName":
                return phys.rsplit("/", 1)[1]
            return client("sqs").get_queue_attributes(
                QueueUrl=phys, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if t == "AWS::Events::EventBus":
            name = self.properties(logical)["Name"]
            return name if attr == "Name" else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
        if t == "AWS::Events::Rule":
            bus = self.properties(logical).get("EventBusName", "default")
            return client("events").describe_rule(Name=phys, EventBusName=bus)["Arn"]
        if t == "AWS::IAM::Role":
            return client("iam").get_role(RoleName=phys)["Role"]["Arn"]
        if t == "AWS::Lambda::Function":
            return client("lambda").get_function(FunctionName=phys)["Configuration"]["FunctionArn"]
        if t == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            if attr == "LoadBalancerFullName":
                return phys.split(":loadbalancer/", 1)[1]
            [lb] = client("elbv2").describe_load_balancers(LoadBalancerArns=[phys])["LoadBalancers"]
            return lb[attr]
        if t == "AWS::ElasticLoadBalancingV2::TargetGroup" and attr == "TargetGroupFullName":
            return phys.split(":")[-1]
        if t == "AWS::ECS::Service" and attr == "Name":
            return phys.rsplit("/", 1)[1]
        raise NotImplementedError(f"GetAtt {logical}.{attr} ({t})")

    def sub(self, text: str, extra: dict) -> str:
        def one(m):
            key = m.group(1)
            if key in extra:
                return str(extra[key])
            if "." in key and not key.startswith("AWS::"):
                return str(self.getatt(*key.split(".", 1)))
            return str(self.ref(key))
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, list):
            out = [self.resolve(x) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(k, v)] = node.items()
            if k == "Ref":
                return self.ref(v)
            if k == "Condition":
                return self.condition(v)
            if k == "Fn::GetAtt":
                return self.getatt(*v)
            if k == "Fn::Sub":
                if isinstance(v, str):
                    return self.sub(v, {})
                return self.sub(v[0], {n: self.resolve(x) for n, x in v[1].items()})
            if k == "Fn::If":
                return self.resolve(v[1] if self.condition(v[0]) else v[2])
            if k == "Fn::Equals":
                a, b = (self.resolve(x) for x in v)
                return str(a) == str(b)
            if k == "Fn::Not":
                return not self.resolve(v[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in v)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in v)
            if k == "Fn::Join":
                return v[0].join(str(x) for x in self.resolve(v[1]))
            if k == "Fn::Split":
                return self.resolve(v[1]).split(v[0])
            if k == "Fn::Select":
                return self.resolve(v[1])[int(self.resolve(v[0]))]
            if k == "Fn::FindInMap":
                m, a, b = (self.resolve(x) for x in v)
                return self.template["Mappings"][m][a][b]
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}


def policy_doc(doc) -> dict:
    """A policy document as IAM returns it. moto's CloudFormation stores an inline role policy
    made from a template as the Python repr of the dict rather than JSON; both are read."""
    if not isinstance(doc, str):
        return doc
    try:
        return json.loads(doc)
    except json.JSONDecodeError:
        import ast

        return ast.literal_eval(doc)

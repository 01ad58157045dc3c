"""Log group and log stream names, as SageMaker writes them to CloudWatch Logs.

An endpoint's model servers log to ``/aws/sagemaker/Endpoints/{EndpointName}``,
one stream per instance: ``{VariantName}/{instance-id}``. An inference
component's copies log to ``/aws/sagemaker/InferenceComponents/{Name}``, one
stream per copy: ``{VariantName}/{instance-id}/{copy}``, because several
copies of one component may share an instance, each in its own container.

moorage has no EC2 instances, so it mints an AWS-shaped instance id
(``i-`` and 17 hex digits) from what identifies the instance: the endpoint,
the variant and the instance's place in its fleet (the deployment group and
slot of a variant's instance, the placement's instance of a component's
copy). The id is stable: a copy that restarts on the same instance (after a
crash, after a server restart) logs on into the same stream, as a restarted
container does on AWS; an instance of a new fleet (a blue/green update) gets
a new one. :mod:`moorage.logs.layout` maps these names to files;
:mod:`moorage.fleet.local` writes them, the Logs API (:mod:`moorage.logs.service`)
reads them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ENDPOINTS_PREFIX = "/aws/sagemaker/Endpoints/"
COMPONENTS_PREFIX = "/aws/sagemaker/InferenceComponents/"

# SageMaker's name pattern (endpoints, variants, components): no dots, no slashes.
NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9])*"
_NAME = re.compile(NAME)
_INSTANCE = r"i-[0-9a-f]{17}"
_ENDPOINT_STREAM = re.compile(rf"({NAME})/({_INSTANCE})")
_COMPONENT_STREAM = re.compile(rf"({NAME})/({_INSTANCE})/({NAME})")
_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]*:[0-9]{12}:log-group:([^:]+)(?::\*)?")


class GroupKind:
    ENDPOINT = "Endpoints"
    COMPONENT = "InferenceComponents"


@dataclass(frozen=True, order=True)
class GroupName:
    """A log group moorage serves: an endpoint's or an inference component's."""

    kind: str
    resource: str

    @property
    def name(self) -> str:
        prefix = ENDPOINTS_PREFIX if self.kind == GroupKind.ENDPOINT else COMPONENTS_PREFIX
        return prefix + self.resource


def endpoint_group(endpoint: str) -> GroupName:
    return GroupName(GroupKind.ENDPOINT, endpoint)


def component_group(component: str) -> GroupName:
    return GroupName(GroupKind.COMPONENT, component)


def is_name(text: str) -> bool:
    """True if ``text`` follows SageMaker's resource-name pattern."""
    return _NAME.fullmatch(text) is not None


def parse_group(name: str) -> GroupName | None:
    """The group ``name`` denotes, or None if moorage never writes such a group."""
    for kind, prefix in (
        (GroupKind.ENDPOINT, ENDPOINTS_PREFIX),
        (GroupKind.COMPONENT, COMPONENTS_PREFIX),
    ):
        if name.startswith(prefix):
            resource = name[len(prefix) :]
            return GroupName(kind, resource) if _NAME.fullmatch(resource) else None
    return None


def group_from_identifier(identifier: str) -> str:
    """A ``logGroupIdentifier``'s group name: the name itself, or the name in its ARN."""
    match = _GROUP_ARN.fullmatch(identifier)
    return match[1] if match else identifier


def stream_parts(group: GroupName, stream: str) -> tuple[str, ...] | None:
    """``stream``'s parts (variant, instance[, copy]) if the group can hold it, else None.

    An endpoint's group also holds the streams of the containers of its
    multi-container models, ``{VariantName}/{instance-id}/{container}``, as
    SageMaker names an inference pipeline's.
    """
    if group.kind == GroupKind.ENDPOINT:
        match = _ENDPOINT_STREAM.fullmatch(stream) or _COMPONENT_STREAM.fullmatch(stream)
    else:
        match = _COMPONENT_STREAM.fullmatch(stream)
    return match.groups() if match else None


def instance_id(*identity: str) -> str:
    """An EC2-shaped instance id (``i-`` + 17 hex digits), the same for the same identity."""
    digest = hashlib.blake2s("\x00".join(identity).encode(), digest_size=9).hexdigest()
    return "i-" + digest[:17]


def variant_stream(endpoint: str, variant: str, group_id: str, index: int) -> str:
    """The stream of instance ``index`` of a variant's deployment group ``group_id``."""
    return f"{variant}/{instance_id(endpoint, variant, group_id, str(index))}"


def component_stream(endpoint: str, variant: str, instance: str, copy: str) -> str:
    """The stream of a component's copy ``copy`` (placement id) on placement ``instance``."""
    return f"{variant}/{instance_id(endpoint, variant, instance)}/{copy}"


def copy_stream(
    endpoint: str, variant: str, component: str | None, copy_id: str, named: str = ""
) -> str:
    """The stream a copy logs to: ``named`` (set by the deploy layer) or one of its own."""
    if named:
        return named
    own = f"{variant}/{instance_id(endpoint, variant, copy_id)}"
    return f"{own}/{copy_id}" if component else own


def copy_group(endpoint: str, component: str | None) -> GroupName:
    """The group a copy logs to: its component's, else its endpoint's."""
    return component_group(component) if component else endpoint_group(endpoint)


@dataclass(frozen=True)
class LogArns:
    """ARNs of log groups and streams in the server's region and account."""

    region: str
    account_id: str

    def group(self, group: str) -> str:
        """The ``logGroupArn`` (no trailing ``:*``)."""
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}"

    def group_arn(self, group: str) -> str:
        """The group's ``arn`` as DescribeLogGroups writes it (with ``:*``)."""
        return self.group(group) + ":*"

    def stream(self, group: str, stream: str) -> str:
        return f"{self.group(group)}:log-stream:{stream}"

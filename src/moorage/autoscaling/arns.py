"""Application Auto Scaling's ARNs, as AWS writes them.

- scalable target: ``arn:aws:application-autoscaling:{region}:{account}:scalable-target/{id}``,
  ``id`` being 36 letters and digits minted at registration;
- scaling policy: ``arn:aws:autoscaling:{region}:{account}:scalingPolicy:{uuid}:resource/
  sagemaker/{ResourceId}:policyName/{PolicyName}`` (one line);
- scheduled action: ``arn:aws:autoscaling:{region}:{account}:scheduledAction:{uuid}:resource/
  sagemaker/{ResourceId}:scheduledActionName/{Name}``.

Policy ARNs are what alarms name in ``AlarmActions``; :data:`POLICY_ARN_PREFIX`
is the prefix the alarm evaluator's action handler is registered for.
"""

from __future__ import annotations

import secrets
import string
import uuid

from moorage.arns import Partition
from moorage.autoscaling.resources import NAMESPACE

POLICY_ARN_PREFIX = "arn:aws:autoscaling:"
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_target_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(36))


def target_arn(partition: Partition, target_id: str) -> str:
    return (
        f"arn:aws:application-autoscaling:{partition.region}:{partition.account_id}:"
        f"scalable-target/{target_id}"
    )


def policy_arn(partition: Partition, resource_id: str, name: str) -> str:
    return (
        f"{POLICY_ARN_PREFIX}{partition.region}:{partition.account_id}:scalingPolicy:"
        f"{uuid.uuid4()}:resource/{NAMESPACE}/{resource_id}:policyName/{name}"
    )


def scheduled_action_arn(partition: Partition, resource_id: str, name: str) -> str:
    return (
        f"{POLICY_ARN_PREFIX}{partition.region}:{partition.account_id}:scheduledAction:"
        f"{uuid.uuid4()}:resource/{NAMESPACE}/{resource_id}:scheduledActionName/{name}"
    )


def service_linked_role(partition: Partition) -> str:
    """The role AWS shows for SageMaker targets registered without ``RoleARN``."""
    return (
        f"arn:aws:iam::{partition.account_id}:role/aws-service-role/"
        "sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )

"""The ARNs a route table names, in one account and Region (or CloudFormation's pseudo parameters).

A route gives its job queue and job definition by name, ``name:revision`` or ARN; IAM needs ARNs. Pure
string work, so the printed policy (real account and Region) and the template (``${AWS::AccountId}``
inside ``Fn::Sub``) are made by the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLOUDFORMATION_SCOPE",
    "ArnScope",
    "consumable_resource_arn",
    "job_definition_arns",
    "job_queue_arn",
    "sqs_queue_arn",
]


@dataclass(frozen=True)
class ArnScope:
    partition: str
    region: str
    account: str

    def batch(self, resource: str) -> str:
        return f"arn:{self.partition}:batch:{self.region}:{self.account}:{resource}"

    def logs(self, resource: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:{resource}"


CLOUDFORMATION_SCOPE = ArnScope("${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}")


def sqs_queue_arn(scope: ArnScope, queue: str) -> str:
    """An SQS queue given by ARN or URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``, or any
    endpoint's ``.../ACCOUNT/NAME``) as its ARN; a URL's account wins over the scope's."""
    if queue.startswith("arn:"):
        return queue
    account, name = queue.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:{scope.partition}:sqs:{scope.region}:{account}:{name}"


def job_queue_arn(scope: ArnScope, ref: str) -> str:
    return ref if ref.startswith("arn:") else scope.batch(f"job-queue/{ref}")


def consumable_resource_arn(scope: ArnScope, ref: str) -> str:
    """Service Authorization Reference, AWS Batch: ``consumable-resource/${ConsumableResourceName}``."""
    return ref if ref.startswith("arn:") else scope.batch(f"consumable-resource/{ref}")


def job_definition_arns(scope: ArnScope, ref: str) -> list[str]:
    """What SubmitJob is authorized against for ``ref``.

    A bare name is submitted as the latest active revision, and IAM sees it without a revision, so
    both ``NAME`` and ``NAME:*`` are needed; ``NAME:REV`` and ARNs are exact. (AWS Batch User Guide,
    "Restrict job submission by resource tags on job definition and job queue": the ``*:*`` pattern
    matches only submissions that include a revision.)
    """
    if ref.startswith("arn:"):
        return [ref]
    if ":" in ref:
        return [scope.batch(f"job-definition/{ref}")]
    return [scope.batch(f"job-definition/{ref}"), scope.batch(f"job-definition/{ref}:*")]

"""From a route table to AWS: the CloudFormation template (``provision``) and least-privilege IAM
(``iam-policy``). Pure: nothing here calls AWS; the CLI writes what these return."""

from batch_router.provision.arns import ArnScope
from batch_router.provision.iam_policy import (
    policy_document,
    routes_that_send_elsewhere,
    scheduler_statements,
)
from batch_router.provision.options import ProvisionOptions
from batch_router.provision.template import build_template

__all__ = [
    "ArnScope",
    "ProvisionOptions",
    "build_template",
    "policy_document",
    "routes_that_send_elsewhere",
    "scheduler_statements",
]

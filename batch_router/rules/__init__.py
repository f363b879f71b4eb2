"""What a SubmitJob request must satisfy before it is sent: AWS Batch's documented rules.

Pure: a request (a dict) and where it goes in, violations out. Each rule names the AWS documentation
page it comes from (docs/request-rules.md lists them). The plan applies them to every request it
builds, so the executor, ``batch-router plan`` and ``batch-router validate`` refuse the same requests.
"""

from collections.abc import Mapping
from typing import Any

from batch_router.rules import compute, fields  # noqa: F401 - importing registers their rules
from batch_router.rules.fields import MAX_PAYLOAD_BYTES
from batch_router.rules.rule import Context, Rule, Violation, registered

__all__ = ["MAX_PAYLOAD_BYTES", "Context", "Rule", "Violation", "check_request", "registered"]


def check_request(request: Mapping[str, Any], context: Context) -> list[Violation]:
    """Every rule the request breaks, in the rules' order."""
    return [violation for rule in registered() for violation in rule(request, context)]

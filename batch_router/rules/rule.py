"""A rule AWS Batch documents for SubmitJob, and what breaking it looks like.

Each rule is a small pure function over the final request (after every layer is merged and the task's
hints are written in), registered with the AWS documentation page it comes from. ``batch-router rules``
and docs/request-rules.md list them; a violation names the rule, so a reader can look it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from batch_router.config.compute_kinds import ALL_COMPUTE, Compute

__all__ = ["API", "GUIDE", "Check", "Context", "Rule", "Violation", "registered", "rule"]

# Where the rules come from. botocore's service model carries the same text as the API reference
# (the reference is generated from it), so each rule can be read in either.
API = "https://docs.aws.amazon.com/batch/latest/APIReference"
GUIDE = "https://docs.aws.amazon.com/batch/latest/userguide"

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Context:
    """What a rule may need to know about where the request goes, beyond the request itself.

    ``compute`` None: the job definition's compute is not known (the seed's implicit route before
    start-up read it, or a job definition the task names that nobody described), so only the rules
    every compute shares apply: never refuse what AWS might accept.
    """

    compute: Compute | None
    route: str
    fair_share: bool | None = None  # the route's queue has a fair-share policy; None: not said
    # The job definition's own VCPU / MEMORY, where known: what a request that leaves a side out gets.
    definition_vcpu: float | None = None
    definition_memory_mib: float | None = None


@dataclass(frozen=True)
class Violation:
    """One place the request breaks one rule: where, what is wrong, and how to fix it."""

    path: Path
    message: str
    fix: str
    rule: str = ""  # filled in by the registry: the rule's id


Check = Callable[[Mapping[str, Any], Context], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    source: str  # the AWS documentation page that states it
    applies_to: tuple[str, ...]  # compute types
    check: Check

    def __call__(self, request: Mapping[str, Any], context: Context) -> list[Violation]:
        if context.compute is None:
            if set(self.applies_to) != set(ALL_COMPUTE):
                return []
        elif context.compute not in self.applies_to:
            return []
        return [Violation(v.path, v.message, v.fix, rule=self.id) for v in self.check(request, context)]


_REGISTRY: list[Rule] = []


def rule(
    id: str, summary: str, *, source: str, applies_to: tuple[str, ...] = ALL_COMPUTE
) -> Callable[[Check], Check]:
    """Register ``check`` as rule ``id``; the registry keeps module order (that is the docs' order)."""

    def register(check: Check) -> Check:
        if any(r.id == id for r in _REGISTRY):
            raise ValueError(f"rule {id!r} is registered twice")
        _REGISTRY.append(Rule(id, summary, source, applies_to, check))
        return check

    return register


def registered() -> tuple[Rule, ...]:
    return tuple(_REGISTRY)

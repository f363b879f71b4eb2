"""Rules that depend on the route's compute: what Fargate, EC2 and EKS each take, and in which units.

The facts come from the API reference pages named in each rule (botocore's service model carries the
same text). Where a page leaves a case open, the rule's comment says so and lets the request through.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from batch_router.config.compute_kinds import kinds_where
from batch_router.config.model import MIN_MEMORY_MIB
from batch_router.rules import fargate
from batch_router.rules.request_parts import (
    ecs_containers,
    eks_containers,
    kubernetes_cpu,
    number,
    resource_requirements,
)
from batch_router.rules.rule import API, Context, Violation, rule

__all__: list[str] = []  # the rules register themselves; see rules.registered()

# Which kinds each group of rules applies to, read from the table of compute kinds.
_FARGATE = kinds_where(sizing="pairs")  # sold in vCPU/memory pairs, no hosts of its own to size
_NO_GPU = kinds_where(gpus=False)
_EC2 = kinds_where(sizing="whole")  # ECS containers on instances
_EKS = kinds_where(pods=True)
_ECS = kinds_where(pods=False)
_RESOURCES = f"{API}/API_ResourceRequirement.html"
_CONTAINER_OVERRIDES = f"{API}/API_ContainerOverrides.html"
_EKS_RESOURCES = f"{API}/API_EksContainerResourceRequirements.html"


# --- Fargate ----------------------------------------------------------------------------------------


@rule(
    "fargate-size",
    "a Fargate job's VCPU and MEMORY are one of the pairs Fargate sells",
    source=_RESOURCES,
    applies_to=_FARGATE,
)
def _fargate_size(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # Hints are rounded up to a legal pair by the builder; a raw resourceRequirements from a layer is
    # not (it is the author's explicit request, and changing it would change the bill), so it is
    # refused here with the pair that would hold it. A side left out comes from the job definition:
    # where its description was read (``context.definition_*``) the pair the job will really have is
    # checked, else only the side given.
    for path, container in ecs_containers(request):
        found = resource_requirements(container)
        vcpu_at, vcpu = found.get("VCPU", (None, None))
        memory_at, memory = found.get("MEMORY", (None, None))
        if vcpu is None and memory is None:
            continue
        v, m = number(vcpu), number(memory)
        index = vcpu_at if vcpu_at is not None else memory_at
        at = (*path, "resourceRequirements", index if index is not None else 0)
        if (vcpu is not None and v is None) or (memory is not None and m is None):
            yield Violation(at, f"VCPU {vcpu!r} / MEMORY {memory!r} is not a number", "give sizes as numbers")
            continue
        from_definition = ""
        if vcpu is None and context.definition_vcpu is not None:
            v, from_definition = context.definition_vcpu, " (VCPU from the job definition)"
        elif memory is None and context.definition_memory_mib is not None:
            m, from_definition = context.definition_memory_mib, " (MEMORY from the job definition)"
        if fargate.is_valid(v, m):
            continue
        yield Violation(at, f"{_size(v, m)}{from_definition} is not a Fargate size", _fargate_fix(v, m))


def _size(vcpu: float | None, memory: float | None) -> str:
    parts = [
        f"VCPU {vcpu:g}" if vcpu is not None else "",
        f"MEMORY {memory:g} MiB" if memory is not None else "",
    ]
    return " / ".join(p for p in parts if p)


def _fargate_fix(vcpu: float | None, memory: float | None) -> str:
    try:
        v, m = fargate.round_up(vcpu, math.ceil(memory) if memory is not None else None)
    except ValueError as exc:
        return f"{exc}; use an EC2 or EKS route"
    return (
        f"use VCPU {v:g} with MEMORY {m} (the smallest Fargate size that holds it), "
        "or the vcpu/memory_mib hints"
    )


@rule("fargate-no-gpu", "Fargate jobs have no GPUs", source=_RESOURCES, applies_to=_NO_GPU)
def _fargate_no_gpu(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    for path, container in ecs_containers(request):
        found = resource_requirements(container)
        if "GPU" in found:
            yield Violation(
                (*path, "resourceRequirements", found["GPU"][0]),
                f"asks for GPU {found['GPU'][1]!r} on Fargate",
                "route GPU tasks to an EC2 or EKS route",
            )


@rule(
    "fargate-no-legacy-size",
    "Fargate jobs take VCPU and MEMORY in resourceRequirements, never vcpus or memory",
    source=_CONTAINER_OVERRIDES,
    applies_to=_FARGATE,
)
def _fargate_no_legacy(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    overrides = request.get("containerOverrides") or {}
    for legacy, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        if overrides.get(legacy) is not None:
            yield Violation(
                ("containerOverrides", legacy),
                f"sets {legacy}, which Fargate does not support",
                f"use resourceRequirements type {kind}, or the vcpu/memory_mib hints",
            )


@rule(
    "no-instance-type",
    "instanceType is for multi-node parallel jobs only",
    source=_CONTAINER_OVERRIDES,
    applies_to=_ECS,
)
def _no_instance_type(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # "This parameter isn't applicable to single-node container jobs or jobs that run on Fargate
    # resources, and shouldn't be provided." batch-router submits single-node jobs only.
    if (request.get("containerOverrides") or {}).get("instanceType") is not None:
        yield Violation(
            ("containerOverrides", "instanceType"),
            "sets instanceType on a single-node job",
            "remove it; choose instance types in the route's compute environment",
        )


# --- EC2 --------------------------------------------------------------------------------------------


@rule(
    "ec2-size",
    "an EC2 job has at least 1 vCPU and 4 MiB of memory, and whole GPUs",
    source=_RESOURCES,
    applies_to=_EC2,
)
def _ec2_size(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # The page says "at least one vCPU" and "at least 4 MiB"; it does not say a VCPU or MEMORY value
    # must be whole, so fractions are let through (the builder writes whole vCPUs from hints anyway).
    for path, container in ecs_containers(request):
        for kind, (i, value) in resource_requirements(container).items():
            amount = number(value)
            at = (*path, "resourceRequirements", i, "value")
            if kind in ("VCPU", "MEMORY", "GPU") and amount is None:
                yield Violation(at, f"{kind} {value!r} is not a number", f"give {kind} as a number")
            elif kind == "VCPU" and amount is not None and amount < 1:
                yield Violation(at, f"VCPU {value} is below 1", "EC2 jobs take at least 1 vCPU")
            elif kind == "MEMORY" and amount is not None and amount < MIN_MEMORY_MIB:
                yield Violation(at, f"MEMORY {value} MiB is below 4 MiB", "give at least 4 (MiB)")
            elif kind == "GPU" and amount is not None and (amount < 0 or not amount.is_integer()):
                yield Violation(at, f"GPU {value} is not a whole number of GPUs", "give a whole number")


# --- EKS --------------------------------------------------------------------------------------------


@rule(
    "eks-no-ecs-fields",
    "EKS jobs take eksPropertiesOverride only: no containerOverrides, ecsPropertiesOverride or propagateTags",
    source=f"{API}/API_SubmitJob.html",
    applies_to=_EKS,
)
def _eks_no_ecs_fields(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    # SubmitJob: ecsPropertiesOverride "can only be specified for jobs that are run on Amazon ECS
    # resources"; propagateTags propagates to "the corresponding Amazon ECS task", and
    # RegisterJobDefinition says "If the job runs on Amazon EKS resources, then you must not specify
    # propagateTags".
    for key, fix in (
        ("containerOverrides", "use eksPropertiesOverride.podProperties.containers[] (or the hints)"),
        ("ecsPropertiesOverride", "use eksPropertiesOverride"),
        ("propagateTags", "remove it: tags are not propagated to EKS pods"),
    ):
        if request.get(key) is not None:
            yield Violation((key,), f"sets {key} on an EKS route", fix)


@rule(
    "ecs-no-eks-fields",
    "eksPropertiesOverride is for EKS routes only",
    source=f"{API}/API_SubmitJob.html",
    applies_to=_ECS,
)
def _ecs_no_eks_fields(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    if request.get("eksPropertiesOverride") is not None:
        yield Violation(
            ("eksPropertiesOverride",),
            f"sets eksPropertiesOverride on a {context.compute} route",
            "use containerOverrides, or route the task to an EKS route",
        )


_MEMORY_QUANTITY = re.compile(r"^(\d+)Mi$")


@rule(
    "eks-resources",
    "EKS cpu in steps of 0.25 (limits at least requests); memory in whole Mi and GPUs whole, "
    "each equal in limits and requests",
    source=_EKS_RESOURCES,
    applies_to=_EKS,
)
def _eks_resources(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    for path, container in eks_containers(request):
        resources = container.get("resources")
        if not isinstance(resources, Mapping):
            continue
        sides = {side: resources.get(side) for side in ("limits", "requests")}
        values: dict[tuple[str, str], float] = {}
        for side, quantities in sides.items():
            if not isinstance(quantities, Mapping):
                continue
            for name, raw in quantities.items():
                at = (*path, "resources", side, name)
                amount, problem = _eks_quantity(name, raw)
                if problem:
                    yield Violation(at, problem[0], problem[1])
                elif amount is not None:
                    values[(name, side)] = amount
        for name in ("memory", "nvidia.com/gpu"):
            limit, wanted = values.get((name, "limits")), values.get((name, "requests"))
            if limit is not None and wanted is not None and limit != wanted:
                yield Violation(
                    (*path, "resources", "requests", name),
                    f"{name} request {wanted:g} differs from its limit {limit:g}",
                    f"give {name} the same value in limits and requests (or in one of them only)",
                )
        limit, wanted = values.get(("cpu", "limits")), values.get(("cpu", "requests"))
        if limit is not None and wanted is not None and limit < wanted:
            yield Violation(
                (*path, "resources", "limits", "cpu"),
                f"cpu limit {limit:g} is below its request {wanted:g}",
                "make the cpu limit at least the request",
            )


def _eks_quantity(name: str, raw: Any) -> tuple[float | None, tuple[str, str] | None]:
    """(amount, None), or (None, (message, fix)) when the quantity breaks the page's rule."""
    text = str(raw)
    if name == "memory":
        match = _MEMORY_QUANTITY.match(text)
        if match is None:
            return None, (
                f"memory {raw!r} is not whole MiB",
                'write memory as whole MiB with "Mi", e.g. "4096Mi"',
            )
        mib = int(match.group(1))
        if mib < MIN_MEMORY_MIB:
            return None, (f"memory {raw!r} is below 4Mi", 'give at least "4Mi"')
        return float(mib), None
    if name == "cpu":
        # The page: "Values must be an even multiple of 0.25." Kubernetes' millicores ("500m") say the
        # same amount another way, so they are read too rather than refused.
        amount = kubernetes_cpu(text)
        if amount is None or amount <= 0:
            return None, (f"cpu {raw!r} is not a positive number", 'give cpu as a number, e.g. "2"')
        if not (amount * 4).is_integer():
            return None, (f"cpu {raw!r} is not a multiple of 0.25", f'use "{math.ceil(amount * 4) / 4:g}"')
        return amount, None
    if name == "nvidia.com/gpu":
        amount = number(text)
        if amount is None or amount < 0 or not amount.is_integer():
            return None, (f"nvidia.com/gpu {raw!r} is not a whole number", "give a whole number of GPUs")
        return amount, None
    return None, None  # other resources: the page names only these three; others are let through


@rule(
    "eks-namespace",
    "an EKS namespace is 1-63 lowercase letters, digits and '-', not 'default', not starting with 'kube'",
    source=f"{API}/API_EksMetadata.html",
    applies_to=_EKS,
)
def _eks_namespace(request: Mapping[str, Any], context: Context) -> Iterator[Violation]:
    metadata = ((request.get("eksPropertiesOverride") or {}).get("podProperties") or {}).get("metadata")
    if not isinstance(metadata, Mapping) or "namespace" not in metadata:
        return
    namespace = metadata["namespace"]
    at = ("eksPropertiesOverride", "podProperties", "metadata", "namespace")
    text = namespace if isinstance(namespace, str) else ""
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", text) or len(text) > 63:
        yield Violation(
            at, f"namespace {namespace!r} is not a Kubernetes namespace name", "use 1-63 of a-z, 0-9 and '-'"
        )
    elif text == "default" or text.startswith("kube"):
        yield Violation(at, f"namespace {namespace!r} is reserved", "use a namespace of your own")

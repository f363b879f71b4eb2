"""Adoption asks where a try's job would be without building its request: the answer is the request's."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from batch_router.config.model import SEED_POLICY, Route, RouteTable
from batch_router.errors import BatchRouterError
from batch_router.plan.model import TaskIdentity
from batch_router.plan.planner import Plan

TABLE = RouteTable(
    routes=(
        Route("fargate-small", "fargate", "q-fargate", "jd-fargate", max_vcpu=4, queues=("default",)),
        Route("spot", "ec2", "q-spot", "jd-gpu", max_gpu=8, retry_route="od"),
        Route("od", "ec2", "q-od", "jd-gpu", max_gpu=8),
        Route("eks-general", "eks", "q-eks", "jd-eks", submit_job_kwargs={"jobName": "eks-jobs"}),
    ),
    default_route="fargate-small",
    defaults={"jobName": "from-defaults"},
    source="routes.yaml",
)
SEED = RouteTable(
    routes=(Route("default", "ec2", "q-seed", "jd-seed", policy=SEED_POLICY),),
    default_route="default",
    implicit=True,
)

_queues = st.sampled_from(["q-fargate", "q-spot", "q-od", "q-eks", "q-seed", "other-queue"])
_exec_configs = st.fixed_dictionaries(
    {},
    optional={
        "route": st.sampled_from(["fargate-small", "spot", "od", "eks-general", "nope"]),
        "gpu": st.integers(0, 2),
        "vcpu": st.sampled_from([1, 2, 8]),
        "jobQueue": _queues,
        "jobName": st.sampled_from(["mine", "x_y", ""]),
        "jobDefinition": st.sampled_from(["jd-gpu", "jd-seed", "jd-other"]),
    },
)


def _built_place(
    plan: Plan, identity: TaskIdentity, config: Any, queue: str | None
) -> tuple[str, str] | None:
    try:
        built = plan.build(identity=identity, executor_config=config, queue=queue)
    except BatchRouterError:
        return None
    return str(built.kwargs["jobQueue"]), str(built.kwargs["jobName"])


@settings(max_examples=300, deadline=None)
@given(
    table=st.sampled_from([TABLE, SEED]),
    config=_exec_configs,
    queue=st.sampled_from([None, "default", "spot", "od"]),
    try_number=st.integers(1, 3),
    base=st.sampled_from([{}, {"jobQueue": "q-base"}, {"jobName": "base-name"}]),
)
def test_where_adoption_looks_first_is_where_the_built_request_sends_the_job(
    table: RouteTable, config: dict[str, Any], queue: str | None, try_number: int, base: dict[str, Any]
) -> None:
    plan = Plan(table, base_kwargs=base)
    identity = TaskIdentity("etl", "load", "run-1", try_number=try_number, try_id="try-1")

    built = _built_place(plan, identity, config, queue)

    if built is not None:
        assert plan.places(identity, config, queue)[0] == built


def test_a_try_whose_job_may_have_moved_to_the_retry_route_is_looked_for_there_too() -> None:
    identity = TaskIdentity("etl", "load", "run-1", try_number=1, try_id="try-1")

    places = Plan(TABLE).places(identity, {"route": "spot"}, None)

    assert [queue for queue, _ in places] == ["q-spot", "q-od"]

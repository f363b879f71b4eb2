from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.config.model import Hints, Route, RouteTable
from batch_router.errors import RoutingError
from batch_router.plan.router import choose_route, misfits, retry_choice

FARGATE = Route(
    "fargate-small",
    "fargate",
    "q-fargate",
    "jd-fargate",
    max_vcpu=4,
    max_memory_mib=30720,
    queues=("default", "light"),
)
EC2 = Route("ec2-large", "ec2", "q-ec2", "jd-ec2", max_vcpu=64, max_memory_mib=262144, queues=("heavy",))
GPU = Route("ec2-gpu", "ec2", "q-gpu", "jd-gpu", max_vcpu=96, max_memory_mib=786432, max_gpu=8)
EKS = Route("eks-general", "eks", "q-eks", "jd-eks", max_vcpu=16, max_memory_mib=65536)


def make_table(*routes: Route, default_route: str = "fargate-small") -> RouteTable:
    return RouteTable(
        routes=routes or (FARGATE, EC2, GPU, EKS), default_route=default_route, source="routes.yaml"
    )


def test_exec_config_route_is_used_whatever_the_queue_and_hints() -> None:
    choice = choose_route(make_table(), Hints(route="eks-general", vcpu=2), "heavy")
    assert choice.route is EKS
    assert choice.reason == "exec_config route='eks-general'"


def test_unknown_route_name_is_an_error_listing_every_route() -> None:
    with pytest.raises(RoutingError) as info:
        choose_route(make_table(), Hints(route="gpu"), None)
    message = str(info.value)
    assert "route='gpu'" in message
    for route in (FARGATE, EC2, GPU, EKS):
        assert route.name in message


def test_hint_too_large_for_explicit_route_is_an_error() -> None:
    with pytest.raises(RoutingError) as info:
        choose_route(make_table(), Hints(route="fargate-small", vcpu=8), None)
    assert "route 'fargate-small' allows at most 4 vCPU, task asks for 8" in str(info.value)


def test_compute_hint_that_contradicts_explicit_route_is_an_error() -> None:
    with pytest.raises(RoutingError, match="runs on ec2, task asks for compute=eks"):
        choose_route(make_table(), Hints(route="ec2-large", compute="eks"), None)


def test_gpu_hint_on_explicit_fargate_route_is_an_error() -> None:
    with pytest.raises(RoutingError, match="GPU never runs on Fargate"):
        choose_route(make_table(), Hints(route="fargate-small", gpu=1), None)


def test_queue_named_like_a_route_selects_it() -> None:
    choice = choose_route(make_table(), Hints(), "eks-general")
    assert choice.route is EKS
    assert "Airflow queue 'eks-general'" in choice.reason


def test_queue_listed_by_a_route_selects_it() -> None:
    choice = choose_route(make_table(), Hints(vcpu=1), "light")
    assert choice.route is FARGATE
    assert choice.reason == "Airflow queue 'light' is listed by route 'fargate-small'"


def test_queue_selects_its_route_over_an_earlier_route_that_fits_the_hints() -> None:
    assert choose_route(make_table(), Hints(vcpu=2), "heavy").route is EC2


def test_hints_too_large_for_the_queue_route_are_an_error() -> None:
    with pytest.raises(RoutingError, match="route 'fargate-small' allows at most 4 vCPU, task asks for 8"):
        choose_route(make_table(), Hints(vcpu=8), "light")


def test_default_queue_selects_its_route_for_a_task_without_hints() -> None:
    table = make_table(EC2, FARGATE, default_route="ec2-large")
    choice = choose_route(table, Hints(), "default")
    assert choice.route is FARGATE
    assert "is listed by route 'fargate-small'" in choice.reason


def test_default_queue_does_not_override_resource_hints() -> None:
    choice = choose_route(make_table(), Hints(gpu=1), "default")
    assert choice.route is GPU


def test_default_queue_name_comes_from_the_caller() -> None:
    table = make_table(FARGATE, EC2, GPU, default_route="ec2-large")
    assert choose_route(table, Hints(gpu=1), "light", default_queue="light").route is GPU
    with pytest.raises(RoutingError):
        choose_route(table, Hints(gpu=1), "light")


def test_unknown_queue_falls_back_to_default_route_and_says_so() -> None:
    choice = choose_route(make_table(default_route="ec2-large"), Hints(), "nowhere")
    assert choice.route is EC2
    assert "Airflow queue 'nowhere' names no route" in choice.reason


def test_unknown_queue_with_hints_is_routed_by_the_hints() -> None:
    assert choose_route(make_table(), Hints(compute="eks"), "nowhere").route is EKS


def test_compute_hint_passes_over_routes_of_other_kinds() -> None:
    choice = choose_route(make_table(), Hints(compute="ec2"), None)
    assert choice.route is EC2
    assert "fargate-small: runs on fargate, task asks for compute=ec2" in choice.reason


def test_gpu_hint_never_routes_to_fargate() -> None:
    gpu_fargate = dataclasses.replace(FARGATE, max_gpu=4)  # a cap Fargate cannot honour
    choice = choose_route(make_table(gpu_fargate, GPU), Hints(gpu=1), None)
    assert choice.route is GPU
    assert "fargate-small: GPU never runs on Fargate" in choice.reason


def test_first_fitting_route_in_file_order_wins() -> None:
    assert choose_route(make_table(EC2, EKS), Hints(vcpu=2), None).route is EC2
    assert choose_route(make_table(EKS, EC2), Hints(vcpu=2), None).route is EKS


def test_route_cap_of_none_is_unlimited() -> None:
    unlimited = Route("big", "ec2", "q", "jd")
    assert (
        choose_route(make_table(EC2, unlimited), Hints(vcpu=1000, memory_mib=10**7), None).route is unlimited
    )


def test_reason_names_the_hints_and_every_route_passed_over() -> None:
    choice = choose_route(make_table(), Hints(compute="ec2", gpu=4), None)
    assert choice.route is GPU
    assert choice.reason.startswith("first route in file order that fits compute=ec2, gpu=4 (passed over: ")
    assert (
        "fargate-small: runs on fargate, task asks for compute=ec2 and GPU never runs on Fargate"
        in choice.reason
    )
    assert "ec2-large: allows at most 0 GPU, task asks for 4" in choice.reason
    assert "eks-general" not in choice.reason


def test_fargate_route_is_passed_over_when_its_rounded_size_exceeds_the_cap() -> None:
    # 4 vCPU fits fargate-small's vCPU cap, but Fargate runs 4 vCPU with at least 8192 MiB.
    small = dataclasses.replace(FARGATE, max_memory_mib=4096)
    reasons = misfits(small, Hints(vcpu=4))
    assert reasons == [
        "allows at most 4096 MiB memory, task needs 8192 MiB "
        "(Fargate's smallest size holding vcpu=4 is 4 vCPU / 8192 MiB)"
    ]


def test_fargate_route_without_caps_is_passed_over_beyond_fargate_limits() -> None:
    uncapped = Route("fargate-any", "fargate", "q", "jd")
    choice = choose_route(make_table(uncapped, EC2), Hints(vcpu=64), None)
    assert choice.route is EC2
    assert "fargate-any: Fargate runs at most 32 vCPU, task asks for 64" in choice.reason


def test_task_without_hints_goes_to_default_route() -> None:
    choice = choose_route(make_table(default_route="eks-general"), Hints(), None)
    assert choice.route is EKS
    assert choice.reason == "no hints: default_route 'eks-general'"


def test_timeout_alone_is_not_a_resource_hint() -> None:
    assert choose_route(make_table(default_route="ec2-large"), Hints(timeout_seconds=600), None).route is EC2


def test_no_fitting_route_is_an_error_with_every_route_and_why() -> None:
    with pytest.raises(RoutingError) as info:
        choose_route(make_table(), Hints(vcpu=128, gpu=2), None)
    error = info.value
    assert "no route in routes.yaml can hold vcpu=128, gpu=2" in error.message
    assert [p.route for p in error.passed_over] == ["fargate-small", "ec2-large", "ec2-gpu", "eks-general"]
    by_route = {p.route: p.reason for p in error.passed_over}
    assert "GPU never runs on Fargate" in by_route["fargate-small"]
    assert "allows at most 0 GPU, task asks for 2" in by_route["ec2-large"]
    assert by_route["ec2-gpu"] == "allows at most 96 vCPU, task asks for 128"
    assert "eks-general: " in str(error)


def test_default_route_missing_from_table_is_a_routing_error() -> None:
    with pytest.raises(RoutingError, match="default_route 'gone'"):
        choose_route(make_table(default_route="gone"), Hints(), None)


hints_strategy = st.builds(
    Hints,
    compute=st.none() | st.sampled_from(["fargate", "ec2", "eks"]),
    vcpu=st.none() | st.floats(min_value=0.1, max_value=200, allow_nan=False),
    memory_mib=st.none() | st.integers(min_value=1, max_value=10**6),
    gpu=st.none() | st.integers(min_value=0, max_value=10),
)


@given(hints=hints_strategy, queue=st.none() | st.sampled_from(["default", "light", "heavy", "other"]))
def test_chosen_route_always_holds_the_hints_and_a_refusal_names_every_route(
    hints: Hints, queue: str | None
) -> None:
    table = make_table()
    try:
        choice = choose_route(table, hints, queue)
    except RoutingError as error:
        if error.passed_over:
            assert [p.route for p in error.passed_over] == [r.name for r in table.routes]
            assert all(p.reason for p in error.passed_over)
        else:
            assert queue in ("light", "heavy")  # only an explicitly chosen route is refused alone
    else:
        assert misfits(choice.route, hints) == []
        if choice.reason.startswith("first route"):
            earlier = table.routes[: table.routes.index(choice.route)]
            assert all(misfits(route, hints) for route in earlier)


# ---------------------------------------------------------------- retry_route

SPOT = dataclasses.replace(EC2, name="ec2-spot", job_queue="q-spot", retry_route="ec2-large")


def test_a_first_try_stays_on_its_spot_route() -> None:
    table = make_table(SPOT, EC2, default_route="ec2-spot")
    choice = retry_choice(table, choose_route(table, Hints(), None), Hints(), try_number=1)
    assert choice.route is SPOT


def test_a_retry_goes_to_the_routes_retry_route() -> None:
    table = make_table(SPOT, EC2, default_route="ec2-spot")
    choice = retry_choice(table, choose_route(table, Hints(), None), Hints(), try_number=2)
    assert choice.route is EC2
    assert choice.reason.endswith("try 2: retry_route 'ec2-large' of route 'ec2-spot'")


def test_a_first_try_whose_job_lost_its_capacity_goes_to_the_retry_route() -> None:
    table = make_table(SPOT, EC2, default_route="ec2-spot")
    choice = retry_choice(
        table, choose_route(table, Hints(), None), Hints(), try_number=1, lost_capacity=True
    )
    assert choice.route is EC2
    assert "its last job lost its capacity" in choice.reason


def test_a_retry_route_that_cannot_hold_the_task_keeps_the_task_where_it_was() -> None:
    small = dataclasses.replace(FARGATE, name="small-od", max_vcpu=1)
    spot = dataclasses.replace(FARGATE, retry_route="small-od")
    table = make_table(spot, small)
    hints = Hints(vcpu=2)
    choice = retry_choice(table, choose_route(table, hints, None), hints, try_number=3)
    assert choice.route is spot
    assert "but retry_route 'small-od' allows at most 1 vCPU" in choice.reason


@given(try_number=st.integers(min_value=1, max_value=50), lost=st.booleans())
def test_a_route_without_retry_route_is_never_left(try_number: int, lost: bool) -> None:
    table = make_table()
    choice = choose_route(table, Hints(), None)
    assert retry_choice(table, choice, Hints(), try_number=try_number, lost_capacity=lost) == choice

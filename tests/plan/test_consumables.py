"""Consumable resources (licences, connections) in the route table: routed, sent, capped, held to policy."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_job_builder import EC2, build, problem_paths

from batch_router.config.model import ConsumableUse, Hints, Policy, Route, RouteTable
from batch_router.errors import ExecConfigError, RoutingError
from batch_router.plan.router import choose_route

LICENSED = dataclasses.replace(
    EC2,
    name="licensed",
    consumable_resources={"licence-x": ConsumableUse(quantity=1, max=4), "db-conn": ConsumableUse(0, 2)},
)
PLAIN = dataclasses.replace(EC2, name="plain", job_queue="q-plain")
ARN = "arn:aws:batch:us-east-1:123456789012:consumable-resource/licence-x"


def _list(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(kwargs.get("consumableResourcePropertiesOverride", {}).get("consumableResourceList", []))


def _asks(**quantities: int) -> Hints:
    return Hints(consumable_resources=tuple(sorted((k.replace("_", "-"), v) for k, v in quantities.items())))


def test_a_routes_jobs_use_its_consumable_resources_at_their_default_quantity() -> None:
    assert _list(build(LICENSED).kwargs) == [{"consumableResource": "licence-x", "quantity": 1}]


def test_a_task_may_ask_for_another_quantity_within_the_routes_max() -> None:
    kwargs = build(LICENSED, hints=_asks(licence_x=3, db_conn=2)).kwargs

    assert _list(kwargs) == [
        {"consumableResource": "licence-x", "quantity": 3},
        {"consumableResource": "db-conn", "quantity": 2},
    ]


def test_asking_for_none_of_a_resource_leaves_it_out() -> None:
    assert "consumableResourcePropertiesOverride" not in build(LICENSED, hints=_asks(licence_x=0)).kwargs


def test_a_route_without_consumable_resources_sends_none() -> None:
    assert "consumableResourcePropertiesOverride" not in build(PLAIN).kwargs


def test_the_router_passes_over_routes_that_do_not_offer_what_a_task_asks_for() -> None:
    table = RouteTable(routes=(PLAIN, LICENSED), default_route="plain")

    choice = choose_route(table, _asks(licence_x=2), None)

    assert (
        choice.route.name == "licensed"
        and "plain: offers no consumable resource 'licence-x'" in choice.reason
    )


def test_more_than_a_routes_max_is_a_routing_error_naming_the_max() -> None:
    table = RouteTable(routes=(LICENSED,), default_route="licensed")

    with pytest.raises(RoutingError, match="allows at most 4 of 'licence-x', task asks for 5"):
        choose_route(table, Hints(route="licensed", consumable_resources=(("licence-x", 5),)), None)


def test_a_resource_named_by_arn_and_by_name_is_the_same_resource() -> None:
    by_arn = dataclasses.replace(LICENSED, consumable_resources={ARN: ConsumableUse(1, 4)})

    assert _list(build(by_arn, hints=_asks(licence_x=2)).kwargs) == [
        {"consumableResource": ARN, "quantity": 2}
    ]


def test_on_a_route_table_executor_config_cannot_set_consumable_resources_itself() -> None:
    raw = {"consumableResourceList": [{"consumableResource": "licence-x", "quantity": 100}]}

    with pytest.raises(ExecConfigError) as error:
        build(LICENSED, exec_kwargs={"consumableResourcePropertiesOverride": raw})

    assert "consumableResourcePropertiesOverride" in problem_paths(error.value)  # not an allowed key
    assert "consumableResourcePropertiesOverride.consumableResourceList" in problem_paths(
        error.value
    )  # pinned


def test_where_a_policy_lets_executor_config_set_them_the_routes_max_still_holds() -> None:
    policy = Policy(executor_config_keys=frozenset({"consumableResourcePropertiesOverride"}))
    route = dataclasses.replace(
        LICENSED, consumable_resources={"licence-x": ConsumableUse(0, 4)}, policy=policy
    )
    raw = {"consumableResourceList": [{"consumableResource": "licence-x", "quantity": 100}]}

    with pytest.raises(ExecConfigError) as error:
        build(route, exec_kwargs={"consumableResourcePropertiesOverride": raw})

    assert "consumableResourcePropertiesOverride.consumableResourceList[0].quantity" in problem_paths(
        error.value
    )


def test_without_a_route_table_executor_config_sets_them_as_the_reference_lets_it() -> None:
    seed = Route("default", "ec2", "q", "jd", max_gpu=None, policy=Policy(open=True))
    raw = {"consumableResourceList": [{"consumableResource": "licence-x", "quantity": 3}]}

    kwargs = build(seed, exec_kwargs={"consumableResourcePropertiesOverride": raw}).kwargs

    assert _list(kwargs) == raw["consumableResourceList"]


@given(asked=st.integers(0, 8), default=st.integers(0, 4))
def test_what_is_sent_is_never_above_the_routes_max(asked: int, default: int) -> None:
    route = dataclasses.replace(LICENSED, consumable_resources={"licence-x": ConsumableUse(default, 4)})
    table = RouteTable(routes=(route,), default_route="licensed")
    hints = _asks(licence_x=asked)
    try:
        choose_route(table, hints, None)
    except RoutingError:
        assert asked > 4
        return

    sent = _list(build(route, hints=hints).kwargs)

    assert all(entry["quantity"] <= 4 for entry in sent)
    assert sent == ([{"consumableResource": "licence-x", "quantity": asked}] if asked else [])


def test_the_schemas_allow_as_many_consumable_resources_as_aws_allows_a_job() -> None:
    import json
    from pathlib import Path

    from batch_router.config.model import MAX_CONSUMABLE_RESOURCES

    schemas = Path(__file__).resolve().parents[2] / "schemas"
    routes = json.loads((schemas / "routes.schema.json").read_text())
    hints = json.loads((schemas / "exec_config.schema.json").read_text())

    assert (
        routes["$defs"]["route"]["properties"]["consumable_resources"]["maxProperties"]
        == MAX_CONSUMABLE_RESOURCES
    )
    assert hints["properties"]["consumable_resources"]["maxProperties"] == MAX_CONSUMABLE_RESOURCES

"""Reading a route file stays within what a scheduler can afford at start-up: a bounded file size, YAML
aliases that cannot expand without end, and look-ups that do not walk the table."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_router.config import route_file
from batch_router.config.model import Route, RouteTable
from batch_router.config.routes import read_route_file
from batch_router.errors import ConfigError

ROUTE = "{name: small, compute: fargate, job_queue: q, job_definition: d}"


def _laughs(levels: int) -> str:
    """The "billion laughs" in a route's queues: each level is ten aliases of the one before."""
    lines = ["version: 1", "routes:", "  - name: small", "    compute: fargate", "    job_queue: q"]
    lines += ["    job_definition: d", '    submit_job_kwargs: {tags: {a: &a0 "lol"}}']
    lines += [f"    x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"    queues: *a{levels - 1}"]) + "\n"


@pytest.mark.timeout(60)
def test_yaml_aliases_that_expand_past_the_budget_stop_start_up_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(_laughs(9))  # a few hundred bytes that stand for a billion nodes

    with pytest.raises(ConfigError) as raised:
        read_route_file(path)

    assert str(path) in str(raised.value)
    assert "YAML aliases expand to" in str(raised.value)


def test_anchors_shared_by_routes_still_load(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            routes:
              - &fargate {name: small, compute: fargate, job_queue: q-small, job_definition: airflow-worker,
                          max_vcpu: 4}
              - {<<: *fargate, name: light, job_queue: q-light}
            """
        )
    )

    table = read_route_file(path)

    assert [(r.name, r.job_definition, r.max_vcpu) for r in table.routes] == [
        ("small", "airflow-worker", 4),
        ("light", "airflow-worker", 4),
    ]


def test_a_route_file_larger_than_the_cap_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(route_file, "MAX_ROUTE_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "routes.yaml"
    path.write_text(f"version: 1\nroutes: [{ROUTE}]\n# " + "x" * (1024 * 1024) + "\n")

    with pytest.raises(ConfigError) as raised:
        read_route_file(path)

    assert "larger than 1 MiB" in str(raised.value) and str(path) in str(raised.value)


class _CountedRoutes(tuple[Route, ...]):
    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def test_finding_a_route_by_name_or_queue_does_not_walk_the_table() -> None:
    routes = _CountedRoutes(
        Route(name=f"r{i}", compute="fargate", job_queue=f"q{i}", job_definition="d", queues=(f"aq{i}",))
        for i in range(1000)
    )
    table = RouteTable(routes=routes, default_route="r0")
    table.get("r0"), table.for_queue("aq0")  # the indexes are made once
    before = _CountedRoutes.walks

    found = [table.get(f"r{i}") for i in range(1000)] + [table.for_queue(f"aq{i}") for i in range(1000)]

    assert None not in found
    assert _CountedRoutes.walks == before


names = st.sampled_from(["a", "b", "c", "d", "default"])


@given(
    st.lists(st.tuples(names, st.lists(names, max_size=3)), min_size=1, max_size=6),
    names,
)
def test_the_route_a_queue_selects_is_the_first_a_scan_in_file_order_finds(
    spec: list[tuple[str, list[str]]], queue: str
) -> None:
    routes = tuple(
        Route(name=name, compute="fargate", job_queue="q", job_definition="d", queues=tuple(queues))
        for name, queues in spec
    )
    scan = next(
        (
            (route, "names" if route.name == queue else "is listed by")
            for route in routes
            if route.name == queue or queue in route.queues
        ),
        None,
    )

    assert RouteTable(routes=routes, default_route=routes[0].name).for_queue(queue) == scan

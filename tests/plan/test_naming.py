from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from batch_router.plan.model import TaskIdentity
from batch_router.plan.naming import MAX_JOB_NAME, identity_hash, job_name, job_tags

LEGAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
# AWS's tag value rule: letters, numbers, spaces (any script) and + - = . _ : / @
LEGAL_TAG_VALUE = re.compile(r"[\w +\-=.:/@]*")

identities = st.builds(
    TaskIdentity,
    dag_id=st.text(min_size=1, max_size=300),
    task_id=st.text(min_size=1, max_size=300),
    run_id=st.text(max_size=300),
    try_number=st.integers(min_value=0, max_value=10_000),
    map_index=st.integers(min_value=-1, max_value=100_000),
    try_id=st.none() | st.text(max_size=300),
)


def simple(**changes: object) -> TaskIdentity:
    fields: dict[str, object] = {
        "dag_id": "my_dag",
        "task_id": "extract",
        "run_id": "manual__1",
        "try_number": 1,
    }
    fields.update(changes)
    return TaskIdentity(**fields)  # type: ignore[arg-type]


@given(prefix=st.text(max_size=200), identity=identities)
def test_job_names_are_always_legal_for_batch(prefix: str, identity: TaskIdentity) -> None:
    name = job_name(prefix, identity)
    assert LEGAL_NAME.fullmatch(name), name
    assert len(name) <= MAX_JOB_NAME


@given(prefix=st.text(max_size=200), identity=identities)
def test_job_names_always_end_with_the_try_and_the_hash(prefix: str, identity: TaskIdentity) -> None:
    assert job_name(prefix, identity).split("-")[-2:] == [str(identity.try_number), identity_hash(identity)]


@given(identity=identities)
def test_job_names_are_deterministic(identity: TaskIdentity) -> None:
    copy = TaskIdentity(**{f: getattr(identity, f) for f in identity.__dataclass_fields__})
    assert job_name("airflow-task", identity) == job_name("airflow-task", copy)


@given(identity=identities, other_try=st.integers(min_value=0, max_value=10_000))
def test_job_names_differ_across_tries(identity: TaskIdentity, other_try: int) -> None:
    other = TaskIdentity(identity.dag_id, identity.task_id, identity.run_id, other_try, identity.map_index)
    assume(other_try != identity.try_number)
    assert job_name("p", identity) != job_name("p", other)


@given(identity=identities, other_run=st.text(max_size=300))
def test_job_names_differ_across_dag_runs_even_when_ids_are_cut(
    identity: TaskIdentity, other_run: str
) -> None:
    other = TaskIdentity(
        identity.dag_id, identity.task_id, other_run, identity.try_number, identity.map_index
    )
    assume(other_run != identity.run_id)
    assert job_name("p", identity) != job_name("p", other)


@given(identity=identities, other_index=st.integers(min_value=-1, max_value=100_000))
def test_job_names_differ_across_mapped_task_instances(identity: TaskIdentity, other_index: int) -> None:
    other = TaskIdentity(identity.dag_id, identity.task_id, identity.run_id, identity.try_number, other_index)
    assume(other_index != identity.map_index)
    assert job_name("p", identity) != job_name("p", other)


def test_job_name_reads_prefix_dag_task_try_and_hash() -> None:
    identity = simple()
    assert job_name("airflow-task", identity) == f"airflow-task-my_dag-extract-1-{identity_hash(identity)}"


def test_job_name_includes_the_map_index_of_a_mapped_task() -> None:
    identity = simple(map_index=7, try_number=2)
    assert job_name("airflow-task", identity) == f"airflow-task-my_dag-extract-7-2-{identity_hash(identity)}"


def test_the_first_mapped_task_instance_has_map_index_zero_in_its_name() -> None:
    identity = simple(map_index=0)
    assert job_name("p", identity) == f"p-my_dag-extract-0-1-{identity_hash(identity)}"


def test_illegal_characters_become_dashes() -> None:
    identity = simple(dag_id="sales.daily v2", task_id="load→s3")
    assert job_name("team/etl", identity).startswith("team-etl-sales-daily-v2-load-s3-1-")


def test_long_ids_are_cut_but_prefix_try_and_hash_are_kept() -> None:
    identity = simple(dag_id="d" * 200, task_id="t" * 200, try_number=3)
    name = job_name("airflow-task", identity)
    assert len(name) == MAX_JOB_NAME
    assert name.startswith("airflow-task-ddd")
    assert "-ttt" in name
    assert name.endswith(f"-3-{identity_hash(identity)}")


def test_a_short_task_id_leaves_its_room_to_a_long_dag_id() -> None:
    name = job_name("p", simple(dag_id="d" * 200, task_id="t"))
    assert "-t-1-" in name
    assert len(name) == MAX_JOB_NAME


def test_identity_hash_is_eight_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{8}", identity_hash(simple()))


def test_tags_name_the_task_try_and_the_route() -> None:
    identity = simple(run_id="scheduled__2024-01-01T00:00:00+00:00", map_index=3, try_number=2)
    assert job_tags(identity, "ec2-large") == {
        "airflow:dag_id": "my_dag",
        "airflow:task_id": "extract",
        "airflow:run_id": "scheduled__2024-01-01T00:00:00+00:00",
        "airflow:map_index": "3",
        "airflow:try_number": "2",
        "batch-router:route": "ec2-large",
    }


def test_tags_carry_the_try_id_when_the_scheduler_gave_one() -> None:
    assert job_tags(simple(try_id="0195-abc"), "r")["batch-router:try-id"] == "0195-abc"


@given(identity=identities)
def test_tag_values_always_follow_aws_tag_rules(identity: TaskIdentity) -> None:
    for key, value in job_tags(identity, "route").items():
        assert 1 <= len(key) <= 128
        assert len(value) <= 256
        assert LEGAL_TAG_VALUE.fullmatch(value), (key, value)


def test_characters_not_allowed_in_tags_are_replaced() -> None:
    tags = job_tags(simple(dag_id="a*b", task_id="ünïcode ok"), "r")
    assert tags["airflow:dag_id"] == "a-b"
    assert tags["airflow:task_id"] == "ünïcode ok"


def test_tag_values_longer_than_aws_allows_are_cut() -> None:
    assert job_tags(simple(run_id="r" * 300), "r")["airflow:run_id"] == "r" * 256

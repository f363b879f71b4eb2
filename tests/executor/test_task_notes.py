"""The executor's notes reach the try's log pane: Airflow's own log reader finds them beside the try's log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.utils.helpers import log_filename_template_renderer
from airflow.utils.log.file_task_handler import FileTaskHandler
from batch_world import BatchWorld
from executor_kit import RecordingLog, drive, make_workload, queue_all

from batch_router.executor import BatchRouterExecutor
from batch_router.executor.task_notes import NOTES_SUFFIX, TaskNotes
from batch_router.plan.model import TaskIdentity

IDENTITY = TaskIdentity("etl", "load", "manual__2026-12-06T00:00:00+00:00", try_number=2, map_index=-1)


def _notes(base: Path) -> TaskNotes:
    return TaskNotes(base, log_filename_template_renderer(), RecordingLog())


def test_a_note_is_a_json_log_line_beside_the_trys_log_file_as_airflow_names_it(tmp_path: Path) -> None:
    _notes(tmp_path).note(IDENTITY, "waits in RUNNABLE: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")

    path = tmp_path / f"dag_id=etl/run_id={IDENTITY.run_id}/task_id=load/attempt=2.log{NOTES_SUFFIX}"
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["event"] == "waits in RUNNABLE: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    assert json.loads(line)["level"] == "warning"


def test_a_mapped_tasks_note_goes_to_its_map_index(tmp_path: Path) -> None:
    mapped = TaskIdentity("etl", "load", "r", try_number=1, map_index=3)

    assert _notes(tmp_path).path_of(mapped).parent.name == "map_index=3"


def test_airflows_log_reader_finds_the_note_for_the_trys_log_pane(tmp_path: Path) -> None:
    notes = _notes(tmp_path)
    notes.note(IDENTITY, "batch-router says why")
    handler = FileTaskHandler(base_log_folder=str(tmp_path))
    log_file = Path(str(notes.path_of(IDENTITY))[: -len(NOTES_SUFFIX)])

    sources, streams = handler._read_from_local(log_file)

    assert sources and any("batch-router says why" in str(line) for stream in streams for line in stream)


def test_a_note_that_cannot_be_written_is_dropped_without_raising(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    _notes(blocker).note(IDENTITY, "lost")  # the base "folder" is a file: nothing can be made under it

    assert not list(tmp_path.rglob(f"*{NOTES_SUFFIX}"))


def test_a_try_the_executor_refuses_has_its_reason_in_its_log_pane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_route: str
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path))
    executor = BatchRouterExecutor()
    executor.start()
    try:
        workload = make_workload(task_id="refused", executor_config={"containerOverride": {}})
        queue_all(executor, workload)
        drive(executor, lambda: list(tmp_path.rglob(f"*{NOTES_SUFFIX}")))
    finally:
        executor.end()

    (notes,) = tmp_path.rglob(f"attempt=1.log{NOTES_SUFFIX}")
    (line,) = [json.loads(text) for text in notes.read_text().splitlines()]
    assert "containerOverride" in line["event"] and line["level"] == "error"
    assert "task_id=refused" in str(notes)


def test_a_try_resubmitted_after_its_spot_host_was_reclaimed_says_so_in_its_log_pane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: BatchWorld, default_route: str
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path))
    executor = BatchRouterExecutor()
    executor.start()
    try:
        workload = make_workload(task_id="reclaimed")
        queue_all(executor, workload)
        first = drive(executor, lambda: world.job_ids())[0]
        world.fail(first, "Host EC2 (instance i-0abc) terminated.", started=False)
        drive(executor, lambda: list(tmp_path.rglob(f"*{NOTES_SUFFIX}")))
    finally:
        executor.end()

    (notes,) = tmp_path.rglob(f"attempt=1.log{NOTES_SUFFIX}")
    (line,) = [json.loads(text) for text in notes.read_text().splitlines()]
    assert line["event"].startswith("batch-router: resubmitting: ")
    assert "Host EC2 (instance i-0abc) terminated" in line["event"]

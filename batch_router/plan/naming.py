"""Job names and tags for one task try.

The name is what a person sees in the Batch console, so it reads ``<prefix>-<dag>-<task>-<try>-<hash>``;
the hash makes it unique per task try across DAG runs even when long ids are cut. The name is
deterministic because after a SubmitJob whose answer was lost the executor looks the job up by name.
Tags carry the full, uncut identity for searching and cost allocation.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping

from batch_router.plan.model import TaskIdentity

MAX_JOB_NAME = 128
MAX_TAG_VALUE = 256
_ILLEGAL_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_TAG_PUNCTUATION = frozenset(" +-=._:/@")


def identity_hash(identity: TaskIdentity) -> str:
    """First 8 hex digits of sha256 over the fields that name one task try."""
    key = json.dumps(
        [identity.dag_id, identity.task_id, identity.run_id, identity.map_index, identity.try_number],
        ensure_ascii=True,
    )
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:8]


def job_name(prefix: str, identity: TaskIdentity) -> str:
    """A legal Batch job name: 1-128 of ``[A-Za-z0-9_-]``, starting with a letter or digit."""
    tail = [str(identity.map_index)] if identity.map_index >= 0 else []
    tail += [str(identity.try_number), identity_hash(identity)]
    tail_text = _clean_name_part("-".join(tail))
    head = _clean_name_part(prefix)
    dag = _clean_name_part(identity.dag_id)
    task = _clean_name_part(identity.task_id)
    # Room left for dag and task once prefix, tail and the three separators around them are placed.
    budget = MAX_JOB_NAME - len(tail_text) - len(head) - 3
    if budget < 0:  # only an absurdly long prefix gets here: cut it too, never the try or the hash
        head = head[: max(0, len(head) + budget)]
        budget = 0
    dag, task = _cut_pair(dag, task, budget)
    name = "-".join(part for part in (head, dag, task, tail_text) if part)
    return name.lstrip("-_")[:MAX_JOB_NAME]


def _clean_name_part(text: str) -> str:
    return _ILLEGAL_NAME_CHARS.sub("-", text)


def _cut_pair(first: str, second: str, budget: int) -> tuple[str, str]:
    """Cut two parts to ``budget`` characters together, sharing it evenly when both are long."""
    if len(first) + len(second) <= budget:
        return first, second
    first_len = min(len(first), max(budget // 2, budget - len(second)))
    return first[:first_len], second[: budget - first_len]


# The tags every job carries. The executor finds a try's job by TRY_ID_TAG (adoption, lost submits) and
# the demo reads the route and the task back from them.
ROUTE_TAG = "batch-router:route"
TRY_ID_TAG = "batch-router:try-id"
# Which deployment (scheduler fleet) made the job: the scheduler's IAM policy lets it stop only jobs with
# its own value (docs/provisioning.md), and the executor takes no job of another deployment as its own.
DEPLOYMENT_TAG = "batch-router:deployment"
JOB_QUEUE_TAG, JOB_DEFINITION_TAG = "batch-router:job-queue", "batch-router:job-definition"
DAG_ID_TAG, TASK_ID_TAG, RUN_ID_TAG = "airflow:dag_id", "airflow:task_id", "airflow:run_id"
MAP_INDEX_TAG, TRY_NUMBER_TAG = "airflow:map_index", "airflow:try_number"


MAX_TAGS = 50  # SubmitJob tags: "Map Entries: Maximum number of 50 items" (API_SubmitJob)
# The executor's own tags in the order it needs them: the try id finds a lost or adopted job, the route
# says where it went; the rest are for people and the bill.
_TAG_PRIORITY = (
    DEPLOYMENT_TAG, TRY_ID_TAG, ROUTE_TAG, DAG_ID_TAG, TASK_ID_TAG, RUN_ID_TAG, MAP_INDEX_TAG, TRY_NUMBER_TAG,
    JOB_QUEUE_TAG, JOB_DEFINITION_TAG,
)  # fmt: skip


def with_job_tags(tags: Mapping[str, str], ours: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """``tags`` (the layers') with the executor's added, as many of them as SubmitJob's 50 leave room
    for: a request the layers made acceptable is never refused for the executor's own tags. Returns the
    tags and the names of those left out."""
    merged = {**tags, **ours}
    if len(merged) <= MAX_TAGS or len(tags) >= MAX_TAGS:
        return merged, []
    room = MAX_TAGS - len(tags)
    ranked = sorted((key for key in ours if key not in tags), key=_TAG_PRIORITY.index)
    kept, dropped = ranked[:room], ranked[room:]
    return {**tags, **{key: ours[key] for key in kept}}, dropped


def job_tags(
    identity: TaskIdentity,
    route: str,
    *,
    job_queue: str | None = None,
    job_definition: str | None = None,
    deployment: str | None = None,
) -> dict[str, str]:
    """Tags naming the task try, the route and where the job was sent, so jobs can be found and billed
    per DAG and task, and a job sent elsewhere than its route (where the policy allows) shows it."""
    tags = {
        DAG_ID_TAG: identity.dag_id,
        TASK_ID_TAG: identity.task_id,
        RUN_ID_TAG: identity.run_id,
        MAP_INDEX_TAG: str(identity.map_index),
        TRY_NUMBER_TAG: str(identity.try_number),
        ROUTE_TAG: route,
    }
    if identity.try_id is not None:
        tags[TRY_ID_TAG] = identity.try_id
    if job_queue is not None:
        tags[JOB_QUEUE_TAG] = job_queue
    if job_definition is not None:
        tags[JOB_DEFINITION_TAG] = job_definition
    if deployment is not None:
        tags[DEPLOYMENT_TAG] = deployment
    return {key: tag_value(value) for key, value in tags.items()}


def tag_value(text: str) -> str:
    """``text`` within AWS's tag value rules: at most 256 letters, digits, spaces and ``+-=._:/@``."""
    return "".join(ch if _tag_char_ok(ch) else "-" for ch in text)[:MAX_TAG_VALUE]


def _tag_char_ok(ch: str) -> bool:
    return ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N")

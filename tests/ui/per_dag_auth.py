"""An Airflow auth manager for the tests: the simple auth manager, with one user limited to some DAGs.

``viewer`` reads every DAG (the simple auth manager's VIEWER role); ``limited`` is a viewer who may read
only the DAGs in ``LIMITED_TO``, as a team's role would in a real deployment (FAB or Keycloak).
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

LIMITED_TO = frozenset({"team_a_dag"})
KNOWN_DAGS = frozenset({"team_a_dag", "team_b_dag"})


class PerDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if user.username == "limited" and details is not None and details.id not in LIMITED_TO:
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )

    def get_authorized_dag_ids(self, *, user: Any, method: Any = "GET", session: Any = None) -> set[str]:
        # The base class reads DagModel; the tests' DAGs are named here instead of parsed.
        return set(self.filter_authorized_dag_ids(dag_ids=set(KNOWN_DAGS), user=user, method=method))

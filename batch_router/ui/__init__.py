"""The "Batch routes" page in Airflow's UI (docs/ui.md): a plugin served by Airflow's API server.

Read-only: it shows what the executor configured (the route table) and what AWS Batch says about the
jobs batch-router made; it imports nothing of the executor and changes nothing anywhere.
"""

__all__: list[str] = []

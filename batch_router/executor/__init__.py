"""The Airflow executor: ``AIRFLOW__CORE__EXECUTOR=batch_router.executor.BatchRouterExecutor``.

Submitting, polling and adoption each live in their own module and share their state through one
``Hub``; this package is the only one that imports Airflow's executor classes.
"""

from batch_router.executor.core import BatchRouterExecutor

__all__ = ["BatchRouterExecutor"]

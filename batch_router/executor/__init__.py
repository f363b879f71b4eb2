"""The executor: ``AIRFLOW__CORE__EXECUTOR=batch_router.executor.BatchRouterExecutor``."""

from batch_router.executor.core import BatchRouterExecutor

__all__ = ["BatchRouterExecutor"]

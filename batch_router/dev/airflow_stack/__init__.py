"""A real Airflow 3.3 (API server, DAG processor, scheduler) as child processes, for the demo and e2e."""

from batch_router.dev.airflow_stack.api import AirflowApi, ApiError
from batch_router.dev.airflow_stack.components import Component, stop_components
from batch_router.dev.airflow_stack.env import airflow_env, parse_exports
from batch_router.dev.airflow_stack.errors import StackError
from batch_router.dev.airflow_stack.ports import check_port_free, free_port
from batch_router.dev.airflow_stack.stack import AIRFLOW_COMPONENTS, AirflowStack

__all__ = [
    "AIRFLOW_COMPONENTS",
    "AirflowApi",
    "AirflowStack",
    "ApiError",
    "Component",
    "StackError",
    "airflow_env",
    "check_port_free",
    "free_port",
    "parse_exports",
    "stop_components",
]

"""Tools beside the pipeline, for development, the demo and the tests: a local AWS Batch, a real Airflow
stack, the demo and the schema generator. Nothing on the executor's path imports them."""

__all__ = ["airflow_stack", "demo", "local", "processes", "schemagen"]

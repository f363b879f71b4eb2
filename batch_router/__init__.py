"""batch-router: run Airflow tasks as AWS Batch jobs, routed per task."""

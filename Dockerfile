# The worker image: what every AWS Batch job of batch-router runs.
#
# The executor sends each job the Airflow 3 worker entry point as its command
#   python -m airflow.sdk.execution_time.execute_workload --json-string '<workload>'
# so the image needs Airflow (the same version as the scheduler), your DAGs, and batch-router itself
# (DAG files import batch_router.templates).
#
#   docker build -t airflow-batch-worker --build-arg AIRFLOW_VERSION=3.3.2 .
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root pyproject.toml README.md /opt/batch-router/
COPY --chown=airflow:root batch_router /opt/batch-router/batch_router
COPY --chown=airflow:root schemas /opt/batch-router/schemas
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/batch-router

# DAGs: bake them in (below) or load them from a DAG bundle (git, S3) configured in airflow.cfg.
COPY --chown=airflow:root dags/ /opt/airflow/dags/

# The executor marks the container; Airflow reads the API server URL and auth settings from the
# environment you give the job definition (AIRFLOW__CORE__EXECUTION_API_SERVER_URL, ...).
ENV AIRFLOW_IS_EXECUTOR_CONTAINER=true

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD []

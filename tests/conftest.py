"""Test-wide isolation: every test session gets its own AIRFLOW_HOME and fake AWS credentials.

This runs before any test module imports Airflow or boto3, so no test can read the developer's real
airflow.cfg or touch a real AWS account.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_home = tempfile.mkdtemp(prefix="batch-router-tests-")
atexit.register(shutil.rmtree, _home, ignore_errors=True)  # each test process removes its own home
os.environ["AIRFLOW_HOME"] = _home
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
# Settings of the executor under test come from each test, never from the outer shell.
for _name in list(os.environ):
    if _name.startswith("AIRFLOW__AWS_BATCH_EXECUTOR__"):
        del os.environ[_name]

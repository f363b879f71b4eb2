"""The built wheel, installed into a fresh virtualenv, works without the source tree: package data
(schemas, templates, the example routes and DAG), the console script and the Airflow provider entry point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is not installed: run `python3 run.py test`, which installs the pinned uv")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A virtualenv with only the built wheel and its pinned dependencies; commands run outside ROOT."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "UV_PROJECT"))}
    env |= {"UV_PYTHON_DOWNLOADS": "never", "AIRFLOW_HOME": str(work / "home")}
    uv = _uv()
    steps = [
        [uv, "build", "--quiet", "--wheel", "--sdist", "-o", str(work / "dist"), str(ROOT)],
        [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
         "--project", str(ROOT), "-o", str(work / "constraints.txt")],
        [uv, "venv", "--quiet", "--python", sys.executable, str(work / "venv")],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(step, check=True, env=env, cwd=work, timeout=300)
    (wheel,) = (work / "dist").glob("*.whl")
    python = work / "venv" / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "-c", str(work / "constraints.txt")]
    subprocess.run([*install, str(wheel)], check=True, env=env, cwd=work, timeout=600)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(work / "venv" / "bin" / argv[0]), *argv[1:]]
        return subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=180)

    return run


def test_the_sdist_and_the_wheel_are_built_under_the_provider_name(installed: Any) -> None:
    done = installed(
        "python", "-c", "import importlib.metadata as m; print(m.version('airflow-provider-batch-router'))"
    )

    assert done.stdout.strip() == "0.1.0"


def test_the_installed_cli_reports_its_version(installed: Any) -> None:
    done = installed("batch-router", "--version")

    assert done.stdout.strip() == "batch-router 0.1.0 (airflow-provider-batch-router)"


def test_the_installed_wheel_validates_its_bundled_example_routes(installed: Any) -> None:
    where = installed("python", "-c", "from batch_router import examples; print(examples.ROUTES_FILE)")
    routes = where.stdout.strip()

    done = installed("batch-router", "validate", routes)

    assert "site-packages" in routes
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid (4 routes" in done.stdout


def test_the_wheel_carries_its_schemas_templates_example_dag_and_type_marker(installed: Any) -> None:
    script = (
        "import batch_router, pathlib; from batch_router import examples, templates;"
        "from batch_router.config.schemas import schema_dir;"
        "root = pathlib.Path(batch_router.__file__).parent;"
        "print((root / 'py.typed').exists(), sorted(p.name for p in schema_dir().glob('*.json'))[:1],"
        " any(examples.DAGS_DIR.glob('*.py')), bool(templates.gpu(1)))"
    )
    done = installed("python", "-c", script)

    assert done.stdout.strip() == "True ['exec_config.schema.json'] True True", done.stderr[-2000:]


def test_the_wheel_carries_the_ui_page_and_airflow_finds_its_plugin(installed: Any) -> None:
    script = (
        "import pathlib; from batch_router.ui.app import STATIC;"
        "print(sorted(p.name for p in STATIC.iterdir()))"
    )
    files = installed("python", "-c", script)
    plugins = installed("airflow", "plugins", "-o", "json")

    assert "plugin.js" in files.stdout and "index.html" in files.stdout, files.stderr[-2000:]
    assert "'page-" in files.stdout  # the chunk both entry points import
    assert '"name": "batch_router"' in plugins.stdout, plugins.stderr[-2000:]


def test_airflow_in_that_virtualenv_lists_the_provider_and_its_config_section(installed: Any) -> None:
    providers = installed("airflow", "providers", "list")
    config = installed("airflow", "config", "list", "--section", "aws_batch_executor")

    assert "airflow-provider-batch-router" in providers.stdout
    assert config.returncode == 0 and "[aws_batch_executor]" in config.stdout

"""The example route table and DAGs that ``batch-router plan`` and ``batch-router demo`` use."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
ROUTES_FILE = EXAMPLES_DIR / "routes.yaml"
DAGS_DIR = EXAMPLES_DIR / "dags"

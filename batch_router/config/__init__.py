"""What the platform team configured: executor settings, the route table, a task's exec_config, schemas.

Pure: reading and validating inputs, never calling AWS. Every failure is a ``ConfigError`` (start-up
stops) or an ``ExecConfigError`` (one task fails) that names the source, the JSON path and the fix.
"""

from batch_router.config.exec_config import parse_exec_config
from batch_router.config.model import COMPUTE_TYPES, HINT_KEYS, Compute, ExecConfig, Hints, Route, RouteTable
from batch_router.config.routes import parse_route_table, read_route_file, route_table_from_settings
from batch_router.config.schemas import load_schema, schema_dir, templates_dir
from batch_router.config.settings import SECTION, ConfSource, ExecutorSettings, MappingConf, load_settings

__all__ = [
    "COMPUTE_TYPES",
    "HINT_KEYS",
    "SECTION",
    "Compute",
    "ConfSource",
    "ExecConfig",
    "ExecutorSettings",
    "Hints",
    "MappingConf",
    "Route",
    "RouteTable",
    "load_schema",
    "load_settings",
    "parse_exec_config",
    "parse_route_table",
    "read_route_file",
    "route_table_from_settings",
    "schema_dir",
    "templates_dir",
]

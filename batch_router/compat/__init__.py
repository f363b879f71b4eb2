"""Every reach into a dependency's private parts, one module per dependency (as the amazon provider's
``version_compat.py`` does for Airflow): each names the version it was written against, falls back to
the public behaviour where it can, and has a test that fails when the dependency changes what it reads."""

"""The one version number of the API: every service's OpenAPI `info.version` (and pyproject's,
checked by `tests/test_openapi.py`). Raise it with every change to the published documents."""

VERSION = "0.1.0"

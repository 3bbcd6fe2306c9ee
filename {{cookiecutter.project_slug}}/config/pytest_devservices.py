"""pytest plugin of the test suite: the embedded servers start before pytest-django reads the settings.

Loaded with `-p config.pytest_devservices` (addopts in pyproject.toml, whose `pythonpath = ["."]` makes
`config` importable that early). pytest-django imports the settings in its `pytest_load_initial_conftests`
hook; the wrapper below runs before every implementation of that hook, so that config.devservices.environ_ensure
has put DATABASE_URL / REDIS_URL into the environment by then when neither the environment nor `.env` sets
them. Importing the settings themselves starts nothing.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from config.devservices import EmbeddedServiceError, environ_ensure

SETTINGS_MODULE_VARIABLE = "DJANGO_SETTINGS_MODULE"


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    """Start the embedded servers the run's settings need, then let pytest-django and the rest load.

    Nothing starts for `--help` / `--version`, which run no test. Raises pytest.UsageError (pytest prints
    the message, no traceback) when a server cannot start.
    """
    options = parser.parse_known_args(args)
    if not (options.help or options.version):
        settings_module = _settings_module(early_config, options)
        if settings_module:
            # pytest-django sets the same value next, before it imports the settings.
            os.environ[SETTINGS_MODULE_VARIABLE] = settings_module
        try:
            environ_ensure()
        except EmbeddedServiceError as exc:
            raise pytest.UsageError(f"[devservices] {exc}") from exc
    yield


def _settings_module(config: pytest.Config, options: object) -> str:
    """The settings module pytest-django will load, found as it finds it: its `--ds` option, else
    DJANGO_SETTINGS_MODULE, else the ini value; "" when none (or pytest-django is not loaded)."""
    option = getattr(options, "ds", None)
    if option:
        return str(option)
    if SETTINGS_MODULE_VARIABLE in os.environ:
        return os.environ[SETTINGS_MODULE_VARIABLE]
    try:
        return str(config.getini(SETTINGS_MODULE_VARIABLE) or "")
    except ValueError:  # the ini key is pytest-django's: unknown without it
        return ""

"""pytest configuration: the Hypothesis settings profiles of the property suite.

Three profiles are registered from properties/stateful.py (deadlines off in
all of them): ``ci`` (derandomized, no example database, fast), ``default``
and ``thorough``. When the environment variable CI is set the ``ci`` profile
is the default, otherwise ``default``; ``pytest --hypothesis-profile NAME``
chooses another.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from properties.campaign import register_profiles

register_profiles()
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config: pytest.Config) -> None:
    # Whichever of this hook and Hypothesis' own runs first, --hypothesis-profile wins.
    chosen = config.getoption("--hypothesis-profile", default=None)
    if chosen:
        settings.load_profile(chosen)

"""Load tests: Locust journeys of the three roles, named profiles, and the runner's reports.

Locust and matplotlib are tools, not the service: they come with the ``tools`` extra, which
the production image leaves out.
"""

from __future__ import annotations

from importlib.util import find_spec

TOOLS = ("locust", "matplotlib")
INSTALL_TOOLS = "pip install 'ftw[tools]' (in a checkout, `make install` has them)"


def missing_tools() -> list[str]:
    """The load-test tools this environment lacks."""
    return [name for name in TOOLS if find_spec(name) is None]

"""Hypothesis profiles: "ci" (the default) and "nightly" (10,000+ sequences per stateful test).

Pick one with `pytest --hypothesis-profile nightly` or `LIQBOT_HYPOTHESIS_PROFILE=nightly`.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", settings.get_profile("default"))
settings.register_profile("nightly", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("LIQBOT_HYPOTHESIS_PROFILE", "ci"))

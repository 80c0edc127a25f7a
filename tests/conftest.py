"""Suite-wide test settings.

Hypothesis: one profile for every run, with no wall-clock limits. The suite runs on shared CI
machines (2 cores, several jobs), where a slow example is load, not a bug; a deadline or the
``too_slow`` health check would make results depend on the machine instead of the code.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("cdiscmap", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cdiscmap")

"""Checks of SDTM/ADaM frames against the standards: schema rules become findings."""

from cdiscmap.checks.schema import RULES, build_schema, check_dataset

__all__ = ["RULES", "build_schema", "check_dataset"]

"""Checks of SDTM/ADaM frames against the standards: schema rules become findings.

The schema names are loaded on first use (PEP 562): importing a lighter module of this package
(``checks.read`` for ``cdiscmap recist``) must not import pandera with ``checks.schema``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdiscmap.checks.schema import RULES, build_schema, check_dataset

__all__ = ["RULES", "build_schema", "check_dataset"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cdiscmap.checks import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

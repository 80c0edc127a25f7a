"""The timestamp written into output headers: fixed per study, so outputs are reproducible."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cdiscmap.errors import SpecError
from cdiscmap.spec.yamlload import load_yaml

DEFAULT = datetime(2000, 1, 1)


def output_timestamp(study_dir: Path) -> datetime:
    """study.yaml ``output_timestamp`` (ISO 8601) or 2000-01-01 when the study has none."""
    path = study_dir / "study.yaml"
    if not path.exists():
        return DEFAULT
    located = load_yaml(path)
    value = (located.data or {}).get("output_timestamp") if isinstance(located.data, dict) \
        else None
    if value is None:
        return DEFAULT
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise SpecError("output_timestamp is not an ISO 8601 date-time", located.file,
                        located.line_of(("output_timestamp",)), "output_timestamp") from None

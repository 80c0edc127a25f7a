"""Excel workbooks as deterministic bytes: one helper for every .xlsx cdiscmap writes.

openpyxl (already a dependency for reading raw .xlsx exports; xlsxwriter would be a new one)
stamps a workbook with the clock twice: the document's created/modified dates in
``docProps/core.xml`` and the date of every zip member. Reports (compare.xlsx, findings.xlsx)
and generated raw exports must be byte-identical for the same inputs, so both are fixed here.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = ["FIXED_TIME", "ZIP_TIME", "workbook_bytes"]

FIXED_TIME = datetime(2000, 1, 1)              # document dates of a report: never the clock
ZIP_TIME = (1980, 1, 1, 0, 0, 0)               # the earliest date a zip member can carry
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*")


def workbook_bytes(book: Workbook, *, creator: str, when: datetime = FIXED_TIME) -> bytes:
    """The .xlsx bytes of ``book`` with document dates ``when`` and zip members dated 1980.

    openpyxl overwrites ``modified`` with the clock while saving, so docProps/core.xml is
    rewritten after the save as well as set before it.
    """
    book.properties.creator = creator
    book.properties.created = book.properties.modified = when
    buffer = io.BytesIO()
    book.save(buffer)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_DATES.sub(lambda m: m.group(1) + stamp, content)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_TIME), content,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()

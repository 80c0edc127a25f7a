"""Emitters: turn finished SDTM/ADaM frames into submission files (XPT v5, Define-XML, reports)."""

"""cdiscmap: raw eCRF exports of oncology trials to CDISC SDTM/ADaM datasets.

Study knowledge lives in YAML (``mappings/<study>/``), standard metadata in ``specs/``;
this package only holds the machinery that executes them.
"""

__version__ = "0.1.0"

"""Many studies at once: ``cdiscmap batch`` (one study's pipeline per Dask task) and
``cdiscmap pool`` (pooled ADaM across studies, ISS/ISE style). See docs/scaling.md.

Dask is an optional extra (``pip install 'cdiscmap[scale]'``): nothing here imports it at
module level, so the base install and ``cdiscmap --help`` never need it.
"""

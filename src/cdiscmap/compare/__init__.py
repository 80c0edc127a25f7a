"""``cdiscmap compare``: PROC COMPARE / diffdf for submission datasets and packages.

:mod:`~cdiscmap.compare.read` reads any dataset format into comparable arrays,
:mod:`~cdiscmap.compare.diff` compares (records by key, variables, values),
:mod:`~cdiscmap.compare.define` compares define.xml files and
:mod:`~cdiscmap.compare.report` writes the console summary, HTML, JSON, JUnit and Excel reports.
"""

"""The run pipeline: ingest → SDTM → RECIST cross-check → checks → ADaM → emit, as steps.

``run.run_study`` is the main job (``cdiscmap run``); ``adam_step`` derives ADaM from any SDTM
(``cdiscmap adam``); ``define_step`` rebuilds define.xml for a written package
(``cdiscmap define``); ``recist_step`` runs the independent RECIST 1.1 engine on TU/TR.
"""

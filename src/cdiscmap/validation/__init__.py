"""``cdiscmap validate``: check any folder of SDTM/ADaM datasets, with or without define.xml.

``folder.validate_folder`` reads and checks; ``read`` decodes XPT v5 and Dataset-JSON files;
``report`` writes findings.json, findings.html and JUnit XML. The rules themselves live in
``cdiscmap.checks``.
"""

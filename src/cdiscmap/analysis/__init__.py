"""ADaM → the trial's results: tables, figures and two-stage decisions (``cdiscmap report``).

One module per concept: ``settings`` (analysis.yaml), ``groups`` (populations and groups from
ADSL), ``response`` (rates, Clopper–Pearson), ``simon`` (two-stage designs and decisions),
``survival`` (Kaplan–Meier, log-rank, Cox), ``demographics``, ``figures`` (deterministic
matplotlib), ``tables`` (table model → CSV/RTF/HTML) and ``report`` (assembly, traceability).
Reads ADaM only; the study's choices come from ``mappings/<study>/analysis.yaml``.
"""

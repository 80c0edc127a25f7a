"""EORTC QLQ-C30 version 3.0 questionnaires of the GIST stop/continue study (qlq_c30.csv).

One row per completed questionnaire: at baseline (before randomization) and every 12 weeks after
it while the subject is followed, items Q01-Q28 answered 1-4 (not at all .. very much) and Q29-Q30
answered 1-7 (very poor .. excellent), written as the codes the paper form carries. The answers
follow one latent well-being per subject with visit-to-visit noise. Random numbers come from
their own stream (``[seed, STREAM]``), so adding the form leaves the older forms byte-identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdiscmap.synth import messiness as mess

STREAM = 1030
ITEMS = 30
EVERY_DAYS = 84          # every 12 weeks from randomization


def qlq_c30_form(seed: int, subject: np.ndarray, randdt: np.ndarray, consent_day: np.ndarray,
                 last_day: np.ndarray) -> pd.DataFrame:
    """The questionnaire rows: baseline, then ``Week 12``, ``Week 24``... up to ``last_day``
    (days from randomization, the subject's latest recorded day)."""
    rng = np.random.default_rng([seed, STREAM])
    n = len(subject)
    count = np.floor(np.maximum(last_day, 0) / EVERY_DAYS).astype(np.int64)
    subj = np.r_[np.arange(n), np.repeat(np.arange(n), count)]
    k = np.r_[np.zeros(n, dtype=np.int64),
              pd.Series(np.repeat(np.arange(n), count)).groupby(
                  np.repeat(np.arange(n), count)).cumcount().to_numpy() + 1]
    order = np.lexsort((k, subj))
    subj, k = subj[order], k[order]
    baseline = -np.floor(rng.random(n) * (np.minimum(-consent_day, 7) + 1))
    day = np.where(k == 0, baseline[subj], k * EVERY_DAYS)
    # latent burden per subject (0 = none) and per visit; item answers around it
    burden = rng.beta(2.0, 5.0, n)[subj] + rng.normal(0, 0.08, len(subj))
    noise = rng.normal(0, 0.6, (len(subj), ITEMS))
    symptom = np.clip(np.rint(1 + 3 * burden[:, None] + noise[:, :28]), 1, 4)
    global_health = np.clip(np.rint(7 - 5 * burden[:, None] + noise[:, 28:]), 1, 7)
    answers = np.concatenate([symptom, global_health], axis=1).astype(np.int64)
    frame = pd.DataFrame({
        "SUBJECT": subject[subj],
        "VISIT": np.where(k == 0, "Baseline", np.char.add("Week ", (12 * k).astype(str))),
        "QSDAT": mess.format_dmy(randdt[subj] + day),
    })
    for item in range(ITEMS):
        frame[f"Q{item + 1:02d}"] = answers[:, item].astype(str)
    return frame


__all__ = ["EVERY_DAYS", "ITEMS", "STREAM", "qlq_c30_form"]

"""Best overall response (BOR) from timepoint overall responses, with and without confirmation.

Pure, vectorised functions on a frame of *analysed* overall responses: one row per subject and
assessment date (the caller has already kept the worst response of a day, dropped assessments
before the reference date, after the first PD and, when asked, after new anti-cancer therapy).

Input columns: ``USUBJID``, ``ADT`` (datetime64), ``AVALC`` (CR, PR, SD, NON-CR/NON-PD, PD, NE)
and ``REFDT`` (datetime64, the subject's reference date for the SD minimum duration).
Output frames name the chosen record by its input index label in ``source_index`` so callers can
carry lineage (SRCSEQ) without this module knowing about it.

Rules (RECIST 1.1 §4.4.3 and table 3, confirmation §4.6.1, as admiralonco implements them):

- SD / NON-CR/NON-PD count only at or after ``REFDT + sd_min_days`` (RECIST 1.1 §4.4.3: SD must
  meet a protocol minimum duration from baseline); earlier ones are NE. Without confirmation, CR
  and PR count whenever they occur.
- A CR is confirmed by a later CR at least ``min_gap_days`` after it; every assessment in between
  (and the confirming one) is CR or NE, with at most ``max_ne`` NE.
- A PR is confirmed by a later CR or PR at least ``min_gap_days`` after it; assessments in between
  are CR, PR or NE (one SD allowed when ``accept_sd``), at most ``max_ne`` NE, and no PR after a CR
  in that period (RECIST 1.1 §4.4.3 table 3 note: a PR after CR is not a confirmation).
  The confirming assessment is the FIRST qualifying one (admiralonco ``first_cond_upper``).
- Confirmed BOR: confirmed CR → CR; confirmed PR → PR; otherwise CR/PR/SD at or after the SD
  window → SD; NON-CR/NON-PD after the window → NON-CR/NON-PD; PD → PD; anything else → NE.
  Unconfirmed CR/PR before the SD window are NE (admiralonco's ``derive_param_confirmed_bor``;
  its newer ``bor_ne`` event leaves them out, which makes such subjects MISSING — we keep NE).
- Ties: the best category wins; among equals the earliest date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import numpy as np
import pandas as pd

from cdiscmap.sdtm.vectorize import memo_scope

#: Best first; ``MISSING`` is for subjects without any analysed assessment (admiralonco).
RESPONSE_ORDER: tuple[str, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING")
RESPONSES = frozenset(RESPONSE_ORDER[:-1])
_RANK = {value: rank for rank, value in enumerate(RESPONSE_ORDER)}
_OFFSET = 1_000_000        # days added so that dates before 1970 stay positive in the keys
_STRIDE = 10_000_000       # key = subject code * stride + day: subjects never overlap

RESULT_COLUMNS = ["USUBJID", "AVALC", "ADT", "source_index"]

_T = TypeVar("_T")
_MEMO: ContextVar[dict[tuple, tuple[pd.DataFrame, object]] | None] = \
    ContextVar("best_response_memo", default=None)


@contextmanager
def shared_preparation() -> Iterator[None]:
    """Inside the block, one frame of overall responses is sorted and prepared once, and its
    confirmation flags found once per setting, for all the functions asked about it (ADRS asks
    BOR, confirmed BOR, first responses, ... of the same analysed responses: eight sorts of
    one frame otherwise). The frames must not be changed in place inside the block; what the
    functions return is the callers' own, as without the block."""
    with memo_scope(_MEMO):
        yield


def _remembered(key: tuple, ovr: pd.DataFrame, make: Callable[[], _T]) -> _T:
    """``make()``, once per ``key`` of the frame ``ovr`` inside :func:`shared_preparation`
    (the frame is held with the value, so its id names it for as long as the block lasts)."""
    memo = _MEMO.get()
    if memo is None:
        return make()
    entry = memo.get((id(ovr), *key))
    if entry is not None and entry[0] is ovr:
        return entry[1]      # type: ignore[return-value]
    value = make()
    memo[(id(ovr), *key)] = (ovr, value)
    return value


def _prepare(ovr: pd.DataFrame) -> pd.DataFrame:
    """Sorted copy with integer days and subject codes; refuse responses outside the set.
    The functions below only read it (it is shared inside :func:`shared_preparation`)."""
    return _remembered(("prepare",), ovr, lambda: _prepared(ovr))


def _prepared(ovr: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("USUBJID", "ADT", "AVALC") if c not in ovr.columns]
    if missing:
        raise KeyError(f"overall responses need columns {missing}")
    frame = ovr.loc[ovr["ADT"].notna() & ovr["AVALC"].notna()]
    bad = ~frame["AVALC"].isin(RESPONSES)
    if bad.any():
        raise ValueError(f"responses outside {sorted(RESPONSES)}: "
                         f"{sorted(frame.loc[bad, 'AVALC'].astype(str).unique())}")
    frame = frame.assign(_idx=frame.index)
    frame = frame.sort_values(["USUBJID", "ADT"], kind="mergesort").reset_index(drop=True)
    frame["_day"] = frame["ADT"].to_numpy(dtype="datetime64[D]").astype("int64") + _OFFSET
    frame["_subj"] = pd.factorize(frame["USUBJID"], sort=True)[0]
    return frame


def _sd_window_ok(frame: pd.DataFrame, sd_min_days: int) -> np.ndarray:
    """True where the assessment is at least ``sd_min_days`` after the reference date."""
    if "REFDT" not in frame.columns:
        raise KeyError("overall responses need REFDT for the SD minimum duration")
    limit = frame["REFDT"] + pd.to_timedelta(sd_min_days, unit="D")
    return (frame["ADT"] >= limit).fillna(False).to_numpy(dtype=bool)


def _best_per_subject(frame: pd.DataFrame, category: np.ndarray) -> pd.DataFrame:
    """Per subject the record of best category (rank), earliest date among equals."""
    ranked = pd.DataFrame({"USUBJID": frame["USUBJID"], "ADT": frame["ADT"],
                           "_rank": category, "source_index": frame["_idx"]})
    ranked = ranked.sort_values(["USUBJID", "_rank", "ADT"], kind="mergesort")
    best = ranked.drop_duplicates("USUBJID", keep="first")
    out = pd.DataFrame({
        "USUBJID": best["USUBJID"].array,
        "AVALC": pd.array(np.asarray(RESPONSE_ORDER, dtype=object)[best["_rank"].to_numpy()],
                          dtype="string"),
        "ADT": best["ADT"].to_numpy(),
        "source_index": best["source_index"].to_numpy(),
    })
    return out.reset_index(drop=True)


def timepoint_category(ovr: pd.DataFrame, sd_min_days: int) -> pd.Series:
    """Each assessment's contribution to the unconfirmed BOR (early SD/NON-CR/NON-PD → NE)."""
    frame = ovr.assign(_idx=ovr.index)
    frame = frame.loc[frame["ADT"].notna() & frame["AVALC"].notna()]
    ok = _sd_window_ok(frame, sd_min_days)
    early = frame["AVALC"].isin(["SD", "NON-CR/NON-PD"]).to_numpy() & ~ok
    values = frame["AVALC"].astype("string").mask(pd.Series(early, index=frame.index), "NE")
    return values


def best_overall_response(ovr: pd.DataFrame, sd_min_days: int) -> pd.DataFrame:
    """Unconfirmed BOR per subject with an analysed assessment (RECIST 1.1 §4.4.3)."""
    frame = _prepare(ovr)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    ok = _sd_window_ok(frame, sd_min_days)
    avalc = frame["AVALC"].to_numpy(dtype=object)
    rank = np.vectorize(_RANK.__getitem__, otypes=[np.int64])(avalc)
    early_sd = np.isin(avalc, ["SD", "NON-CR/NON-PD"]) & ~ok
    rank = np.where(early_sd, _RANK["NE"], rank)
    return _best_per_subject(frame, rank)


def _confirmation(frame: pd.DataFrame, candidate: np.ndarray, confirms: np.ndarray,
                  min_gap_days: int) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate row, the position of its first confirming row (or -1)."""
    n = len(frame)
    keys = frame["_subj"].to_numpy(dtype="int64") * _STRIDE + frame["_day"].to_numpy()
    conf_pos = np.flatnonzero(confirms)
    conf_keys = keys[conf_pos]                     # sorted: frame is sorted by subject, date
    targets = keys + int(min_gap_days)
    found = np.searchsorted(conf_keys, targets, side="left")
    in_range = found < len(conf_pos)
    j = np.full(n, -1, dtype=np.int64)
    j[in_range] = conf_pos[found[in_range]]
    subj = frame["_subj"].to_numpy()
    same = (j >= 0) & (subj[np.clip(j, 0, None)] == subj)
    j = np.where(same & candidate, j, -1)
    return j, same & candidate


def _window_count(flags: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """How many of rows i+1..j (inclusive) have ``flags`` (vectorised with a cumulative sum)."""
    cum = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    jj = np.clip(j, 0, None)
    return cum[jj + 1] - cum[i + 1]


def confirmed_flags(ovr: pd.DataFrame, min_gap_days: int = 28, max_ne: int = 1,
                    accept_sd: bool = False) -> pd.DataFrame:
    """Which CR/PR assessments are confirmed (RECIST 1.1 §4.6.1, §4.4.3 table 3).

    Returns a frame indexed like the analysed input rows with bool ``confirmed_cr`` and
    ``confirmed_pr`` and the confirming date ``confirm_adt`` (NaT when not confirmed).
    """
    if min_gap_days < 1:
        raise ValueError("the confirmation gap must be at least 1 day")
    flags = _remembered(("flags", min_gap_days, max_ne, accept_sd), ovr,
                        lambda: _confirmed_flags(ovr, min_gap_days, max_ne, accept_sd))
    return flags.copy() if _MEMO.get() is not None else flags


def _confirmed_flags(ovr: pd.DataFrame, min_gap_days: int, max_ne: int, accept_sd: bool
                     ) -> pd.DataFrame:
    frame = _prepare(ovr)
    n = len(frame)
    if n == 0:
        return pd.DataFrame({"confirmed_cr": pd.Series(dtype=bool),
                             "confirmed_pr": pd.Series(dtype=bool),
                             "confirm_adt": pd.Series(dtype="datetime64[ns]")})
    avalc = frame["AVALC"].to_numpy(dtype=object)
    is_cr, is_pr = avalc == "CR", avalc == "PR"
    is_sd, is_ne = avalc == "SD", avalc == "NE"
    pos = np.arange(n, dtype=np.int64)

    # CR: confirmed by the first CR >= gap later; all rows in (i, j] are CR or NE
    j_cr, has_cr = _confirmation(frame, is_cr, is_cr, min_gap_days)
    span = j_cr - pos
    ok_cr = has_cr & (_window_count(is_cr | is_ne, pos, j_cr) == span) & \
        (_window_count(is_ne, pos, j_cr) <= max_ne)

    # PR: confirmed by the first CR/PR >= gap later
    j_pr, has_pr = _confirmation(frame, is_pr, is_cr | is_pr, min_gap_days)
    span = j_pr - pos
    allowed = is_cr | is_pr | is_ne | is_sd
    n_sd = _window_count(is_sd, pos, j_pr)
    # first CR after i (global positions; only used when it falls inside (i, j])
    next_cr = np.where(is_cr, pos, n)
    next_cr = np.minimum.accumulate(next_cr[::-1])[::-1]
    first_cr = np.append(next_cr, n)[pos + 1]
    cr_inside = first_cr <= np.clip(j_pr, 0, None)
    pr_after_cr = np.where(cr_inside, _window_count(is_pr, np.clip(first_cr, 0, n - 1), j_pr), 0)
    ok_pr = has_pr & (_window_count(allowed, pos, j_pr) == span) & \
        (_window_count(is_ne, pos, j_pr) <= max_ne) & \
        (n_sd <= (1 if accept_sd else 0)) & (pr_after_cr == 0)

    adt = frame["ADT"].to_numpy()
    conf_adt = np.where(ok_cr, adt[np.clip(j_cr, 0, None)],
                        np.where(ok_pr, adt[np.clip(j_pr, 0, None)], np.datetime64("NaT")))
    out = pd.DataFrame({"confirmed_cr": ok_cr, "confirmed_pr": ok_pr,
                        "confirm_adt": pd.to_datetime(conf_adt)},
                       index=pd.Index(frame["_idx"].to_numpy()))
    return out.reindex(frame["_idx"].to_numpy())


def confirmed_best_overall_response(ovr: pd.DataFrame, sd_min_days: int,
                                    min_gap_days: int = 28, max_ne: int = 1,
                                    accept_sd: bool = False) -> pd.DataFrame:
    """Confirmed BOR per subject with an analysed assessment (RECIST 1.1 §4.4.3 table 3)."""
    frame = _prepare(ovr)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    flags = confirmed_flags(ovr, min_gap_days, max_ne, accept_sd)
    conf_cr = flags["confirmed_cr"].reindex(frame["_idx"]).to_numpy(dtype=bool)
    conf_pr = flags["confirmed_pr"].reindex(frame["_idx"]).to_numpy(dtype=bool)
    ok = _sd_window_ok(frame, sd_min_days)
    avalc = frame["AVALC"].to_numpy(dtype=object)
    rank = np.full(len(frame), _RANK["NE"], dtype=np.int64)
    rank = np.where(avalc == "PD", _RANK["PD"], rank)
    rank = np.where((avalc == "NON-CR/NON-PD") & ok, _RANK["NON-CR/NON-PD"], rank)
    rank = np.where(np.isin(avalc, ["CR", "PR", "SD"]) & ok, _RANK["SD"], rank)
    rank = np.where(conf_pr, _RANK["PR"], rank)
    rank = np.where(conf_cr, _RANK["CR"], rank)
    return _best_per_subject(frame, rank)


def first_response(ovr: pd.DataFrame, *, confirmed: bool = False, min_gap_days: int = 28,
                   max_ne: int = 1, accept_sd: bool = False) -> pd.DataFrame:
    """Per responder the first (confirmed) CR/PR assessment: its date and index.

    Used for the response parameters (RSP / CRSP) and as the start of duration of response
    (RECIST 1.1 §4.6.2: measured from the time CR/PR criteria are first met).
    """
    frame = _prepare(ovr)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    if confirmed:
        flags = confirmed_flags(ovr, min_gap_days, max_ne, accept_sd)
        hit = (flags["confirmed_cr"] | flags["confirmed_pr"]).reindex(frame["_idx"]).to_numpy(
            dtype=bool)
    else:
        hit = frame["AVALC"].isin(["CR", "PR"]).to_numpy()
    chosen = frame.loc[hit].drop_duplicates("USUBJID", keep="first")
    return pd.DataFrame({
        "USUBJID": chosen["USUBJID"].array,
        "AVALC": pd.array(chosen["AVALC"].to_numpy(), dtype="string"),
        "ADT": chosen["ADT"].to_numpy(),
        "source_index": chosen["_idx"].to_numpy(),
    })


def pr_after_cr(ovr: pd.DataFrame) -> pd.Series:
    """True on each PR assessed after an earlier CR of the same subject.

    RECIST 1.1 §4.4.3 table 3 note: once a true CR is documented, any later disease is PD; a PR
    after CR usually means the CR was not real. admiralonco signals these; we report them.
    """
    frame = _prepare(ovr)
    if frame.empty:
        return pd.Series(dtype=bool)
    seen_cr = frame["AVALC"].eq("CR").astype("int64").groupby(frame["_subj"]).cumsum() > 0
    flag = frame["AVALC"].eq("PR") & seen_cr
    return pd.Series(flag.to_numpy(), index=pd.Index(frame["_idx"].to_numpy()))

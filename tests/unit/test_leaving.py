"""cdiscmap.leaving: what the command line's process holds until it leaves with os._exit."""

from __future__ import annotations

import gc
import weakref

from click.testing import CliRunner

from cdiscmap import leaving
from cdiscmap.cli import main


class _Frame:
    """Stands for a command's data (anything that can be weakly referenced)."""


def test_nothing_is_kept_unless_the_process_is_leaving() -> None:
    data = _Frame()
    gone = weakref.ref(data)
    leaving.keep_until_exit(data)
    assert leaving.kept() == 0
    del data
    gc.collect()
    assert gone() is None


def test_kept_values_live_until_leaving_is_called_off() -> None:
    first, second = _Frame(), _Frame()
    refs = [weakref.ref(first), weakref.ref(second)]
    leaving.set_leaving(True)
    try:
        leaving.keep_until_exit(first, second)
        del first, second
        gc.collect()
        assert leaving.kept() == 2
        assert all(r() is not None for r in refs)
    finally:
        leaving.set_leaving(False)
    gc.collect()
    assert leaving.kept() == 0
    assert all(r() is None for r in refs)


def test_a_command_run_by_a_caller_keeps_nothing(tmp_path) -> None:
    # CliRunner calls main with arguments: not the process's own command line
    result = CliRunner().invoke(main, ["check-spec", "crizotinib-basket"])
    assert result.exit_code == 0, result.output
    assert leaving.kept() == 0

"""The test helpers that decide a verdict: `once_more_on_drift` repeats a drifted scenario once, never more."""

from __future__ import annotations

import pytest
from helpers import Drift, once_more_on_drift

calls = []


@once_more_on_drift
def scenario(tmp_path, drifts):
    calls.append(tmp_path)
    if drifts == "always" or (drifts == "once" and len(calls) == 1):
        raise Drift("the numbers differ")


def test_a_drift_that_does_not_repeat_passes_with_a_warning(tmp_path):
    calls.clear()
    with pytest.warns(UserWarning, match="drifted once"):
        scenario(tmp_path=tmp_path, drifts="once")
    assert calls == [tmp_path, tmp_path / "again"]


def test_a_drift_that_repeats_fails(tmp_path):
    calls.clear()
    with pytest.raises(Drift):
        scenario(tmp_path=tmp_path, drifts="always")
    assert len(calls) == 2

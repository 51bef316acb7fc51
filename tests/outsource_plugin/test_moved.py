"""The import paths from before the layer packages still work for one release, with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

from outsource_plugin.moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_gives_the_same_module_and_warns(old: str) -> None:
    new = importlib.import_module(MOVED[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} has moved to {MOVED[old]}"):
        aliased = importlib.import_module(old)
    assert aliased is new
    assert new.__spec__ is not None and new.__spec__.name == MOVED[old]


def test_the_guide_s_old_imports_still_work() -> None:
    sys.modules.pop("outsource_plugin.engagements", None)
    with pytest.warns(DeprecationWarning):
        from outsource_plugin.engagements import ensure_deletable
    from outsource_plugin.core.engagements import ensure_deletable as now

    assert ensure_deletable is now


def test_a_path_that_never_existed_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("outsource_plugin.no_such_module")

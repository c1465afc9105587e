"""An engine is usable when it has run a tiny program here; the verdict is cached per version."""

from __future__ import annotations

import json

import pytest

from mixfit.engines import usable
from mixfit.errors import ToolchainError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXFIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_stanli_is_checked_once_and_the_verdict_kept(cache):
    first = usable.check("stanli")
    assert first.usable and first.reason == ""
    saved = json.loads((cache / "usable" / "stanli.json").read_text())
    assert saved["usable"] is True and saved["key"] == first.key
    again = usable.check("stanli")
    assert again.checked == first.checked  # from the cache: the tiny program did not run again
    fresh = usable.check("stanli", fresh=True)
    assert fresh.usable and fresh.checked > first.checked


def test_a_verdict_for_another_version_is_not_used(cache):
    usable.check("stanli")
    path = cache / "usable" / "stanli.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "usable": False, "reason": "old", "key": "another"}))
    assert usable.check("stanli").usable


def test_an_engine_that_cannot_start_says_why(cache, monkeypatch):
    monkeypatch.setenv("CMDSTAN", str(cache / "nowhere"))
    verdict = usable.check("cmdstan")
    assert not verdict.usable and "CmdStan" in verdict.reason


def test_one_line_is_the_users_message_or_the_innermost_cause():
    try:
        try:
            raise ImportError("stan_services.so: undefined symbol: _PyThreadState_UncheckedGet")
        except ImportError as inner:
            raise RuntimeError("unexpected content after document") from inner
    except RuntimeError as exc:
        assert usable.one_line(exc) == (
            "ImportError: stan_services.so: undefined symbol: _PyThreadState_UncheckedGet"
        )
    try:
        try:
            raise ValueError("deep")
        except ValueError as inner:
            raise ToolchainError("PyStan's compiled model does not load here") from inner
    except ToolchainError as exc:
        assert usable.one_line(exc) == "PyStan's compiled model does not load here"


def test_a_cmdstan_install_that_fails_is_an_error_not_a_silent_exit(monkeypatch):
    """cmdstanpy reports a failed download or build by returning False (no network, say)."""
    import cmdstanpy

    from mixfit.engines.setup import _install_cmdstan
    from mixfit.errors import ToolchainError

    monkeypatch.setattr(cmdstanpy, "install_cmdstan", lambda **_: False)
    said: list[str] = []
    with pytest.raises(ToolchainError, match="CmdStan could not be installed here"):
        _install_cmdstan(said.append)
    assert said == ["cmdstan: downloading and building CmdStan with cmdstanpy (several minutes)"]

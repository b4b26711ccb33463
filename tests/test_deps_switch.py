"""The system-dependency switch: a skip on a developer machine, a failure in CI."""

import pytest

from tests import deps


def test_missing_dependency_skips_with_install_command(monkeypatch):
    monkeypatch.delenv(deps.STRICT_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        deps.missing("tesseract")
    assert "apt-get install tesseract-ocr" in str(info.value)


def test_missing_dependency_fails_when_ci_requires_it(monkeypatch):
    monkeypatch.setenv(deps.STRICT_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as info:
        deps.missing("chromium")
    assert "apt-get install chromium" in str(info.value)


def test_tesseract_absent_from_path_skips_the_ocr_tests(monkeypatch, tmp_path):
    monkeypatch.delenv(deps.STRICT_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine with only python3 and make
    with pytest.raises(pytest.skip.Exception) as info:
        deps.require_tesseract()
    assert "fra+eng" in str(info.value) and "tesseract-ocr-fra" in str(info.value)

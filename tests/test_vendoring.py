"""Each function directory carries an exact, generated copy of argoml/ and its build files."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT
from tools import vendoring


def test_vendored_copies_match_the_library() -> None:
    assert vendoring.differences(ROOT) == [], "run `make vendor`"


def _project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")
    for part in ("argoml", "functions"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_an_edited_copy_a_stale_file_and_a_missing_file_are_all_reported(tmp_path: Path) -> None:
    copy = _project_copy(tmp_path)
    (copy / "functions/gc/vendor/argoml/errors.py").write_text("# edited by hand\n")
    (copy / "functions/validate/vendor/argoml/leftover.py").write_text("")
    (copy / "functions/hyperparam/Dockerfile").unlink()
    assert sorted(vendoring.differences(copy)) == [
        "functions/gc/vendor/argoml/errors.py: differs",
        "functions/hyperparam/Dockerfile: missing",
        "functions/validate/vendor/argoml/leftover.py: stale (not in argoml/)",
    ]
    vendoring.sync(copy)
    assert vendoring.differences(copy) == []


def test_requirements_follow_pyproject(tmp_path: Path) -> None:
    copy = _project_copy(tmp_path)
    text = (copy / "pyproject.toml").read_text().replace('"pyyaml>=6",', '"pyyaml>=6",\n    "example-dep>=1",')
    (copy / "pyproject.toml").write_text(text)
    vendoring.sync(copy)
    assert "example-dep>=1" in (copy / "functions/gc/requirements.txt").read_text().splitlines()


def test_main_puts_its_vendor_directory_first() -> None:
    for name in vendoring.FUNCTIONS:
        source = (ROOT / "functions" / name / "main.py").read_text()
        assert 'sys.path.insert(0, str(Path(__file__).resolve().parent / "vendor"))' in source, name

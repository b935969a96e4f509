"""Packaging: pyproject.toml stays installable (`pip install -e .`) by the setuptools pip fetches."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())


def test_the_license_is_an_spdx_expression_that_setuptools_keeps_accepting():
    # setuptools refuses the `license = { text = ... }` table from February 2027 (PEP 639).
    license = PYPROJECT["project"]["license"]
    assert isinstance(license, str)
    assert canonicalize_license_expression(license) == license
    # ...and reads an SPDX string only from version 77 on: older ones must not be picked for the build.
    setuptools = next(
        Requirement(r) for r in PYPROJECT["build-system"]["requires"] if Requirement(r).name == "setuptools"
    )
    assert not setuptools.specifier.contains(Version("76.9"))
    assert setuptools.specifier.contains(Version("77.0"))

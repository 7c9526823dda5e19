"""One sandbox run for the whole conformance package: the scenario's request log, bodies kept."""

from __future__ import annotations

import pytest

from sandbox.records import RequestRecord
from tests.conformance.traffic import run_scenario


@pytest.fixture(scope="package")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> list[RequestRecord]:
    return run_scenario(tmp_path_factory.mktemp("conformance"))

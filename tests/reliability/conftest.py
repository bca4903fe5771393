"""One server on 127.0.0.1 for the reliability tests that do not need a server of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Trained
from tests.serving.conftest import Server, make_settings, start_server


@pytest.fixture(scope="session")
def reliable_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(make_settings(tmp_path_factory.mktemp("reliable"), trained.registry))

"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulse import PulseServer, start_test_audio, stop_test_audio


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    """The test PulseAudio server and a null sink of this run's own (skips, or fails under
    CI=true, where PulseAudio is missing)."""
    yield start_test_audio()
    stop_test_audio()

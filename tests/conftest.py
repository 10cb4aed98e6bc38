"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
from pulse import PulseServer, start_test_audio


@pytest.fixture(scope="session")
def pulse_server() -> PulseServer:
    """The test PulseAudio server with its null sink (skips, or fails under CI=true, where
    PulseAudio is missing)."""
    return start_test_audio()

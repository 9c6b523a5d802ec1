"""Guards every test shares."""

import signal

import pytest


@pytest.fixture(autouse=True)
def _ctrl_c_as_in_a_terminal():
    """Each test runs with Python's own Ctrl-C handling, and must leave it as it found it.

    A suite started in the background by a script inherits SIGINT ignored, and
    Python then installs no handler: the interruption tests send a real SIGINT
    and need the handling a terminal gives. A test that leaves its own
    handling behind would break the interruption tests after it.
    """
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    left = signal.signal(signal.SIGINT, inherited)
    if left is not signal.default_int_handler:
        pytest.fail(f"the test left SIGINT handled by {left!r}")

"""The shared assertion of the bad-input tests: stderr is one ``error:`` line naming what it must, no traceback."""

from __future__ import annotations


def assert_one_error_line(stderr: str, *expected: str) -> str:
    """The single ``error: ...`` line of ``stderr``, after checking it holds every ``expected`` text."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]

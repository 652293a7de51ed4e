"""Exercise feedback for the course notebooks.

Each topic has a module here (``artiphys_course.checks.<topic>``) with one ``check_*`` function per
exercise. A check calls the student's function on generated inputs, compares with the package's
reference implementation and returns a :class:`CheckResult` that shows as one line in Jupyter: a
pass, ``not implemented yet`` (the notebook then goes on with the reference), or the first
difference with a hint; it is truthy only on a pass. Checks never raise in a student's notebook;
with ``ARTIPHYS_STRICT_CHECKS=1`` (set by the test configuration) a wrong answer raises
:class:`CheckFailed`, so nbval fails when a solution or a reference breaks.
"""

from artiphys_course.checks.core import (
    STRICT_ENV,
    CheckFailed,
    CheckResult,
    check_function,
    compare,
    strict,
)

__all__ = ["STRICT_ENV", "CheckFailed", "CheckResult", "check_function", "compare", "strict"]

"""Exercise feedback for the course notebooks.

Each topic has a module here (``artiphys_course.checks.<topic>``) with one ``check_*`` function per
exercise. A check calls the student's function on generated inputs, compares with the package's
reference implementation and prints one line: a pass, ``not implemented yet`` (the notebook then
goes on with the reference), or a specific hint. Checks return ``True`` only on a pass and never
raise, so a notebook always runs to the end.
"""

from artiphys_course.checks.core import check_function, check_value, compare

__all__ = ["check_function", "check_value", "compare"]

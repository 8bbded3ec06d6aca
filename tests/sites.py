"""The ``file.py:N`` a test expects tapegrad to name as the user's source line."""
import os
import sys


def next_line_site():
    """``file.py:N`` for the line just after the caller's current line.

    Put the call right above the operation whose site an error or a record
    should name::

        site = next_line_site()
        y = tapegrad.log(x)
    """
    frame = sys._getframe(1)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno + 1}"

"""The command line: `main` holds the table of sub-commands; one module per command.
"""

import time as _time

STARTED = _time.monotonic()     # when the command line loaded: where the user's wait begins ("run in")

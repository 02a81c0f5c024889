"""`python -m simulate ...`: see `simulate.cli`."""

import sys

from .cli import main

sys.exit(main())

"""`python -m simulate ...`: see `simulate.cli`."""

import sys

from .cli.main import main

sys.exit(main())

"""``python -m captum_lam`` is the ``captum-lam`` command."""

import sys

from .cli import main

sys.exit(main())

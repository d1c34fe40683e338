"""``python -m captum_lam.cli`` (and ``torchrun -m captum_lam.cli``) is the command."""

import sys

from . import main

sys.exit(main())

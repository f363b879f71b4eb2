"""``python -m batch_router.cli``: the same commands as the ``batch-router`` script."""

import sys

from batch_router.cli import main

sys.exit(main())

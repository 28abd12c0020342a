"""``python -m seizure ...``: the ``seizure`` command, also as ``torchrun ... -m seizure train ...``."""

import sys

from seizure.cli import main

if __name__ == "__main__":
    sys.exit(main())

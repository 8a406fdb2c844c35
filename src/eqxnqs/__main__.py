import sys

from ._workflow._cli import main

sys.exit(main())

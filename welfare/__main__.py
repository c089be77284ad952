import sys

from welfare.cli import main

sys.exit(main())

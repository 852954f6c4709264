import sys

from proxyvault.cli import main

sys.exit(main())

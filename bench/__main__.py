"""``python -m bench``: the command-line entry point."""

from bench.run import main

raise SystemExit(main())

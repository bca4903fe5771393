"""``python -m bench.loop``."""

from . import main

raise SystemExit(main())

from parcelscreen.cli import main

raise SystemExit(main())

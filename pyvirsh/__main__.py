from pyvirsh.cli import main

raise SystemExit(main())

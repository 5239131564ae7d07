from .lightning.cli import main

raise SystemExit(main())

from zuora_wh.cli import main

raise SystemExit(main())

from pyvirsh.cli import finish, main

finish(main())

"""``python -m tinygrad_lstm`` is the ``tinygrad-lstm`` command."""

from tinygrad_lstm.cli import main

raise SystemExit(main())

"""Allow ``python -m anonlinkclient``."""

import multiprocessing

from anonlinkclient.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # needed by the frozen Windows executable
    main()

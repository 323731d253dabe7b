"""`python -m tests.benchmarks`: run the benchmark suite."""

import sys

from .suite import main

sys.exit(main())

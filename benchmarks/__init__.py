"""nnstep's benchmarks (issue 5): engine, app and trace, side by side with tight NumPy loops and PyTorch.

Run them all with `python -m benchmarks` from the repository root.

BLAS runs one thread: on a shared 2-core machine a second BLAS thread makes
the big products' times swing by 2× from one call to the next. The
variables are set before NumPy is first imported (so only for
`python -m benchmarks`); a value the caller set is kept.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

"""nnstep's benchmarks (issue 5): engine, app and trace, side by side with a bare NumPy loop and PyTorch.

Run them all with `python -m benchmarks` from the repository root.
"""

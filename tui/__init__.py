"""nnstep's terminal front end: the command line and the Textual app.

Importing this package imports neither textual nor rich: `nnstep run`
stays fast and headless.
"""

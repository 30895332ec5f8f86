"""Widgets of the nnstep app, one per module."""

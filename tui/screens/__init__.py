"""Screens of the nnstep app."""

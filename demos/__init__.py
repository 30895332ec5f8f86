"""Demo configs shipped with nnstep (TOML files beside this module)."""

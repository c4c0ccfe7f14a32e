"""The `r2o` command line: one thin module per command."""

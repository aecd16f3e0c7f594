"""Stand-ins for the parts of Cortex's serving package (cortex_internal, Cortex 0.33 and later)
that its documentation told predictors to import: only cortex_internal.lib.log."""

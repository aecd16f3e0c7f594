"""Stand-in for Cortex's serving package before 0.33 (`cortex`), found only when the project does not
install a `cortex` distribution of its own (this folder comes after site-packages on sys.path)."""

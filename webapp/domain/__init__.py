"""Pure logic with no Flask or database imports."""

"""Text bound for a CSV that people open in a spreadsheet."""


def cell(text: str) -> str:
    """Never a formula: a leading = + - @ tab or CR is quoted away (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

"""Plain words for a value over its limit: the same unit on both sides, never "over" reading as "equal"."""

MIB = 2**20


def over_limit(value: float, limit: float, unit: float = 1, min_decimals: int = 1) -> tuple[str, str]:
    """A value over its limit and the limit, in one unit, each rounded to the fewest decimals that differ.

    60 MiB against 50 MiB reads "60" and "50"; a 10,001 x 10,000 image against 100 MP reads "100.01" and
    "100"; one byte over 50 MiB reads "50.000001" and "50".
    """
    exact_value, exact_limit = value / unit, limit / unit
    for decimals in range(min_decimals, 13):
        shown, allowed = round(exact_value, decimals), round(exact_limit, decimals)
        if shown > allowed:
            return number(shown, decimals), number(allowed, decimals)
    return number(exact_value, 12), number(exact_limit, 12)


def number(value: float, decimals: int = 1) -> str:
    """A number with thousands separators and no trailing zeros (1,234.5; 50)."""
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def too_large_message(size: int, limit: int) -> str:
    """Plain words for a file over the per-photo size limit."""
    size_text, limit_text = over_limit(size, limit, MIB)
    return f"The file is {size_text} MiB; the limit is {limit_text} MiB per photo"

"""Requests close to a case: its values changed the ways people get them wrong (property tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

CHANGES = ("swapcase", "zero", "reverse", "listed", "single", "drop", "other", "blank", "space")


def perturbed(
    request: dict[str, Any], data: st.DataObject, others: st.SearchStrategy[Any], *, at_least: int = 0
) -> dict[str, Any]:
    """A copy of `request` with `at_least` to 3 values changed: letter case, a leading zero, a list
    reversed, a scalar for a list and back, a value dropped, blank, with a trailing space, or one of
    `others` (an unknown name, `autre`, may be given one)."""
    draw = data.draw
    request = dict(request)
    for _ in range(draw(st.integers(min_value=at_least, max_value=3))):
        name = draw(st.sampled_from([*sorted(request), "autre"]))
        value = request.get(name, "")
        change = draw(st.sampled_from(CHANGES))
        if change == "swapcase":
            request[name] = [v.swapcase() for v in value] if isinstance(value, list) else value.swapcase()
        elif change == "zero" and isinstance(value, str):
            request[name] = "0" + value
        elif change == "reverse" and isinstance(value, list):
            request[name] = list(reversed(value))
        elif change == "listed" and isinstance(value, str):
            request[name] = [value]
        elif change == "single" and isinstance(value, list) and value:
            request[name] = value[0]
        elif change == "drop":
            request.pop(name, None)
        elif change == "blank":
            request[name] = draw(st.sampled_from(["", []]))
        elif change == "space" and isinstance(value, str):
            request[name] = value + " "
        else:
            request[name] = draw(others)
    return request

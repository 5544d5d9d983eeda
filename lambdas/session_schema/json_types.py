"""Input types shared by both APIs' request models, as JSON Schema (and so both documents) defines them.

JSON has one number type, and JSON Schema's `integer` is any number with a zero fractional part: `673.0`
is the integer 673 to every validator and generator that reads /openapi.json or /asyncapi.json. The APIs
accept it as 673 (and still refuse `673.5`, `"673"` and `true`), so what the documents say is what is taken.
"""

from __future__ import annotations

from pydantic import BeforeValidator


def _integral_number(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # anything else goes to the strict int check as it came


# The last annotation of an int field, after its constraints (`Annotated[int, Field(ge=1), INTEGRAL]`):
# placed after them, the constraints stay the integer schema's own (`minimum`, not an unknown `ge`).
INTEGRAL = BeforeValidator(_integral_number)

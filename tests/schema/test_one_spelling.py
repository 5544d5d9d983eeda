"""Each constraint is spelled once: in session_schema/models.py, as a named type or constant others import.

A copy elsewhere (a pattern retyped in auth, a local gateway or a request schema; a limit retyped in a frame)
can drift from the record it guards; these checks fail when one reappears.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from session_schema import models

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("lambdas", "local") for p in (ROOT / folder).rglob("*.py"))
HOME = ROOT / "lambdas" / "session_schema" / "models.py"


def _body(pattern: str) -> str:
    """A regex without its anchors and escapes of `-`: the part a copy would retype."""
    return pattern.removeprefix("^").removesuffix("$").replace("\\-", "-")


@pytest.mark.parametrize(
    "name",
    ["USER_ID_PATTERN", "CONNECTION_ID_PATTERN", "SOURCE_LANGUAGE_PATTERN", "IDEMPOTENCY_KEY_PATTERN"],
)
def test_a_named_pattern_is_written_only_in_models(name: str) -> None:
    body = _body(getattr(models, name))
    copies = [p for p in SOURCES if p != HOME and body in p.read_text(encoding="utf-8").replace("\\-", "-")]
    assert copies == [], f"{name} is retyped in {copies}: import it from session_schema.models"


def test_the_epoch_ms_limit_is_not_retyped() -> None:
    # keys.MS_DIGITS is the one width; models.EpochMs / EPOCH_MS_LIMIT and keys.MS_MAX derive from it.
    copies = [p for p in SOURCES if re.search(r"10\s*\*\*\s*13|:013d", p.read_text(encoding="utf-8"))]
    assert copies == [], f"epoch ms bounds retyped in {copies}: use models.EpochMs or models.EPOCH_MS_LIMIT"
    assert models.EPOCH_MS_LIMIT == 10**13


def test_no_module_reads_a_constraint_back_out_of_a_model() -> None:
    # session_schema/views.py copies whole fields into the views derived from them: that is the one reader.
    readers = [p for p in SOURCES if p.name != "views.py" or p.parent.name != "session_schema"]
    # botocore's `service_model.metadata` (the API's protocol facts, local/dynamodb/moto_json.py) is no model field
    pattern = re.compile(r"(?<!service_model)\.metadata\b|__metadata__")
    fishing = [p for p in readers if pattern.search(p.read_text(encoding="utf-8"))]
    assert fishing == [], f"{fishing} dig a constraint out of a model's fields: import the named type instead"


def test_the_named_types_are_what_the_records_enforce() -> None:
    # The named types are the records' own: what a request or frame accepts is what the store can keep.
    fields = models.Session.model_fields
    assert fields["sourceLanguage"].metadata == list(models.SourceLanguage.__metadata__)
    assert fields["ownerId"].metadata == list(models.UserId.__metadata__)
    assert models.IdempotencyRecord.model_fields["key"].metadata == list(models.IdempotencyKey.__metadata__)

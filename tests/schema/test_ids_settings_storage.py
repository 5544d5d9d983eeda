"""Session IDs, record IDs, the storage prefix and the settings declaration."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_schema import ids
from session_schema.settings import SETTINGS, Settings, load_settings, stack_environment
from session_schema.storage import artifact_object_key, artifact_prefix

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def test_the_id_space_holds_tens_of_millions():
    assert ids.id_space_size() >= 50_000_000


def test_generated_ids_are_readable_and_never_blocked():
    rng = random.Random(1)
    for _ in range(2000):
        session_id = ids.new_session_id(rng)
        assert ids.is_session_id(session_id) and not ids.is_blocked(session_id)
        adjective, noun, number = session_id.split("-")
        assert adjective in ids.word_lists()[0] and noun in ids.word_lists()[1] and len(number) == 3


def test_blocked_pairs_and_numbers_are_never_drawn(monkeypatch):
    blocked_pair = next(e for e in ids.blocklist() if "-" in e)
    adjective, noun = blocked_pair.split("-")
    draws = iter([adjective, noun, "happy", "otter", "happy", "otter"])
    numbers = iter([123, 666, 42])

    class Rigged:
        def choice(self, _):
            return next(draws)

        def randrange(self, _):
            return next(numbers)

    assert "666" in ids.blocklist()
    monkeypatch.setattr(ids, "word_lists", lambda: ((adjective, "happy"), (noun, "otter")))
    assert ids.new_session_id(Rigged()) == "happy-otter-042"  # the pair and the 666 were both redrawn


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("Quiet River 482", "quiet-river-482"),
        (" quiet-river-482 ", "quiet-river-482"),
        ("quiet_river_482", "quiet-river-482"),
    ],
)
def test_ids_read_aloud_and_typed_back_are_normalized(typed, canonical):
    assert ids.normalize_session_id(typed) == canonical


@given(st.text(max_size=40))
def test_normalize_accepts_only_the_id_shape(text):
    result = ids.normalize_session_id(text)
    assert result is None or ids.is_session_id(result)


def test_record_ids_sort_by_creation_time():
    made = [ids.new_record_id("art", ms) for ms in (1, 2, 10**12, 10**12 + 1, 4 * 10**12)]
    assert made == sorted(made) and all(re.fullmatch(r"art_[0-9A-Z]{26}", m) for m in made)


def test_the_storage_prefix_is_derived_from_the_session_id_only():
    assert artifact_prefix("user-a", "quiet-river-482", "frames") == "user-a/quiet-river-482/frames/"
    key = artifact_object_key("user-a", "quiet-river-482", "frames", "art_X", "a.png")
    assert key.startswith(artifact_prefix("user-a", "quiet-river-482", "frames"))
    with pytest.raises(ValueError):  # a request ID in the path is exactly the field bug
        artifact_prefix("user-a", "8f14e45f-ceea-467f-a8f5-0a7f3c1d2b9e", "frames")


def test_every_setting_has_one_field_and_defaults_load():
    assert {s.field for s in SETTINGS} == set(Settings.model_fields)
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)
    settings = load_settings({"TABLE_NAME": "t"})
    assert settings.table_name == "t" and settings.default_max_listeners == 100


def test_the_deployment_must_supply_every_stack_setting():
    stack_values = {s.env: "x" for s in SETTINGS if s.source == "stack"}
    env = stack_environment(stack_values)
    assert set(env) == {s.env for s in SETTINGS}
    missing = dict(stack_values)
    missing.pop("TABLE_NAME")
    with pytest.raises(KeyError, match="TABLE_NAME"):
        stack_environment(missing)
    with pytest.raises(KeyError, match="SESSIONS_TABLE"):
        stack_environment({**stack_values, "SESSIONS_TABLE": "x"})  # the field bug's second spelling


def test_no_handler_code_reads_the_environment_outside_the_settings_module():
    offenders = [
        str(path.relative_to(LAMBDAS))
        for path in LAMBDAS.rglob("*.py")
        if path.name != "settings.py" and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
    ]
    assert offenders == []

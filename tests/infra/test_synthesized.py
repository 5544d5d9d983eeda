"""`make synth` says where the template went: infra/synthesized.py reads the assembly's manifest."""

from __future__ import annotations

import json
from pathlib import Path

from infra.synthesized import main, stack_templates
from tests.support.synth import Synth


def test_names_the_template_the_synth_wrote(dev: Synth) -> None:
    assert list(stack_templates(dev.template_path.parent).values()) == [dev.template_path]


def test_ignores_a_template_left_by_an_earlier_synth(tmp_path: Path) -> None:
    (tmp_path / "Old-prod.template.json").write_text("{}")
    manifest = {
        "artifacts": {
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
            "LiveSessions-dev": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "a.template.json"}},
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert stack_templates(tmp_path) == {"LiveSessions-dev": tmp_path / "a.template.json"}


def test_a_manifest_without_a_stack_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    assert main([str(tmp_path)]) == 1

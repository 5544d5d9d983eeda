"""Where `cdk synth` put each stack's template: `python -m infra.synthesized cdk.out` (what `make synth` prints).

Read from the cloud assembly's manifest.json, not by listing the directory: cdk.out can hold templates of
an earlier synth (another stage) that this one did not write.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STACK_ARTIFACT = "aws:cloudformation:stack"


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Each stack artifact of the assembly and its template file, by the stack's display name."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    found: dict[str, Path] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != STACK_ARTIFACT:
            continue
        template = artifact.get("properties", {}).get("templateFile")
        if isinstance(template, str):
            found[str(artifact.get("displayName", artifact_id))] = assembly / template
    return found


def main(argv: list[str]) -> int:
    assembly = Path(argv[0] if argv else "cdk.out")
    templates = stack_templates(assembly)
    if not templates:
        print(f"no stack template in {assembly}/manifest.json", file=sys.stderr)
        return 1
    for stack, template in templates.items():
        print(f"{stack}: CloudFormation template in {template}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

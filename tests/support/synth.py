"""Synthesizing the stack for the infra tests (tests/infra/conftest.py shares one dev and one prod synth).

The synth goes through `infra.build.build_app`, the same function app.py calls, with cdk.json's context,
and with the AwsSolutions (cdk-nag) checks registered. Synthesis does not stop on nag errors here
(`failSynthOnValidationErrors=false`): the nag tests read the validation report instead, so a new finding
fails those tests, not every test. A synth that wrote no report (or one without the AwsSolutions pack) fails
those tests too: an absent report is no evidence of a clean stack.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER_DIR = ROOT / "build" / "layer"
PROD_ALARM_EMAIL = "oncall@example.com"
# -c publisherRoleArns of the prod synth: a role with a path (its sessions' ARNs drop it) and one without.
PROD_PUBLISHER_ROLES = (
    "arn:aws:iam::111122223333:role/pipelines/captions",
    "arn:aws:iam::111122223333:role/translate",
)


@dataclass
class Synth:
    stack: Any  # infra.stack.LiveSessionsStack
    template: dict  # the synthesized CloudFormation template
    template_path: Path
    report_path: Path  # the assembly's policy validation report (cdk-nag findings)

    @property
    def validation_report(self) -> dict:
        """The cdk-nag report; a test reading it fails when the synth wrote none or the pack did not report."""
        from infra.nag import PACK

        if not self.report_path.exists():
            pytest.fail(f"the synth wrote no cdk-nag validation report ({self.report_path})", pytrace=False)
        report = json.loads(self.report_path.read_text())
        plugins = [r.get("pluginName") for r in report.get("pluginReports", [])]
        if PACK not in plugins:
            pytest.fail(f"the validation report has no {PACK} plugin report (plugins: {plugins})", pytrace=False)
        return report

    def resources(self, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        """Logical ID of an L2's default child (or of an L1)."""
        cfn = getattr(construct.node, "default_child", None) or construct
        return self.stack.resolve(self.stack.get_logical_id(cfn))


def _ensure_layer() -> None:
    """The stack references build/layer as an asset: build it with `make -s layer` when missing."""
    if (LAYER_DIR / "python").is_dir():
        return
    result = subprocess.run(["make", "-s", "layer"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not (LAYER_DIR / "python").is_dir():
        pytest.fail(
            "the Lambda dependency layer (build/layer) is missing and `make -s layer` failed:\n"
            + result.stdout[-2000:]
            + result.stderr[-2000:],
            pytrace=False,
        )


def synth(outdir: Path, **context: Any) -> Synth:
    _ensure_layer()
    import aws_cdk as cdk

    from infra.build import build_app

    ctx = json.loads((ROOT / "cdk.json").read_text())["context"]
    ctx.update(context)
    ctx["@aws-cdk/core:failSynthOnValidationErrors"] = False  # report nag findings, do not raise
    app = cdk.App(context=ctx, outdir=str(outdir))
    stack = build_app(app)
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    template_path = Path(assembly.directory) / artifact.template_file
    report_path = Path(assembly.directory) / "validation-report.json"
    return Synth(stack=stack, template=artifact.template, template_path=template_path, report_path=report_path)




def violations(synth: Synth) -> list[str]:
    """The cdk-nag findings of a synth's validation report, one line each (rule, severity, constructs)."""
    return [
        f"{v['ruleName']} ({v['severity']}): "
        + ", ".join(c["constructPath"] for c in v.get("violatingConstructs", []))
        for report in synth.validation_report["pluginReports"]
        for v in report.get("violations", [])
    ]

"""The detector catalogue: one module per detector, and `CATALOG`, the one registry.

Adding a detector is one module plus one line here. A rule (config/rules/*.yaml) names a
detector of this dict and gives it params, validated by the detector's own `Params` model.
"""

from __future__ import annotations

from detectors.rules.automation_cadence import AutomationCadence
from detectors.rules.base import WindowedDetector
from detectors.rules.capability_targeting import CapabilityTargeting
from detectors.rules.distribution_shift import DistributionShift
from detectors.rules.extraction_score import ExtractionScore
from detectors.rules.instruction_generation import InstructionGeneration
from detectors.rules.logit_probe import LogitProbe
from detectors.rules.model_pivot import ModelPivot
from detectors.rules.reasoning_elicitation import ReasoningElicitation
from detectors.rules.rubric_grading import RubricGrading
from detectors.rules.sampling_fingerprint import SamplingFingerprint
from detectors.rules.template_concentration import TemplateConcentration
from detectors.rules.volume_harvest import VolumeHarvest

CATALOG: dict[str, type[WindowedDetector]] = {
    "volume_harvest": VolumeHarvest,
    "template_concentration": TemplateConcentration,
    "reasoning_elicitation": ReasoningElicitation,
    "rubric_grading": RubricGrading,
    "instruction_generation": InstructionGeneration,
    "capability_targeting": CapabilityTargeting,
    "sampling_fingerprint": SamplingFingerprint,
    "automation_cadence": AutomationCadence,
    "logit_probe": LogitProbe,
    "model_pivot": ModelPivot,
    "distribution_shift": DistributionShift,
    "extraction_score": ExtractionScore,
}

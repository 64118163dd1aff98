"""The scorecard: dimension and feature weights, tiers, windows and eligibility rules, from YAML.

The shipped `scorecard.yaml` holds every default. A user file is merged onto it key by key and
the result validated strictly (unknown keys refused), so a typo is an error naming the file and
the key instead of a silently ignored setting.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_SCORECARD = Path(__file__).with_name("scorecard.yaml")
DIMENSIONS = ("strength", "quality", "growth", "chain_position", "soundness")
FIRM_TYPES = (
    "enterprise", "individual_business", "cooperative", "government", "public_institution",
    "social_organization", "other_institution", "unknown",
)
_Weight = Field(ge=0)


class _Strict(BaseModel):
    # An infinite weight would turn every weighted mean, and so every score, into NaN.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Features(_Strict):
    @model_validator(mode="after")
    def _some_weight(self):
        if not sum(self.model_dump().values()) > 0:
            raise ValueError("feature weights must not all be 0")
        return self


class StrengthFeatures(_Features):
    weighted_patents: float = _Weight
    granted_inventions: float = _Weight
    node_share: float = _Weight


class QualityFeatures(_Features):
    forward_citations: float = _Weight
    pagerank: float = _Weight
    pagerank_max: float = _Weight
    claims_mean: float = _Weight


class GrowthFeatures(_Features):
    recent_filings: float = _Weight
    filing_growth: float = _Weight
    recent_grants: float = _Weight
    share_momentum: float = _Weight


class ChainPositionFeatures(_Features):
    nodes_in_chain: float = _Weight
    weighted_presence: float = _Weight
    upstream_nodes: float = _Weight


class SoundnessFeatures(_Features):
    firm_age: float = _Weight
    registered_capital: float = _Weight
    size_band: float = _Weight
    employees: float = _Weight
    status: float = _Weight


class _Dimension(_Strict):
    weight: float = _Weight


class Strength(_Dimension):
    features: StrengthFeatures


class Quality(_Dimension):
    features: QualityFeatures


class Growth(_Dimension):
    features: GrowthFeatures


class ChainPosition(_Dimension):
    features: ChainPositionFeatures


class Soundness(_Dimension):
    features: SoundnessFeatures


class Dimensions(_Strict):
    strength: Strength
    quality: Quality
    growth: Growth
    chain_position: ChainPosition
    soundness: Soundness

    @model_validator(mode="after")
    def _some_weight(self):
        if not sum(getattr(self, name).weight for name in DIMENSIONS) > 0:
            raise ValueError("dimension weights must not all be 0")
        return self

    def weights(self) -> dict[str, float]:
        return {name: getattr(self, name).weight for name in DIMENSIONS}

    def feature_weights(self, name: str) -> dict[str, float]:
        return getattr(self, name).features.model_dump()


class Tiers(_Strict):
    A: float = Field(ge=0, le=100)
    B: float = Field(ge=0, le=100)
    C: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _descending(self):
        if not self.A >= self.B >= self.C:
            raise ValueError("tier cut-offs must satisfy A >= B >= C")
        return self


class PatentWeights(_Strict):
    invention: float = _Weight
    utility_model: float = _Weight
    design: float = _Weight
    unknown: float = _Weight
    granted: float = _Weight
    lapsed: float = _Weight


class Eligibility(_Strict):
    statuses: list[Literal["operating", "deregistered", "revoked", "moved_out", "liquidating", "unknown"]]
    excluded_firm_types: list[Literal[FIRM_TYPES]]  # type: ignore[valid-type]
    size_bands: list[str]
    allow_unknown_size_band: bool
    min_patents_in_node: int = Field(ge=1)
    min_match_confidence: float = Field(ge=0, le=1)
    excluded_applicant_types: list[
        Literal["company", "university", "research_institute", "hospital", "individual", "government", "unknown"]
    ]


class Explanation(_Strict):
    top_dimensions: int = Field(ge=1, le=5)
    top_patents: int = Field(ge=1, le=10)


class PageRankSettings(_Strict):
    alpha: float = Field(gt=0, lt=1)


class Scorecard(_Strict):
    recent_years: int = Field(ge=1, le=20)
    tiers: Tiers
    patent_weights: PatentWeights
    dimensions: Dimensions
    status_scores: dict[str, float]
    size_band_scores: dict[str, float]
    eligibility: Eligibility
    explanation: Explanation
    pagerank: PageRankSettings
    source: str = Field(default=str(DEFAULT_SCORECARD), exclude=True)


class ScorecardError(ValueError):
    """A scorecard file is unreadable or invalid; the message names the file and the key."""


def load_scorecard(path: Path | None = None) -> Scorecard:
    """The shipped scorecard, with the file at `path` (if given) merged onto it."""
    data = _read_yaml(DEFAULT_SCORECARD)
    if path is not None:
        data = _merge(data, _read_yaml(Path(path)), Path(path))
    return _validate(data, str(path or DEFAULT_SCORECARD))


def with_weights(scorecard: Scorecard, changes: dict[str, float]) -> Scorecard:
    """A copy with weights changed: `growth` sets a dimension weight, `growth.recent_filings` a feature's."""
    data = scorecard.model_dump()
    for key, value in changes.items():
        name, _, feature = key.partition(".")
        if name not in DIMENSIONS:
            raise ScorecardError(f"weight {key!r}: unknown dimension {name!r}; known: {', '.join(DIMENSIONS)}")
        target = data["dimensions"][name]
        if not feature:
            target["weight"] = value
        elif feature in target["features"]:
            target["features"][feature] = value
        else:
            known = ", ".join(target["features"])
            raise ScorecardError(f"weight {key!r}: {name} has no feature {feature!r}; known: {known}")
    return _validate(data, f"{scorecard.source} with {changes}")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScorecardError(f"{path}: scorecard file not found") from None
    except UnicodeDecodeError as exc:
        raise ScorecardError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ScorecardError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScorecardError(f"{path}: a scorecard is a mapping of keys, not a {type(data).__name__}")
    return data


def _merge(base: dict, override: dict, path: Path, prefix: str = "") -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        here = f"{prefix}{key}"
        if isinstance(merged.get(key), dict):
            if not isinstance(value, dict):
                raise ScorecardError(f"{path}: {here}: expected a mapping, got {value!r}")
            merged[key] = _merge(merged[key], value, path, here + ".")
        else:
            merged[key] = value
    return merged


def _validate(data: dict, source: str) -> Scorecard:
    try:
        return Scorecard.model_validate({**data, "source": source})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ScorecardError(f"{source}: invalid scorecard: {problems}") from None

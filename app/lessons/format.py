"""What a lesson is: its models, checked as strictly as a protocol message.

A lesson is a title, a summary, the ideas it teaches and its steps. A step sets
the session up (a configuration patch, a hyperparameter patch and the lab's
settings, each validated by the protocol's own models, so a step can do only
what the page can), shows and hides panels, locks controls, explains in a card,
asks for one action (which the page may notice with a condition or an event),
then says what just happened with the run's numbers. docs/lessons.md is the
writer's guide.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field, computed_field, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from app import protocol as p
from app.lessons import conditions

# The ideas a lesson can teach, in the order of the explainer this project teaches from.
IDEAS: dict[str, str] = {
    "parameters-vs-hyperparameters": "Parameters versus hyperparameters",
    "weights-and-relevance": "Weights as connection strength, and feature relevance",
    "biases": "Biases as offsets",
    "activations": "Activation functions",
    "forward-and-backprop": "Forward propagation and backpropagation",
    "learning-rate": "Gradient descent and the learning rate",
    "momentum": "Momentum",
    "batch-size-and-epochs": "Batch size and epochs",
    "initialisation": "Initialisation",
    "overfitting-and-model-size": "Overfitting, and more parameters versus fewer",
    "dropout-and-regularization": "Dropout and regularization",
    "early-stopping": "Early stopping",
    "cross-validation": "Cross-validation",
    "hyperparameter-tuning": "Hyperparameter tuning",
    "fine-tuning-and-transfer": "Fine-tuning and transfer learning",
    "freezing": "Freezing parameters",
    "replay": "Replay against forgetting",
    "quantization": "Quantization",
    "model-types": "Parameters differ by model type",
}
IdeaName = Literal[
    "parameters-vs-hyperparameters", "weights-and-relevance", "biases", "activations", "forward-and-backprop",
    "learning-rate", "momentum", "batch-size-and-epochs", "initialisation", "overfitting-and-model-size",
    "dropout-and-regularization", "early-stopping", "cross-validation", "hyperparameter-tuning",
    "fine-tuning-and-transfer", "freezing", "replay", "quantization", "model-types"]

# The page's panels a step may show or hide, and where they are on the page (a CSS selector).
PANELS: dict[str, str] = {
    "hyper": ".hyperbar", "data": ".col-data", "network": ".col-net", "phases": "#phases", "params": "#params",
    "output": ".col-out", "charts": "#charts", "classroom": "#classroom",
    "lab_fit": "#lab-fit", "lab_compare": "#lab-compare", "lab_jobs": "#lab-jobs", "lab_quant": "#lab-quant",
    "lab_transfer": "#lab-transfer", "lab_optimizer": "#lab-optimizer", "lab_rewind": "#lab-rewind",
}
PanelName = Literal["hyper", "data", "network", "phases", "params", "output", "charts", "classroom", "lab_fit",
                    "lab_compare", "lab_jobs", "lab_quant", "lab_transfer", "lab_optimizer", "lab_rewind"]

# The controls a step may lock or highlight, and the element that is each (a CSS selector).
CONTROLS: dict[str, str] = {
    "play": "#play", "step": "#step", "step_unit": "#step-unit", "reset": "#reset", "reset_new": "#reset-new",
    "speed": "#speed", "lr": "#lr", "momentum": "#momentum", "beta1": "#beta1", "beta2": "#beta2", "rho": "#rho",
    "batch_size": "#batch_size", "optimizer": "#optimizer", "activation": "#activation",
    "regularization": "#regularization", "reg_rate": "#reg_rate", "dropout": "#dropout", "dataset": "#datasets",
    "csv_file": "#csv-file", "train_ratio": "#train_ratio", "val_ratio": "#val_ratio", "noise": "#noise",
    "seed": "#seed", "task": "#task", "init": "#init", "regenerate": "#regenerate", "features": "#features",
    "columns": "#columns", "add_layer": "#add-layer", "remove_layer": "#remove-layer", "network": "#network",
    "next_phase": "#next-phase", "rollback": "#rollback", "early_stopping": "#es-on", "restore_best": "#es-restore",
    "cross_validate": "[aria-labelledby='h-lj-cv'] .lj-run", "search": "[aria-labelledby='h-lj-search'] .lj-run", "quantize": ".q-bits", "quantize_aware": "#quant-aware",
    "fine_tune": "#tl-fine-tune", "from_scratch": "#tl-scratch", "replay": "#rp-apply",
    "importance": "#imp-measure", "lr_sweep": "#ol-lr-card .lj-run", "landscape": "#ol-landscape-card .lj-run", "race": "#ol-race-card .lj-run",
    "rewind": "#rw-range",
}
ControlName = Literal[
    "play", "step", "step_unit", "reset", "reset_new", "speed", "lr", "momentum", "beta1", "beta2", "rho",
    "batch_size", "optimizer", "activation", "regularization", "reg_rate", "dropout", "dataset", "csv_file",
    "train_ratio", "val_ratio", "noise", "seed", "task", "init", "regenerate", "features", "columns", "add_layer",
    "remove_layer", "network", "next_phase", "rollback", "early_stopping", "restore_best", "cross_validate",
    "search", "quantize", "quantize_aware", "fine_tune", "from_scratch", "replay", "importance", "lr_sweep",
    "landscape", "race", "rewind"]

# The messages a page sends when its user acts: an `event` notices one of these.
EventName = Literal[
    "play", "pause", "step", "set_hyper", "configure", "reset", "set_param", "freeze", "rollback", "trace",
    "early_stopping", "restore_best", "cross_validate", "search", "fine_tune", "replay", "quantize", "importance",
    "landscape", "race", "lr_sweep", "rewind", "fork_at", "inspect"]

MAX_STEPS = 30
MAX_CARD_CHARS = 1500
LESSON_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# Ids the server gives uploaded lessons; a lesson file's own id may not look like one.
UPLOADED_PREFIX = "lesson-"


def _names_unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("unique", "names must not repeat", {"allowed": "each name at most once"})
    return value


# Text a lesson shows is plain words: a card's Markdown subset is drawn as text, never as HTML; a tag in it
# is a mistake to point out, not a thing to escape silently.
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!]")


def _plain(value: str) -> str:
    if _TAG.search(value):
        raise PydanticCustomError("no_html", "HTML tags are not taken",
                                  {"allowed": "plain words and the Markdown subset of docs/lessons.md "
                                              "(**bold**, *italic*, `code`, - lists, blank lines between paragraphs)"})
    return value


def _own_id(value: str) -> str:
    if value.startswith(UPLOADED_PREFIX):
        raise PydanticCustomError("lesson_id", "ids starting with {prefix} are the server's", {
            "prefix": UPLOADED_PREFIX,
            "allowed": f"lower-case letters, digits and dashes, not starting with {UPLOADED_PREFIX}"})
    return value


def _condition(value: str) -> str:
    try:
        conditions.parse(value)
    except conditions.ConditionError as exc:
        raise PydanticCustomError("condition", "{reason}", {
            "reason": str(exc), "allowed": "a condition of docs/lessons.md, e.g. \"hyper.lr >= 3\""}) from None
    return value


_SPEC = re.compile(r"^(\.[0-6][fge%]|g)?$")


def _placeholders(value: str) -> str:
    """`{name}` or `{name:.Nf}` (f, g, e or %, N from 0 to 6) with a name of the condition language."""
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise PydanticCustomError("placeholder", "a brace is not closed or not doubled ({reason})", {
            "reason": str(exc), "allowed": "{name} or {name:.1%} with a name of docs/lessons.md; {{ and }} for braces"
        }) from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in conditions.VARIABLES or conversion is not None or not _SPEC.match(spec or ""):
            raise PydanticCustomError("placeholder", "unknown placeholder {placeholder}", {
                "placeholder": "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}",
                "allowed": "{name}, {name:g} or {name:.Nf} (f, g, e or %, N 0 to 6), name one of "
                           + ", ".join(conditions.VARIABLES)})
    return value


Title = Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_plain)]
Line = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(_plain)]
Card = Annotated[str, Field(min_length=1, max_length=MAX_CARD_CHARS), AfterValidator(_plain)]
Then = Annotated[str, Field(min_length=1, max_length=MAX_CARD_CHARS), AfterValidator(_plain),
                 AfterValidator(_placeholders)]
Condition = Annotated[str, Field(min_length=1, max_length=conditions.MAX_CONDITION_CHARS),
                      AfterValidator(_condition)]


# The lab's settings are the protocol's own messages, `type` given for the writer: the page sends them as they are.
class QuantizeSetup(p.Quantize):
    type: Literal["quantize"] = "quantize"


class EarlyStoppingSetup(p.EarlyStopping):
    type: Literal["early_stopping"] = "early_stopping"


class LabSetup(p.Strict):
    """Lab settings a step starts with (each null: left as it is)."""

    quantize: QuantizeSetup | None = None
    early_stopping: EarlyStoppingSetup | None = None


class Setup(p.Strict):
    """How a step sets the session up: `config` rebuilds the network (as `configure`), `hyper` changes
    hyperparameters live (as `set_hyper`), `lab` sends the lab's messages, `playing` plays or pauses,
    `step_unit` picks what the Step button advances by. What is left out stays as it is."""

    config: p.ConfigPatch | None = None
    hyper: p.HyperPatch | None = None
    lab: LabSetup | None = None
    playing: bool | None = None
    step_unit: Literal["update", "epoch", "phase"] | None = None

    @field_serializer("config", "hyper")
    def _only_given(self, patch: p.Strict | None) -> dict[str, Any] | None:
        # Only the fields the writer gave: in a patch, a field left out means "unchanged".
        return None if patch is None else patch.model_dump(exclude_unset=True)


class Panels(p.Strict):
    show: Annotated[list[PanelName], AfterValidator(_names_unique)] = Field(default_factory=list)
    hide: Annotated[list[PanelName], AfterValidator(_names_unique)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_both(self) -> Panels:
        both = sorted(set(self.show) & set(self.hide))
        if both:
            raise PydanticCustomError("panels", "a panel cannot be both shown and hidden: {names}",
                                      {"names": ", ".join(both), "allowed": "each panel in show or in hide"})
        return self


class Notice(p.Strict):
    """How the page notices the action: `event` (the page sent this message), `when` (a condition on a frame),
    or both (the first frame after the event on which the condition holds)."""

    event: EventName | None = None
    when: Condition | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tree(self) -> list[Any] | None:
        """`when` parsed (`conditions.to_json`): the page evaluates it without a parser of its own."""
        return None if self.when is None else conditions.to_json(conditions.parse(self.when))

    @model_validator(mode="after")
    def _one_at_least(self) -> Notice:
        if self.event is None and self.when is None:
            raise PydanticCustomError("notice", "a notice needs an event, a when, or both",
                                      {"allowed": "event: a message name, when: a condition"})
        return self


class Action(p.Strict):
    """What the step asks the class to do."""

    text: Line
    notice: Notice | None = None


class Step(p.Strict):
    title: Title
    setup: Setup = Field(default_factory=Setup)
    panels: Panels = Field(default_factory=Panels)
    locked: Annotated[list[ControlName], AfterValidator(_names_unique)] = Field(default_factory=list)
    card: Card
    action: Action | None = None
    then: Then | None = None
    highlight: ControlName | None = None


class Lesson(p.Strict):
    id: Annotated[str, Field(min_length=1, max_length=40, pattern=LESSON_ID_PATTERN), AfterValidator(_own_id)]
    title: Title
    summary: Line
    ideas: Annotated[list[IdeaName], Field(min_length=1, max_length=len(IDEAS)), AfterValidator(_names_unique)]
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)]


def vocabulary() -> dict[str, Any]:
    """The names a lesson may use, for the page and for writers: ideas, panels, controls, events, variables."""
    return {
        "ideas": [{"name": name, "title": title} for name, title in IDEAS.items()],
        "panels": PANELS, "controls": CONTROLS, "events": list(get_args(EventName)),
        "variables": {name: {"kind": kind, "from": where} for name, (kind, where) in conditions.VARIABLES.items()},
    }


def fill_then(text: str, values: dict[str, Any]) -> str:
    """A step's `then` with its placeholders filled from `values` (as `conditions.values_from` gives them);
    a name without a value shows as a dash. The reference for the page's own filling."""
    out: list[str] = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None or (isinstance(value, float) and value != value):
            out.append("–")
        elif spec and isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(format(value, spec))
        else:
            out.append(str(value).lower() if isinstance(value, bool) else str(value))
    return "".join(out)

"""Foreign state-dict layouts (timm, torchvision, Hugging Face transformers): which one a checkpoint's keys are in,
and their renaming to ResLab's. Each family states its own layouts beside its builder (`FamilyModel.checkpoints`,
e.g. models/resnet_layouts.py); this module only detects and applies them."""
from __future__ import annotations

import torch
from torch import nn

from ..models import FAMILIES
from ..models.layout_rules import Layout
from ..models.resnet_transformers import TRANSFORMERS_ACTS, TRANSFORMERS_ACTS_IN, transformers_misfits  # noqa: F401
from .errors import WeightsError

HEAD_PREFIXES = ("fc.", "classifier.", "head.fc.")

# family -> its foreign layouts in the order they are tried (read-only; the families hold them)
LAYOUTS: dict[str, list[Layout]] = {name: list(builder.checkpoints.layouts) for name, builder in FAMILIES.items()}


def family_of(model: nn.Module) -> str:
    spec = getattr(model, "spec", None)
    if spec is None:
        raise WeightsError(f"{type(model).__name__} is not a ResLab model (it has no .spec)")
    return spec.to_dict()["family"]


def layouts_of(model: nn.Module) -> tuple[Layout, ...]:
    """The foreign layouts of `model`'s family, in the order they are tried."""
    builder = FAMILIES.get(family_of(model))
    return builder.checkpoints.layouts if builder is not None else ()


def detect_layout(model: nn.Module, keys: list[str]) -> Layout | None:
    """The foreign layout whose keys these are, or None when they already are ResLab's."""
    own = set(model.state_dict())
    if set(keys) <= own and len(own & set(keys)) >= len(own) // 2:
        return None
    for layout in layouts_of(model):
        if layout.detect(keys):
            return layout
    return None


def find_layout(model: nn.Module, name: str) -> Layout:
    layouts = layouts_of(model)
    for layout in layouts:
        if layout.name == name and layout.applies_to(model.spec):
            return layout
    why = [m for layout in layouts if layout.name == name and layout.misfits for m in layout.misfits(model.spec)]
    because = f": {name} cannot express {'; '.join(why)}" if why else ""
    raise WeightsError(f"no {name} layout for this {getattr(model, 'preset', None) or type(model).__name__}"
                       f"{because}; layouts: reslab, {', '.join(sorted({l.name for l in layouts}))}")


def resolve_layout(model: nn.Module, keys: list[str], layout: str = "auto") -> Layout | None:
    """The foreign layout `layout` names ("auto": the one these keys are in), or None for ResLab's own."""
    if layout == "reslab":
        return None
    return detect_layout(model, keys) if layout == "auto" else find_layout(model, layout)


def to_reslab_layout(model: nn.Module, state: dict[str, torch.Tensor], layout: str = "auto") -> dict:
    return rename_to_reslab(state, resolve_layout(model, list(state), layout))


def rename_to_reslab(state: dict[str, torch.Tensor], conv: Layout | None) -> dict:
    """`state`'s keys renamed from the foreign layout `conv` to ResLab's (None: they already are ResLab's)."""
    if conv is None:
        return state
    state = {conv.to_reslab(k): v for k, v in state.items()}
    if conv.head_is_conv:
        state = {k: v.flatten(1) if k.startswith(HEAD_PREFIXES) and v.ndim == 4 else v for k, v in state.items()}
    if conv.tensor_to_reslab is not None:
        state = {k: conv.tensor_to_reslab(k, v) for k, v in state.items()}
    return state

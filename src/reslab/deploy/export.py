"""Shipping a model: BatchNorm folded into convolutions, then ONNX / TorchScript / torch.export files that are
checked numerically against the PyTorch model before they count as written."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
from collections import Counter
from pathlib import Path

import torch
import torch.fx
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.onnx._constants import ONNX_MAX_OPSET, ONNX_MIN_OPSET

from ..choices import EXPORT_FORMATS
from ..errors import ReslabError
from ..util.files import atomic_write, check_writable_folder, write_bytes

FORMATS = EXPORT_FORMATS
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
ONNX_FILE_LIMIT = 2**31  # protobuf's limit on one message: larger models need external data files
METADATA_FILE = "reslab.json"  # the metadata in TorchScript and exported-program archives (ONNX: metadata_props)


class ExportError(ReslabError, ValueError):
    """An export option this format or model cannot honour, or an export that does not match the model."""


class _Tracer(torch.fx.Tracer):
    """fx tracer that keeps the given submodules opaque (called, not traced into)."""

    def __init__(self, opaque: set[int]):
        super().__init__()
        self.opaque = opaque

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return id(m) in self.opaque or super().is_leaf_module(m, qualname)


def conv_norm_pairs(model: nn.Module, prefix: str = "") -> list[tuple[str, str]]:
    """(conv, norm) module paths where the norm's only input is the conv's output and nothing else reads it.

    Found by tracing the forward with torch.fx; a module whose forward cannot be traced (data-dependent Python
    control flow, e.g. selective-kernel attention) is searched one level at a time through its children instead.
    """
    try:
        return _traced_pairs(model, prefix, set())
    except Exception:
        pass
    composites = {name: child for name, child in model.named_children() if next(child.children(), None) is not None}
    try:
        pairs = _traced_pairs(model, prefix, {id(c) for c in composites.values()})
    except Exception:
        pairs = []  # this module's own forward is opaque: only its children's pairs can be folded
    for name, child in composites.items():
        pairs += conv_norm_pairs(child, f"{prefix}{name}.")
    return pairs


def _traced_pairs(model: nn.Module, prefix: str, opaque: set[int]) -> list[tuple[str, str]]:
    graph = _Tracer(opaque).trace(model)
    modules = dict(model.named_modules())
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _BatchNorm):
            continue
        source = node.args[0]
        if (isinstance(source, torch.fx.Node) and source.op == "call_module" and len(source.users) == 1
                and type(modules.get(source.target)) is nn.Conv2d
                and calls[source.target] == calls[node.target] == 1):  # a module called twice cannot fold twice
            pairs.append((prefix + source.target, prefix + node.target))
    return pairs


@torch.no_grad()
def fold_conv_norm(conv: nn.Conv2d, norm: _BatchNorm) -> None:
    """conv <- norm(conv(.)) in eval mode: scale each output filter, shift it through a bias."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps) if norm.affine else torch.rsqrt(
        norm.running_var + norm.eps)
    shift = (norm.bias if norm.affine else 0) - norm.running_mean * scale
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    bias = conv.bias * scale + shift if conv.bias is not None else shift
    conv.bias = nn.Parameter(bias.to(conv.weight.dtype))


def fold_bn(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with every BatchNorm that directly follows a convolution folded into it.

    The result equals the original in eval mode up to float rounding. Norms that precede their convolution
    (pre-activation ResNets, DenseNet: BN-ReLU-conv) cannot be folded: the ReLU between them and the conv's zero
    padding do not commute with the affine; they stay, and `model.unfolded_norms` names them.
    """
    layer_norms = [name for name, m in model.named_modules() if isinstance(m, nn.LayerNorm)]
    if layer_norms:  # e.g. ConvNeXt: nothing to fold, and saying "folded 0" would hide that the option did nothing
        raise ExportError(f"LayerNorm does not fold into a convolution (it normalises with each input's own "
                          f"statistics; {layer_norms[0]} is one): export without folding (fold=False, --no-fold)")
    folded = copy.deepcopy(model).eval()
    for p in folded.parameters():
        p.requires_grad_(False)
    modules = dict(folded.named_modules())
    pairs = conv_norm_pairs(folded)
    for conv_name, norm_name in pairs:
        fold_conv_norm(modules[conv_name], modules[norm_name])
        parent_name, _, child = norm_name.rpartition(".")
        setattr(folded.get_submodule(parent_name) if parent_name else folded, child, nn.Identity())
    done = {norm for _, norm in pairs}
    folded.unfolded_norms = [n for n, m in modules.items() if isinstance(m, _BatchNorm) and n not in done]
    folded.folded_norms = len(done)
    return folded


def export(model: nn.Module, path, fmt: str, *, input_size: int | None = None, batch_size: int = 2,
           fold: bool = True, dynamic_batch: bool = False, opset: int | None = None, tolerance: float = 1e-3
           ) -> dict:
    """Write `model` as `fmt`, reload the file, and compare it with the eager model on random input.

    The file carries `export_metadata` (input layout and size, mean/std, interpolation, crop_pct, class names):
    ONNX in its metadata_props, TorchScript and exported-program files as the extra file reslab.json
    (`read_metadata` reads any of them). It is written beside `path` under a temporary name, checked, then
    renamed: a failed check, a full disk or a crash leaves no file and any previous `path` untouched. Returns
    {"path", "format", "max_abs_diff", "batch_checked", "folded_norms", "unfolded_norms", "metadata"}; raises
    ExportError when the difference exceeds `tolerance` or an option does not apply to `fmt`.
    """
    path = Path(path)
    _check_options(fmt, path, input_size=input_size, batch_size=batch_size, dynamic_batch=dynamic_batch,
                   opset=opset, tolerance=tolerance)
    spec = model.spec
    size = input_size or spec.input_size
    reference = copy.deepcopy(model).eval()
    shipped = fold_bn(model) if fold else reference
    x = torch.randn(batch_size, spec.in_chans, size, size)
    # an audio model takes any number of frames: ONNX and TorchScript files are checked on another length too
    frames = size + 23 if model.time_axis is not None and fmt != "exported-program" else size
    probe = x if not dynamic_batch and frames == size else torch.randn(batch_size + dynamic_batch, spec.in_chans,
                                                                         size, frames)
    with torch.no_grad():
        expected = reference(probe)
    metadata = export_metadata(model, size)
    with _without_exporter_noise():
        data = WRITERS[fmt](shipped, x, dynamic_batch, opset, metadata)
        diff = atomic_write(path, lambda tmp: _write_checked(fmt, tmp, data, probe, expected, tolerance, path))
    return {"path": str(path), "format": fmt, "max_abs_diff": diff, "batch_checked": probe.shape[0],
            "folded_norms": getattr(shipped, "folded_norms", 0),
            "unfolded_norms": getattr(shipped, "unfolded_norms", []),
            "metadata": metadata}


def export_metadata(model: nn.Module, input_size: int) -> dict[str, str]:
    """What a program that runs the file needs besides its graph, as strings (ONNX metadata is string to string):
    the input's name, layout and size, how an image becomes that input (interpolation, crop_pct, mean, std; all of
    it as `preprocessing` JSON, audio features included), and the class names (JSON) of the output's columns."""
    pre = model.preprocessing
    in_chans = model.spec.in_chans
    if pre.audio is not None:
        layout = "N x 1 x mel bands x frames, float32: a clip's log-mel features (preprocessing.audio), normalised"
    else:
        colours = {1: "greyscale", 3: "RGB"}.get(in_chans, f"{in_chans} channels")
        layout = f"NCHW float32, {colours} scaled to [0, 1], then (x - mean) / std per channel"
    metadata = {"input_name": "images", "output_name": "logits", "input_layout": layout,
                "input_size": str(input_size), "interpolation": pre.interpolation, "crop_pct": f"{pre.crop_pct:g}",
                "mean": json.dumps(list(pre.mean)), "std": json.dumps(list(pre.std)),
                "preprocessing": json.dumps({**pre.to_dict(), "input_size": input_size})}
    if model.classes:
        metadata["classes"] = json.dumps(list(model.classes))
    return metadata


def read_metadata(path, fmt: str) -> dict[str, str]:
    """The metadata `export` wrote into the file at `path`."""
    if fmt == "onnx":
        import onnx

        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    extra = {METADATA_FILE: ""}
    with _without_exporter_noise():
        if fmt == "torchscript":
            torch.jit.load(str(path), _extra_files=extra)
        else:
            torch.export.load(str(path), extra_files=extra)
    return json.loads(extra[METADATA_FILE] or "{}")


@contextlib.contextmanager
def _without_exporter_noise():
    """The exporters' warnings that say nothing about the model being exported: constant folding skipped on a
    strided slice (option-A shortcuts), and TorchScript's deprecation (the command line says it once)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


def _write_checked(fmt: str, tmp: str, data: bytes, probe, expected, tolerance: float, path: Path) -> float:
    """Write `data` to `tmp`, run that file on `probe`; its max abs difference to `expected`, or ExportError."""
    write_bytes(tmp, data)
    try:
        got = RUNNERS[fmt](tmp, probe)
    except Exception as e:  # the runtime's own complaint, whatever its type: the file is unusable
        raise ExportError(f"the {fmt} file cannot be loaded back to check it ({type(e).__name__}: "
                          f"{(str(e).strip().splitlines() or [''])[0]}); {path} not written") from None
    if got.shape != expected.shape:
        raise ExportError(f"{fmt} export returns shape {tuple(got.shape)}, the model {tuple(expected.shape)}; "
                          f"{path} not written")
    diff = (got - expected).abs().max().item()
    if not diff <= tolerance:
        raise ExportError(f"{fmt} export differs from the PyTorch model by {diff:.3g} (> {tolerance}); "
                          f"{path} not written")
    return diff


def check_output(path, fmt: str, source=None) -> None:
    """Where an export goes, checked before anything is loaded or traced: a file name (not a folder) in a folder
    that can be written (not under a file), ending .pt2 for an exported program, and never `source`, the
    checkpoint being exported (symlinks and hard links included)."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"output {path} is a folder: give a file name, e.g. {path / ('model' + SUFFIXES[fmt])}")
    if fmt == "exported-program" and path.suffix != ".pt2":
        raise ExportError(f"exported-program output {path.name!r} must end in .pt2: torch.export only loads "
                          "archives with that suffix")
    if source is not None and _same_file(path, Path(source)):
        raise ExportError(f"output {path} is the checkpoint being exported ({source}): the export would replace "
                          f"it; name another file, e.g. {path.with_suffix(SUFFIXES[fmt])}")
    check_writable_folder(path.parent, ExportError)


def _same_file(a: Path, b: Path) -> bool:
    """`a` and `b` are one file: the same path once symlinks are resolved, or (both existing) one inode."""
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def _check_options(fmt: str, path: Path, *, input_size, batch_size, dynamic_batch, opset, tolerance) -> None:
    """Every option checked before anything is traced or written."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: choose one of {list(FORMATS)}")
    check_output(path, fmt)
    if input_size is not None and input_size < 1:
        raise ExportError(f"--input-size must be a positive number of pixels, got {input_size}")
    if batch_size < 1:
        raise ExportError(f"--batch-size must be at least 1, got {batch_size}")
    if not tolerance >= 0:  # also refuses NaN, which no difference would ever exceed
        raise ExportError(f"--tolerance must be a number >= 0, got {tolerance}")
    if opset is not None and fmt != "onnx":
        raise ExportError(f"--opset applies only to onnx: {fmt} files have no operator-set version")
    if opset is not None and not ONNX_MIN_OPSET <= opset <= ONNX_MAX_OPSET:
        raise ExportError(f"--opset {opset}: this PyTorch exports ONNX opsets {ONNX_MIN_OPSET} to {ONNX_MAX_OPSET}")
    if dynamic_batch and fmt == "torchscript":
        raise ExportError("--dynamic-batch is not supported for torchscript: tracing records the example's shapes, "
                          "so another batch size is not guaranteed; use onnx or exported-program")


def _write_onnx(model, x, dynamic_batch, opset, metadata) -> bytes:
    try:
        import onnx
        import onnxruntime  # noqa: F401  (the check needs it)
    except ImportError:
        raise ExportError("onnx export needs the onnx and onnxruntime packages: pip install 'reslab[export]'") from None
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if weights >= ONNX_FILE_LIMIT:
        raise ExportError(f"the model's {weights / 2**30:.1f} GiB of weights do not fit in one .onnx file (2 GiB at "
                          "most); use --format exported-program or torchscript")
    axes = {"images": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else {}
    if model.time_axis is not None:
        axes.setdefault("images", {})[model.time_axis] = "frames"
    buffer = io.BytesIO()
    # the TorchScript-based exporter: the dynamo one needs onnxscript, which ResLab does not depend on
    torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["images"], output_names=["logits"],
                      dynamic_axes=axes or None, opset_version=opset or 17)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, metadata)
    return proto.SerializeToString()


def _run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"images": x.numpy()})[0])


def _write_torchscript(model, x, dynamic_batch, opset, metadata) -> bytes:
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.jit.save(torch.jit.trace(model, x), buffer, _extra_files={METADATA_FILE: json.dumps(metadata)})
    return buffer.getvalue()


def _run_torchscript(path, x):
    with torch.no_grad():
        return torch.jit.load(str(path))(x)


def _write_exported_program(model, x, dynamic_batch, opset, metadata) -> bytes:
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(model, (x,), dynamic_shapes=shapes), buffer,
                      extra_files={METADATA_FILE: json.dumps(metadata)})
    return buffer.getvalue()


def _run_exported_program(path, x):
    with torch.no_grad():
        return torch.export.load(str(path)).module()(x)


# each writer returns the file's bytes: written by write_bytes, a full disk is an OSError, never a native abort
WRITERS = {"onnx": _write_onnx, "torchscript": _write_torchscript, "exported-program": _write_exported_program}
RUNNERS = {"onnx": _run_onnx, "torchscript": _run_torchscript, "exported-program": _run_exported_program}

"""The shape of the code: no import cycles, a torch-free spec, one family protocol every builder follows, every
family registered once."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import reslab
from families import FAMILY_NAMES, presets_by_size, smallest_preset
from reslab.models import BUILDERS, CRNN, FAMILIES
from reslab.models.protocol import FamilyModel
from reslab.spec import SPEC_TYPES, CRNNSpec

PACKAGE = Path(reslab.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """module -> the reslab modules it imports, read from the source; imports inside functions count too."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                root = ".".join(base + [node.module] if node.module else base)
                # `from pkg import sub` needs the submodule; `from pkg import name` needs pkg itself
                targets = [f"{root}.{a.name}" if f"{root}.{a.name}" in modules else root for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_reslab_has_no_import_cycles():
    graph = import_graph()
    assert "reslab.spec.resnet" in graph["reslab.spec"]  # the reader sees relative imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_specs_and_presets_import_without_torch():
    code = "import reslab, sys; reslab.get_spec('resnet50d'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_spec_family_has_one_builder_and_presets():
    """The builder table is derived from the families' own registrations (their builders' spec_type)."""
    assert set(FAMILIES) == set(SPEC_TYPES) == {"resnet", "densenet", "convnext", "crnn"}
    assert BUILDERS == {SPEC_TYPES[family]: builder for family, builder in FAMILIES.items()}
    families_with_presets = {p.spec.family for p in reslab.list_presets()}
    assert families_with_presets == set(SPEC_TYPES)


def test_a_second_builder_for_a_family_is_refused():
    with pytest.raises(TypeError, match="family 'crnn' has two builders"):
        type("AnotherCRNN", (FamilyModel,), {"spec_type": CRNNSpec})
    assert FAMILIES["crnn"] is CRNN


# the variants the builders build most differently (deep stem, ImageNet DenseNet, RegNet, space-to-depth stem,
# CIFAR), then the smallest preset of every family
PROTOCOL_MODELS = ["resnet50d", "densenet121", "regnety_002", "tresnet_m", "resnet20_cifar",
                   *map(smallest_preset, FAMILY_NAMES)]


@pytest.mark.parametrize("name", PROTOCOL_MODELS)
def test_every_family_follows_the_protocol(name):
    model = reslab.create_model(name, input_size=64).eval()
    assert isinstance(model, FamilyModel) and type(model) is FAMILIES[model.spec.family]
    x = torch.randn(2, *model.cost_input_shape()[1:])  # an image, or an audio model's frames of 64 mel bands
    assert x.shape[1:3] == (model.spec.in_chans, 64)
    # feature_info was recorded while building: it matches what the stem and stages really output
    assert [f["index"] for f in model.feature_info] == list(range(len(model.stages) + 1))
    y = model.forward_stem(x)
    for info, stage in zip(model.feature_info, [None, *model.stages]):
        y = y if stage is None else stage(y)
        assert (info["num_chs"], info["reduction"]) == (y.shape[1], 64 // y.shape[2]), info
    first = dict(model.named_modules())[model.first_conv]
    assert isinstance(first, torch.nn.Conv2d)
    model.reset_classifier(7)
    assert model(x).shape == (2, 7) and model.spec.num_classes == 7 and model.get_classifier().out_features == 7
    if model.time_axis is None:  # an image model's cost is counted on a square image
        assert x.shape[2] == x.shape[3] == 64
    else:  # an audio model takes any number of frames
        shape = list(x.shape)
        shape[model.time_axis] = 2 * shape[model.time_axis] + 1
        assert model(torch.randn(shape)).shape == (2, 7)


def test_grad_checkpointing_gives_the_same_gradients():
    model = reslab.create_model("resnet18", num_classes=3, input_size=32)
    x = torch.randn(2, 3, 32, 32)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for a, p in zip(plain, model.parameters()):
        torch.testing.assert_close(a, p.grad)


def test_integer_fields_refuse_booleans():
    with pytest.raises(reslab.SpecError, match="groups"):
        reslab.ResNetSpec(groups=True)
    with pytest.raises(reslab.SpecError, match="growth_rate"):
        reslab.get_spec("densenet121").replace(growth_rate=True)


def test_every_command_takes_a_checkpoint_saved_from_a_built_spec(tmp_path, tiny_folder):
    """One checkpoint-to-model path (weights.load_model): predict, eval and export all read a file saved from
    `build(spec)`, which carries a spec but no preset, preprocessing or class names."""
    from bad_inputs.harness import run_cli

    spec = reslab.get_spec("resnet20_cifar").replace(depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4,
                                                     num_classes=2, input_size=16)
    path = reslab.save_weights(reslab.build(spec), tmp_path / "built.safetensors")
    predicted = run_cli(["predict", tiny_folder / "val", "--checkpoint", path, "--topk", "1"])
    assert predicted.code == 0 and predicted.out.count("\n") == 8, predicted.err  # 8 val images, one line each
    evaluated = run_cli(["eval", "--checkpoint", path, "--data", tiny_folder, "--json",
                         "--confusion", tmp_path / "c.png"])
    assert evaluated.code == 0 and '"images": 8' in evaluated.out, evaluated.err
    exported = run_cli(["export", path, "--format", "torchscript", "--output", tmp_path / "m.pt"])
    assert exported.code == 0 and (tmp_path / "m.pt").stat().st_size > 0, exported.err


def test_renamed_presets_keep_working_under_their_old_names():
    with pytest.warns(FutureWarning, match="resnet50d"):
        assert reslab.get_preset("gluon_resnet50_v1d") is reslab.get_preset("resnet50d")
    assert "tv_resnet50" not in reslab.list_models()  # current names only


def _layout_cases():
    """(family, layout index, the smallest preset the layout can express) for every foreign layout of every family."""
    for family in FAMILY_NAMES:
        for i, layout in enumerate(FAMILIES[family].checkpoints.layouts):
            name = next(p.name for p in presets_by_size(family) if layout.applies_to(p.spec))
            yield pytest.param(family, i, name, id=f"{family}-{layout.name}-{name}")


@pytest.mark.parametrize("family, index, name", list(_layout_cases()))
def test_every_family_layout_renames_its_keys_there_and_back(family, index, name):
    """A family's rules (models/<family>_layouts.py) are consistent: ResLab's keys written in a foreign layout read
    back as themselves, and the written keys are recognised as that layout (or are ResLab's own)."""
    from reslab.models.cost import on_meta
    from reslab.weights import detect_layout

    layout = FAMILIES[family].checkpoints.layouts[index]
    model = on_meta(lambda: reslab.create_model(name))
    keys = list(model.state_dict())
    theirs = [layout.from_reslab(k) for k in keys]
    assert [layout.to_reslab(k) for k in theirs] == keys
    found = detect_layout(model, theirs)
    assert (found is None and theirs == keys) or found is layout, (found, layout)

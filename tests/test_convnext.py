"""ConvNeXt (Liu et al. 2022) and ConvNeXt-V2 (Woo et al. 2023) as their own family: networks equal to timm 1.0.29's
and torchvision's (oracles, both ways), the family protocol (features, FPN detection), and bad input refused."""
import pytest
import torch
from torchvision.models.detection import FasterRCNN

import reslab
from oracles import assert_same_logits, build_oracle, param_count
from reslab.deploy.export import ExportError, export, fold_bn
from reslab.layers import LayerNorm2d
from reslab.models.convnext import ConvNeXt
from reslab.presets.convnext import REGISTERED
from reslab.weights import WeightsError

# a depth-reduced atto: the whole family's code paths at a fraction of the cost
TINY = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64), "stem_channels": 8}


def perturb_norms_and_scales(model: torch.nn.Module) -> None:
    """Non-trivial LayerNorm affines, GRN factors (zero at init) and layer scales (1e-6 at init, which would hide
    a wrong block): every parameter that is not a convolution or a linear weight, drawn at random."""
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 or name.endswith("layer_scale"):
                scale = name.endswith(("weight", "gamma", "layer_scale"))
                p.copy_(torch.rand(p.shape, generator=g) + 0.5 if scale else torch.randn(p.shape, generator=g) * 0.1)


def torchvision_convnext(depths=TINY["depths"], dims=TINY["dims"]):
    """torchvision's ConvNeXt class at a reduced size (convnext_tiny to _large are this class at their sizes)."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt as TorchvisionConvNeXt

    outs = list(dims[1:]) + [None]
    return TorchvisionConvNeXt([CNBlockConfig(c, o, d) for c, o, d in zip(dims, outs, depths)]).eval()


ORACLES = {("convnext_atto", "timm"): lambda: build_oracle("timm", "convnext_atto"),
           ("convnextv2_atto", "timm"): lambda: build_oracle("timm", "convnextv2_atto"),
           ("convnext_tiny", "torchvision"): torchvision_convnext}


@pytest.mark.parametrize("name, zoo", list(ORACLES))
def test_oracle_weights_load_with_equal_logits_and_export_back_strictly(name, zoo, tmp_path):
    oracle = ORACLES[name, zoo]()
    perturb_norms_and_scales(oracle)
    torch.save(oracle.state_dict(), tmp_path / "oracle.pth")
    size = TINY if zoo == "torchvision" else {}
    model = reslab.create_model(name, weights=str(tmp_path / "oracle.pth"), **size).eval()
    assert isinstance(model, ConvNeXt)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = oracle(x)
        assert_same_logits(model(x), expected)
    reslab.save_weights(model, tmp_path / "back.pth", layout=zoo)
    fresh = ORACLES[name, zoo]()
    fresh.load_state_dict(torch.load(tmp_path / "back.pth", weights_only=True), strict=True)
    with torch.no_grad():
        assert_same_logits(fresh(x), expected)


def test_every_preset_has_timms_parameter_count():
    import timm

    for name in [n for n in REGISTERED if reslab.get_preset(n).timm]:
        with torch.device("meta"):
            theirs = sum(p.numel() for p in timm.create_model(name).parameters())
        assert param_count(reslab.get_spec(name)) == theirs, name


@pytest.mark.parametrize("name", [n for n in REGISTERED if reslab.get_preset(n).params_m_paper])
def test_parameter_counts_round_to_the_papers(name):
    # Liu et al. 2022 Table 1 gives whole millions (T: 28.59M printed as 28M), Woo et al. 2023 one decimal
    preset = reslab.get_preset(name)
    assert param_count(preset.spec) / 1e6 == pytest.approx(preset.params_m_paper, rel=0.025)


def test_stage_outputs_sit_at_timms_feature_reductions():
    import timm

    theirs = timm.create_model("convnext_atto", features_only=True, out_indices=(0, 1, 2, 3)).feature_info
    model = reslab.create_model("convnext_atto", features_only=True)
    maps = model(torch.randn(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [d["num_chs"] for d in model.feature_info] == theirs.channels()
    assert [64 // m.shape[-1] for m in maps] == [d["reduction"] for d in model.feature_info] == theirs.reduction()


def test_convnext_backbone_with_fpn_trains_and_predicts_in_faster_rcnn():
    backbone = reslab.backbone_with_fpn("convnext_atto", out_channels=16, trainable_from="stage1", **TINY)
    detector = FasterRCNN(backbone, num_classes=3, min_size=64, max_size=64, rpn_pre_nms_top_n_train=30,
                          rpn_post_nms_top_n_train=10, rpn_pre_nms_top_n_test=30, rpn_post_nms_top_n_test=5,
                          box_batch_size_per_image=8, rpn_batch_size_per_image=16)
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 40.0, 48.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[4.0, 10.0, 30.0, 30.0]]), "labels": torch.tensor([2])}]
    losses = detector.train()(images, targets)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    body = detector.backbone.body.model
    assert body.stages[3].blocks[0].fc1.weight.grad.abs().sum() > 0
    assert body.stem[0].weight.grad is None  # the stem stays frozen
    with torch.no_grad():
        out = detector.eval()(images)
    assert len(out) == 2 and all(o["boxes"].shape[1] == 4 for o in out)


def test_layer_norm_2d_normalises_each_pixels_channels_in_either_memory_format():
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.1, 0.1)
    x = torch.randn(2, 6, 5, 4)
    expected = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), norm.weight, norm.bias, 1e-6)
    assert torch.allclose(norm(x), expected.permute(0, 3, 1, 2), atol=1e-6)
    assert torch.allclose(norm(x.contiguous(memory_format=torch.channels_last)), norm(x), atol=1e-6)


def test_spec_round_trips_through_json_and_checkpoints(tmp_path):
    spec = reslab.get_spec("convnextv2_atto").replace(**TINY, drop_path_rate=0.1)
    assert reslab.from_dict(spec.to_dict()) == spec
    model = reslab.create_model(spec).eval()
    path = reslab.save_weights(model, tmp_path / "c.safetensors")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(reslab.weights.load_model(path).eval()(x), model(x))


def test_layer_norm_does_not_fold_and_export_says_to_export_without_folding(tmp_path):
    model = reslab.create_model("convnext_atto", **TINY)
    with pytest.raises(ExportError, match="LayerNorm does not fold.*export without folding"):
        export(model, tmp_path / "m.pt", "torchscript", input_size=32)
    assert not (tmp_path / "m.pt").exists()
    assert export(model, tmp_path / "m.pt", "torchscript", input_size=32, fold=False)["max_abs_diff"] < 1e-4


def test_batchnorm_roadmap_steps_still_fold():
    model = reslab.create_model("convnext_roadmap_10_fewer_norms", depths=(1, 1, 1, 1)).eval()
    folded = fold_bn(model)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert_same_logits(folded(x), model(x))
    assert folded.folded_norms > 0 and not folded.unfolded_norms


def test_roadmap_step_cannot_be_exported_to_timm_and_the_error_says_why(tmp_path):
    model = reslab.create_model("convnext_roadmap_06_dw_up", depths=(1, 1, 1, 1))
    with pytest.raises(WeightsError, match="no timm layout.*BatchNorm"):
        reslab.save_weights(model, tmp_path / "x.pth", layout="timm")


@pytest.mark.parametrize("changes, message", [
    ({"output_stride": 8}, "output_stride=8 is not supported"),
    ({"stem_channels": 64}, "stem_channels=64 must equal dims[0]=96"),
    ({"dims": (96, 192)}, "dims has 2 values but depths 4"),
    ({"kernel_size": 4}, "kernel_size=4 must be odd"),
    ({"norm": "group"}, "norm='group' is not one of"),
    ({"group_width": 5}, "group_width=5 does not divide"),
    ({"hidden_ratio": 0}, "hidden_ratio must be a positive number"),
    ({"input_size": 16}, "input_size=16 is too small"),
])
def test_invalid_specs_are_refused_in_one_line_naming_the_field(changes, message):
    with pytest.raises(reslab.SpecError) as e:
        reslab.get_spec("convnext_tiny").replace(**changes)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_stochastic_depth_and_layer_scale_act_as_specified():
    spec = reslab.get_spec("convnext_atto").replace(**TINY, drop_path_rate=0.5)
    model = reslab.build(spec)
    assert [b.drop_path.rate for s in model.stages for b in s.blocks] == pytest.approx([0, 1 / 6, 1 / 3, 0.5])
    assert torch.all(model.stages[0].blocks[0].layer_scale.gamma == 1e-6)
    x = torch.randn(2, 3, 32, 32)
    assert not torch.equal(model.train()(x), model(x))
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))

"""Backbones: stage feature maps for every family, an FPN that torchvision's Faster R-CNN accepts, dense heads."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection import FasterRCNN

import reslab
from reslab.models.features import FeatureError

FAMILIES = {
    "resnet18": {"widths": (8, 16, 32, 64)},
    "resnet50d": {"widths": (8, 16, 32, 64), "depths": (1, 1, 1, 1)},
    "preactresnet18": {"widths": (8, 16, 32, 64)},
    "resnest14d": {"widths": (8, 16, 32, 64), "depths": (1, 1, 1, 1)},
    "densenet121": {"block_config": (1, 1, 1, 1), "growth_rate": 8},
    "resnet20_cifar": {},
}


@pytest.mark.parametrize("name", FAMILIES)
def test_features_only_returns_the_chosen_maps_with_their_channels_and_reduction(name):
    model = reslab.create_model(name, features_only=True, out_indices=(0, 2, 3), **FAMILIES[name]).eval()
    size = 64
    maps = model(torch.randn(2, 3, size, size))
    assert [d["index"] for d in model.feature_info] == [0, 2, 3]
    assert len(maps) == 3
    for m, info in zip(maps, model.feature_info):
        assert m.shape[1] == info["num_chs"]
        assert m.shape[-1] == size // info["reduction"]


def test_feature_maps_equal_the_classifier_networks_stage_outputs():
    full = reslab.create_model("resnet18", **FAMILIES["resnet18"]).eval()
    feats = reslab.create_model("resnet18", features_only=True, **FAMILIES["resnet18"]).eval()
    feats.model.load_state_dict(full.state_dict())
    x = torch.randn(1, 3, 64, 64)
    stage4 = full.layer4(full.layer3(full.layer2(full.layer1(full.forward_stem(x)))))
    assert torch.equal(feats(x)[-1], stage4)
    assert [d["reduction"] for d in feats.feature_info] == [4, 8, 16, 32]


@pytest.mark.parametrize("output_stride,reductions", [(16, [4, 8, 16, 16]), (8, [4, 8, 8, 8])])
def test_output_stride_dilates_the_last_stages(output_stride, reductions):
    model = reslab.create_model("resnet18", features_only=True, output_stride=output_stride, **FAMILIES["resnet18"])
    maps = model(torch.randn(1, 3, 64, 64))
    assert [d["reduction"] for d in model.feature_info] == reductions
    assert [64 // m.shape[-1] for m in maps] == reductions


def test_bad_out_indices_name_the_valid_ones():
    with pytest.raises(FeatureError, match=r"\[0, 1, 2, 3, 4\]"):
        reslab.create_model("resnet18", features_only=True, out_indices=(2, 5), **FAMILIES["resnet18"])


def tiny_faster_rcnn():
    backbone = reslab.backbone_with_fpn("resnet50d", out_channels=32, widths=(8, 16, 32, 64), depths=(1, 1, 1, 1))
    return FasterRCNN(backbone, num_classes=3, min_size=96, max_size=128, rpn_pre_nms_top_n_train=50,
                      rpn_post_nms_top_n_train=20, rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=10,
                      box_batch_size_per_image=16, rpn_batch_size_per_image=32)


@pytest.mark.slow
def test_faster_rcnn_on_a_reslab_resnet50d_backbone_trains_and_predicts():
    detector = tiny_faster_rcnn()
    images = [torch.rand(3, 96, 112), torch.rand(3, 80, 96)]
    targets = [{"boxes": torch.tensor([[10.0, 12.0, 60.0, 70.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[5.0, 5.0, 40.0, 30.0], [30.0, 20.0, 90.0, 70.0]]),
                "labels": torch.tensor([2, 1])}]
    detector.train()
    losses = detector(images, targets)
    total = sum(losses.values())
    assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert torch.isfinite(total)
    total.backward()
    stage4 = detector.backbone.body.model.layer4[0].conv1.weight
    assert stage4.grad is not None and stage4.grad.abs().sum() > 0
    assert detector.backbone.body.model.conv1[0].weight.grad is None  # the stem stays frozen, as in torchvision
    detector.eval()
    with torch.no_grad():
        out = detector(images)
    assert len(out) == 2 and all(o["boxes"].shape[1] == 4 and o["boxes"].shape[0] <= 100 for o in out)


class TinyFCN(nn.Module):
    """FCN-style head (Long et al. 2015) on stride-8 dilated features plus the stage-2 map, upsampled to the input."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.backbone = reslab.create_model("resnet18", features_only=True, out_indices=(2, 4), output_stride=8,
                                            **FAMILIES["resnet18"])
        channels = sum(d["num_chs"] for d in self.backbone.feature_info)
        self.head = nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, num_classes, 1))

    def forward(self, x):
        low, high = self.backbone(x)
        return F.interpolate(self.head(torch.cat([low, high], 1)), size=x.shape[-2:], mode="bilinear")


def test_fcn_on_dilated_multi_scale_features_trains_a_step():
    model = TinyFCN(num_classes=4).train()
    x, target = torch.randn(2, 3, 64, 64), torch.randint(0, 4, (2, 64, 64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(x), target)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert model.backbone.model.layer4[0].conv1.dilation == (2, 2)
    with torch.no_grad():
        assert F.cross_entropy(model(x), target) < loss  # the step went downhill on this batch


def test_backbone_trainable_from_freezes_the_parts_before_it_and_rejects_unknown_parts():
    backbone = reslab.backbone_with_fpn("resnet18", out_channels=16, trainable_from="stage3", **FAMILIES["resnet18"])
    model = backbone.body.model
    assert not model.layer2[0].conv1.weight.requires_grad and model.layer3[0].conv1.weight.requires_grad
    with pytest.raises(reslab.models.finetune.FinetuneError, match="choose one of"):
        reslab.backbone_with_fpn("resnet18", trainable_from="head", **FAMILIES["resnet18"])

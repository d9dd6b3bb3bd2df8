"""Pose estimation, the third dense task beside detection and segmentation: ResLab backbones with a feature
pyramid plug into torchvision's Keypoint R-CNN (He et al. 2017), which trains and predicts keypoints on them."""
import pytest
import torch
from torchvision.models.detection import KeypointRCNN
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor

import reslab

NUM_KEYPOINTS = 5
# small backbones: the protocol is what is tested, not the capacity
BACKBONES = {"resnet18": {"widths": (8, 16, 32, 64)},
             "convnext_atto": {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64), "stem_channels": 8}}


def tiny_keypoint_rcnn(name: str) -> KeypointRCNN:
    backbone = reslab.backbone_with_fpn(name, out_channels=16, **BACKBONES[name])
    # a two-layer keypoint head instead of torchvision's eight 512-channel convolutions
    return KeypointRCNN(backbone, num_classes=2, min_size=64, max_size=64, rpn_pre_nms_top_n_train=30,
                        rpn_post_nms_top_n_train=10, rpn_pre_nms_top_n_test=30, rpn_post_nms_top_n_test=5,
                        box_batch_size_per_image=8, rpn_batch_size_per_image=16,
                        keypoint_head=KeypointRCNNHeads(16, (16, 16)),
                        keypoint_predictor=KeypointRCNNPredictor(16, NUM_KEYPOINTS))


def person(box: list[float]) -> dict:
    x0, y0, x1, y1 = box
    xs, ys = torch.linspace(x0 + 2, x1 - 2, NUM_KEYPOINTS), torch.linspace(y0 + 2, y1 - 2, NUM_KEYPOINTS)
    keypoints = torch.stack([xs, ys, torch.ones(NUM_KEYPOINTS)], 1)[None]  # (instances, K, [x, y, visible])
    return {"boxes": torch.tensor([box]), "labels": torch.tensor([1]), "keypoints": keypoints}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_keypoint_rcnn_on_a_reslab_backbone_trains_a_step_and_predicts_keypoints(name):
    torch.manual_seed(0)
    model = tiny_keypoint_rcnn(name)
    images = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    targets = [person([8.0, 6.0, 40.0, 56.0]), person([20.0, 12.0, 60.0, 50.0])]
    losses = model.train()(images, targets)
    assert "loss_keypoint" in losses and all(torch.isfinite(v) for v in losses.values())
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    sum(losses.values()).backward()
    last_stage = model.backbone.body.model.stages[-1]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in last_stage.parameters())
    optimizer.step()
    with torch.no_grad():
        out = model.eval()(images)
    assert len(out) == 2
    for o in out:
        assert o["keypoints"].shape[1:] == (NUM_KEYPOINTS, 3) and o["keypoints"].shape[0] == o["boxes"].shape[0]

"""ResLab's own trained weights, shipped in the package: they load offline by name, score on the real CIFAR-10
validation images exactly what their catalogue entry records, and `reslab predict` names real images' classes."""
import json
from pathlib import Path

import pytest
import torch

import reslab
from reslab.weights.catalogue import get_weights

TAG = "resnet20_cifar.reslab_cifar10"
CIFAR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10-jpeg"
need_cifar = pytest.mark.skipif(not CIFAR.is_dir(), reason="../shared/data/cifar10-jpeg is not beside the project")


def test_the_shipped_tag_is_the_presets_default_and_loads_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache: nothing could come from it
    by_preset = reslab.create_model("resnet20_cifar", pretrained=True)
    by_tag = reslab.create_model(TAG, pretrained=True)
    assert by_preset.weights_tag == by_tag.weights_tag == TAG
    assert by_preset.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                 "truck"]
    entry = get_weights(TAG)
    assert {"recipe", "epochs", "seed", "command"} <= set(entry.extra) and "reslab train" in entry.extra["command"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(by_preset.eval()(x), by_tag.eval()(x))


@pytest.mark.slow  # decodes the 5,000 validation JPEGs on a cold cache
@need_cifar
def test_the_shipped_weights_score_what_the_catalogue_records_on_the_real_validation_images():
    from reslab.train.evaluate import evaluate_model

    result = evaluate_model(reslab.create_model(TAG, pretrained=True), str(CIFAR), device="cpu")
    assert result.images == 5000
    assert round(100 * result.top1, 2) == get_weights(TAG).top1


@need_cifar
def test_predict_names_the_class_the_model_gives_real_images(tmp_path):
    from PIL import Image

    from reslab.cli import main
    from reslab.data.transforms import eval_transform

    images = [sorted((CIFAR / "val" / c).glob("*.jpg"))[0] for c in ("airplane", "frog", "ship", "truck")]
    out = tmp_path / "p.json"
    assert main(["predict", *map(str, images), "--model", "resnet20_cifar", "--pretrained", "--output", str(out)]) == 0
    printed = [row["predictions"][0]["class"] for row in json.loads(out.read_text())]
    model = reslab.create_model(TAG, pretrained=True).eval()
    transform = eval_transform(model.preprocessing, 32)
    with torch.no_grad():
        logits = model(torch.stack([transform(Image.open(p).convert("RGB")) for p in images]))
    assert printed == [model.classes[i] for i in logits.argmax(1).tolist()]

"""Every model carries its card (preset, weights tag, classes, class ids, preprocessing), so that a bare
`reslab.build(spec)` works wherever a loaded model does, and what create_model or a checkpoint says is on it."""
import pytest
import torch

import reslab
from reslab.data import open_splits
from reslab.deploy.predict import Predictor
from reslab.selfsup.knn import knn_top1
from reslab.train.evaluate import evaluate_model
from reslab.weights import load_model

TINY = reslab.get_spec("resnet20_cifar").replace(depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4)


def test_a_bare_build_has_a_card_with_its_specs_preprocessing():
    model = reslab.build(TINY)
    assert (model.preset, model.weights_tag, model.classes, model.class_ids) == (None, None, None, None)
    assert model.preprocessing.input_size == TINY.input_size and len(model.preprocessing.mean) == TINY.in_chans
    grey = reslab.build(TINY.replace(in_chans=1))
    assert len(grey.preprocessing.mean) == 1 and len(grey.preprocessing.std) == 1
    clip_model = reslab.build(reslab.get_spec("resnet_crnn"))
    assert clip_model.preprocessing.audio is not None  # an audio family's default reads log-mel features
    assert clip_model.preprocessing.audio.n_mels == clip_model.spec.input_size


def test_a_bare_build_predicts_evaluates_embeds_and_exports(tmp_path):
    # these raised AttributeError on a model from reslab.build (no .classes, no .preprocessing, no .preset)
    torch.manual_seed(0)
    model = reslab.build(TINY.replace(input_size=16)).eval()
    answers = Predictor(model).predict([torch.rand(3, 16, 16)], topk=2)
    assert len(answers[0]) == 2 and all(label in range(10) for label, _ in answers[0])  # no names: indices
    result = evaluate_model(model, None)  # the built-in digits
    assert 0 <= result.top1 <= 1 and result.loss == result.loss
    splits = open_splits(None)
    knn = knn_top1(model, splits["train"], splits["val"], torch.device("cpu"), k=5, batch_size=256)
    assert 0 <= knn.top1 <= 1
    from reslab.deploy.export import export

    export(model, tmp_path / "m.onnx", "onnx", input_size=16)
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_the_card_is_filled_one_way_and_refuses_other_fields():
    model = reslab.build(TINY)
    assert model.describe(classes=["a"] * 10).classes == ["a"] * 10
    with pytest.raises(TypeError, match="not model card fields: colour"):
        model.describe(colour="red")


def test_create_model_and_a_checkpoint_fill_the_card(tmp_path):
    model = reslab.create_model("resnet20_cifar", depths=(1, 1, 1), num_classes=3)
    assert model.preset == "resnet20_cifar" and model.preprocessing.mean == reslab.get_preset(
        "resnet20_cifar").preprocessing.mean
    model.describe(classes=["cat", "dog", "emu"])
    reslab.save_weights(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert (loaded.preset, loaded.classes) == ("resnet20_cifar", ["cat", "dog", "emu"])
    assert loaded.preprocessing == model.preprocessing

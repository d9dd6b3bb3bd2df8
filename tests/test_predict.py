"""Prediction: the checkpoint's own preprocessing and class names, any image type, bad files named, not fatal."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import reslab
from reslab.cli import main
from reslab.errors import ReslabError
from reslab.deploy.predict import Predictor, UnreadableImageError
from reslab.spec import Preprocessing
from reslab.weights import WeightsError, load_model

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture
def model():
    m = reslab.create_model("resnet18", widths=(8, 16, 32, 64), num_classes=3).eval()
    m.preprocessing = Preprocessing(input_size=32, crop_pct=1.0, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    return m


@pytest.fixture
def ckpt(model, tmp_path):
    return reslab.save_weights(model, tmp_path / "m.safetensors", classes=CLASSES)


@pytest.fixture
def pixels():
    return (np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8")


def test_predictions_use_the_preprocessing_and_class_names_stored_in_the_checkpoint(model, ckpt, pixels):
    x = (torch.from_numpy(pixels).permute(2, 0, 1) / 255.0 - torch.tensor([0.5, 0.4, 0.3]).view(3, 1, 1)) \
        / torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    with torch.no_grad():
        probs = model(x[None].float()).softmax(-1)[0]
    (preds,) = Predictor(ckpt).predict(Image.fromarray(pixels), topk=3)
    assert [name for name, _ in preds] == [CLASSES[i] for i in probs.argsort(descending=True).tolist()]
    assert [p for _, p in preds] == pytest.approx(sorted(probs.tolist(), reverse=True), abs=1e-5)


def test_pil_images_tensors_and_paths_give_the_same_answer(ckpt, pixels, tmp_path):
    Image.fromarray(pixels).save(tmp_path / "x.png")
    predictor = Predictor(ckpt)
    from_pil, from_tensor, from_path = predictor.predict(
        [Image.fromarray(pixels), torch.from_numpy(pixels).permute(2, 0, 1), tmp_path / "x.png"], topk=2)
    assert [n for n, _ in from_pil] == [n for n, _ in from_tensor] == [n for n, _ in from_path]
    assert [p for _, p in from_pil] == pytest.approx([p for _, p in from_tensor], abs=1e-5)


def test_larger_images_are_resized_and_centre_cropped_to_the_input_size(ckpt):
    predictor = Predictor(ckpt)
    assert predictor.prepare(Image.new("RGB", (90, 50))).shape == (3, 32, 32)
    assert predictor.prepare(torch.rand(3, 40, 100)).shape == (3, 32, 32)


def test_without_class_names_predictions_are_indices(model, tmp_path):
    path = reslab.save_weights(model, tmp_path / "plain.safetensors")
    (preds,) = Predictor(path).predict(torch.rand(3, 32, 32), topk=3)
    assert sorted(i for i, _ in preds) == [0, 1, 2]


def test_class_names_that_do_not_fit_the_classifier_are_named(ckpt, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from reslab.weights import METADATA_KEY

    with safe_open(str(ckpt), framework="pt") as f:  # a file written elsewhere: save_weights refuses to
        state, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    meta[METADATA_KEY] = json.dumps({**json.loads(meta[METADATA_KEY]), "classes": ["a", "b"]})
    save_file(state, str(tmp_path / "two.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="2 class.* the classifier has 3 outputs"):
        Predictor(tmp_path / "two.safetensors")


def test_weights_that_do_not_fit_the_spec_name_the_keys(model, tmp_path):
    model.spec = model.spec.replace(num_classes=5)  # metadata now promises a 5-way head over 3-way weights
    path = reslab.save_weights(model, tmp_path / "m.safetensors")
    with pytest.raises(WeightsError, match=r"fc.weight \(model \(5, 64\), checkpoint \(3, 64\)\)"):
        Predictor(path)


def test_an_undecodable_image_is_named(ckpt, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(UnreadableImageError, match="broken.jpg: cannot decode"):
        Predictor(ckpt).predict(bad)


def test_predict_command_reports_bad_files_and_finishes_the_directory(ckpt, pixels, tmp_path, capsys):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    Image.fromarray(pixels).save(images / "a.png")
    Image.fromarray(pixels[:20]).save(images / "sub" / "b.jpg")
    (images / "c.jpg").write_bytes(b"\x00garbage")
    out_file = tmp_path / "preds.json"
    rc = main(["predict", str(images), "--checkpoint", str(ckpt), "--topk", "2", "--batch-size", "2",
               "--output", str(out_file)])
    out, err = capsys.readouterr()
    assert rc == 1  # some inputs were skipped
    assert "c.jpg: cannot decode image" in err and "1 of 3 file(s)" in err
    assert "a.png: " in out and "b.jpg: " in out
    data = json.loads(out_file.read_text())
    assert [d["file"].split("/")[-1] for d in data] == ["a.png", "b.jpg"]
    assert all(len(d["predictions"]) == 2 and d["predictions"][0]["class"] in CLASSES for d in data)


def test_predict_command_writes_csv_rows_per_rank(ckpt, pixels, tmp_path):
    Image.fromarray(pixels).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--checkpoint", str(ckpt), "--topk", "3",
                 "--output", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "file,rank,class,probability" and len(lines) == 4


def test_a_run_directory_is_taken_wherever_a_checkpoint_path_is(model, pixels, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    reslab.save_weights(model, run / "last.safetensors", classes=CLASSES)  # what `reslab train` leaves there
    image = Image.fromarray(pixels)
    expected = Predictor(run / "last.safetensors").predict(image, topk=3)
    assert Predictor(run).predict(image, topk=3) == expected
    assert Predictor(str(run)).predict(image, topk=3) == expected
    assert Predictor(reslab.create_model("resnet18", widths=(8, 16, 32, 64), num_classes=3,
                                         weights=run)).predict(image, topk=3) == expected
    assert load_model(run).classes == CLASSES


def test_a_run_directory_without_weights_is_one_clear_error(tmp_path):
    with pytest.raises(ReslabError, match="no checkpoint at .*last.safetensors"):
        Predictor(tmp_path)

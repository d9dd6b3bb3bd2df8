"""Published weights by name (`create_model("resnet50.a1_in1k", pretrained=True)`): the catalogue, the sources'
caches and downloads, and the preprocessing that travels with the weights.

Nothing here reaches the network: torch.hub's and Hugging Face's caches live in tmp_path, filled with random
torchvision / timm models (the oracles) saved in their own layouts, and downloads come from a loopback HTTP server
(for the hub: huggingface_hub's own download code, pointed at it through HF_ENDPOINT).
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

import reslab
from bad_inputs.harness import run_cli
from reslab.spec import Preprocessing
from reslab.weights import WeightsError, catalogue, download

SIZE = 64  # input pixels in the logit comparisons


# --- fixtures: isolated caches, oracle files, a loopback server ----------------------------------------------------

@pytest.fixture(autouse=True)
def caches(tmp_path, monkeypatch):
    """torch.hub's and Hugging Face's caches in tmp_path; the hub endpoint a closed port; nothing offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: refused, never the internet
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # huggingface_hub reads HF_HUB_OFFLINE once, when first imported (ResLab reads it on each call): online here
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    return tmp_path


def _perturb_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Random BatchNorm statistics and affine parameters, so that a mix-up of them changes the logits."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(1 + 0.1 * torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(0.1 * torch.randn(m.num_features, generator=gen))
    return model.eval()


@pytest.fixture
def torchvision_resnet18(caches):
    """A random torchvision resnet18 saved under torchvision's own file name in torch.hub's cache."""
    import torchvision

    model = _perturb_norms(torchvision.models.resnet18())
    path = Path(torch.hub.get_dir()) / "checkpoints" / catalogue.get_weights("resnet18.tv_in1k").file_name
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    return model, path


def _assert_same_logits(ours, theirs):
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    assert (a - b).abs().max() <= 1e-4 * b.abs().max()


class Server:
    """http.server on 127.0.0.1 in a thread: path -> (bytes, headers); `cut` paths send half the body and hang up."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, dict]] = {}
        self.cut: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body: bool):
                server.requests.append(f"{self.command} {self.path}")
                if self.path not in server.files:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.send_header("X-Error-Code", "EntryNotFound")  # as the hub says it
                    self.end_headers()
                    return
                data, headers = server.files[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(data[:len(data) // 2] if self.path in server.cut else data)
                    self.wfile.flush()
                if self.path in server.cut:
                    self.close_connection = True

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add_hub_file(self, repo: str, filename: str, data: bytes) -> None:
        """As the Hugging Face hub answers /REPO/resolve/main/FILE: commit and etag headers with the bytes."""
        sha = hashlib.sha256(data).hexdigest()
        self.files[f"/{repo}/resolve/main/{filename}"] = (data, {"X-Repo-Commit": "a" * 40, "ETag": f'"{sha}"'})


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _serve_entry(monkeypatch, tag: str, **changes) -> catalogue.WeightSet:
    """The catalogue, with entry `tag` changed (a download address on the loopback server, say)."""
    cat = catalogue._catalogue()
    sets = dict(cat["sets"])
    sets[tag] = dataclasses.replace(sets[tag], **changes)
    monkeypatch.setattr(catalogue, "_catalogue", lambda: {**cat, "sets": sets})
    return sets[tag]


def _torchvision_file(name_stem: str = "resnet18") -> tuple[bytes, str]:
    """(bytes of a random torchvision resnet18 state dict, its file name with torch.hub's hash prefix)."""
    import torchvision

    buffer = io.BytesIO()
    torch.save(_perturb_norms(torchvision.models.resnet18()).state_dict(), buffer)
    data = buffer.getvalue()
    return data, f"{name_stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


# --- the catalogue ---------------------------------------------------------------------------------------------------

def test_every_catalogued_weight_set_names_a_preset_a_source_and_a_usable_preprocessing():
    from reslab.weights import check_preprocessing

    sets = catalogue.list_weights()
    assert len(sets) > 200
    for ws in sets:
        assert ws.tag == f"{ws.preset}.{ws.name}" and ws.preset in reslab.list_models(), ws.tag
        assert ws.source in catalogue.SOURCES
        assert (ws.url and ws.file_name) if ws.source in ("torchvision", "url") else True
        assert (ws.hf_repo and ws.hf_file) if ws.source == "hf" else True
        check_preprocessing(ws.eval_preprocessing().to_dict())
        assert ws.num_classes > 0 and ws.layout in ("timm", "torchvision", "reslab")
    for preset in catalogue.presets_with_weights():
        assert catalogue.get_weights(preset).tag == catalogue.default_tag(preset)


def test_default_tags_are_timms_first_tags():
    timm_models = pytest.importorskip("timm.models")
    for preset in ("resnet50", "resnet50d", "seresnext50_32x4d", "resnet18", "wide_resnet101_2"):
        assert catalogue.default_tag(preset) == f"{preset}.{timm_models.get_pretrained_cfg(preset).tag}"
    assert catalogue.default_tag("resnet50") == "resnet50.a1_in1k"


def test_tags_use_timms_names_for_timms_and_torchvisions_weights():
    for tag in ("resnet50.a1_in1k", "resnet50.tv_in1k", "resnet50.tv2_in1k", "resnet50d.ra2_in1k",
                "seresnext50_32x4d.racm_in1k", "regnet_y_16gf.swag_ft_in1k"):
        assert catalogue.get_weights(tag).tag == tag


def test_torchvision_weights_come_from_torchvisions_address_with_its_file_name_and_numbers():
    import torchvision

    oracle = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    ws = catalogue.get_weights("resnet50.tv2_in1k")
    assert ws.source == "torchvision" and ws.url == oracle.url and ws.file_name == oracle.url.rsplit("/", 1)[1]
    assert ws.sha256_prefix and ws.file_name.endswith(f"-{ws.sha256_prefix}.pth")
    assert ws.top1 == oracle.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    pre = ws.eval_preprocessing()  # torchvision's transform: resize 232, centre crop 224
    assert pre.input_size == 224 and round(224 / pre.crop_pct) == 232 and pre.interpolation == "bilinear"


def test_timm_weights_come_from_the_hub_with_timms_preprocessing():
    timm = pytest.importorskip("timm")
    cfg = timm.models.get_pretrained_cfg("resnet50.a1_in1k")
    ws = catalogue.get_weights("resnet50.a1_in1k")
    assert ws.source == "hf" and ws.hf_repo == "timm/resnet50.a1_in1k" and ws.hf_file == "model.safetensors"
    assert ws.eval_preprocessing() == Preprocessing(cfg.test_input_size[-1], cfg.test_crop_pct, cfg.interpolation,
                                                    tuple(cfg.mean), tuple(cfg.std))
    assert ws.top1 == pytest.approx(81.214)  # timm's results-imagenet.csv


def test_an_old_preset_name_stands_for_the_weights_it_named():
    assert catalogue.get_weights("tv_resnet34").tag == "resnet34.tv_in1k"
    assert catalogue.get_weights("gluon_resnet50_v1d").tag == "resnet50d.gluon_in1k"


def test_imagenet_class_names_and_wordnet_ids_are_shipped_in_class_order():
    import torchvision

    names, wnids = catalogue.imagenet_classes()
    assert names == torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(wnids) == 1000 and wnids[0] == "n01440764" and wnids == sorted(wnids)


def test_an_unknown_tag_suggests_the_closest_tags():
    with pytest.raises(WeightsError, match=r"resnet50 has no weights tagged 'a9_in1k'.*did you mean.*resnet50\.a"):
        catalogue.get_weights("resnet50.a9_in1k")


def test_a_preset_without_published_weights_says_so_and_names_some_that_have():
    with pytest.raises(WeightsError, match=r"resnet56_cifar has no published weights; \d+ presets have") as e:
        reslab.create_model("resnet56_cifar", pretrained=True)
    assert "reslab weights list" in str(e.value) and "\n" not in str(e.value)


def test_pretrained_and_weights_together_are_refused(tmp_path):
    with pytest.raises(WeightsError, match="pretrained=True and weights= both"):
        reslab.create_model("resnet18", pretrained=True, weights=tmp_path / "m.pth")


# --- preprocessing travels with the weights ----------------------------------------------------------------------

def test_a_tag_without_pretrained_builds_the_architecture_with_that_tags_preprocessing(server):
    model = reslab.create_model("resnet50.a1_in1k")
    assert model.preset == "resnet50" and model.weights_tag == "resnet50.a1_in1k"
    assert model.preprocessing == Preprocessing(288, 1.0, "bicubic")  # timm's test size and crop for a1
    assert model.spec == reslab.get_spec("resnet50") and not server.requests


def test_a_grey_model_gets_one_mean_and_std_the_mean_of_the_rgb_ones():
    pre = reslab.create_model("resnet18", in_chans=1).preprocessing
    assert pre.mean == pytest.approx((sum(Preprocessing().mean) / 3,))
    assert pre.std == pytest.approx((sum(Preprocessing().std) / 3,))
    assert len(reslab.create_model("resnet18.tv_in1k", in_chans=4).preprocessing.mean) == 4


# --- torchvision's weights through torch.hub's cache -------------------------------------------------------------

def test_torchvision_weights_in_torch_hubs_cache_give_torchvisions_logits(torchvision_resnet18):
    oracle, _ = torchvision_resnet18
    model = reslab.create_model("resnet18.tv_in1k", pretrained=True)
    _assert_same_logits(model, oracle)
    assert model.classes[:2] == ["tench", "goldfish"] and model.class_ids[0] == "n01440764"
    assert model.preprocessing == catalogue.get_weights("resnet18.tv_in1k").eval_preprocessing()


def test_pretrained_with_another_number_of_classes_keeps_the_body_and_says_the_head_is_new(torchvision_resnet18):
    with pytest.warns(UserWarning, match="head is re-initialised"):
        model = reslab.create_model("resnet18.tv_in1k", pretrained=True, num_classes=3)
    assert model.spec.num_classes == 3 and model.classes is None


def test_a_torchvision_download_shows_progress_checks_the_hash_and_lands_in_torch_hubs_cache(server, monkeypatch,
                                                                                              capsys):
    data, name = _torchvision_file()
    server.files[f"/models/{name}"] = (data, {})
    ws = _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/models/{name}", file_name=name,
                      sha256_prefix=name[-12:-4])
    path = download.weights_file(ws, progress=True)
    assert path == Path(torch.hub.get_dir()) / "checkpoints" / name and path.read_bytes() == data
    err = capsys.readouterr().err
    assert "download resnet18.tv_in1k [####################]" in err and " MB/s" in err
    assert [p.name for p in path.parent.iterdir()] == [name]
    server.requests.clear()
    assert download.weights_file(ws) == path and not server.requests  # cached: no second download


def test_a_download_cut_mid_file_leaves_nothing_in_the_cache(server, monkeypatch):
    data, name = _torchvision_file()
    server.files[f"/{name}"] = (data, {})
    server.cut.add(f"/{name}")
    _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/{name}", file_name=name,
                 sha256_prefix=name[-12:-4])
    with pytest.raises(WeightsError, match="resnet18.tv_in1k is not on this machine.*downloading .* failed"):
        reslab.create_model("resnet18.tv_in1k", pretrained=True)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    assert not folder.exists() or not list(folder.iterdir())


def test_a_download_whose_hash_differs_from_the_published_one_is_refused_and_removed(server, monkeypatch):
    data, name = _torchvision_file()
    wrong = "resnet18-00000000.pth"
    server.files[f"/{wrong}"] = (data, {})
    ws = _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/{wrong}", file_name=wrong,
                      sha256_prefix="00000000")
    with pytest.raises(WeightsError, match=r"sha256 [0-9a-f]{16}\.\.\., not the published 00000000.*refused and "
                                           r"removed"):
        download.weights_file(ws)
    assert not list((Path(torch.hub.get_dir()) / "checkpoints").iterdir())


# --- timm's weights through the Hugging Face hub -----------------------------------------------------------------

@pytest.fixture
def timm_resnet18_on_the_hub(server, monkeypatch):
    """A random timm resnet18 as model.safetensors of timm/resnet18.a1_in1k on the loopback hub."""
    timm = pytest.importorskip("timm")
    model = _perturb_norms(timm.create_model("resnet18"))
    data = safetensors_bytes({k: v.contiguous() for k, v in model.state_dict().items()})
    server.add_hub_file("timm/resnet18.a1_in1k", "model.safetensors", data)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    return model


def test_timm_weights_from_the_hub_give_timms_logits_and_are_cached_the_hubs_way(timm_resnet18_on_the_hub, caches,
                                                                               server):
    model = reslab.create_model("resnet18.a1_in1k", pretrained=True)
    _assert_same_logits(model, timm_resnet18_on_the_hub)
    snapshot = caches / "hf" / "models--timm--resnet18.a1_in1k" / "snapshots" / ("a" * 40) / "model.safetensors"
    assert snapshot.is_file() and download.cached_path(catalogue.get_weights("resnet18.a1_in1k")) == snapshot
    assert model.preprocessing == Preprocessing(288, 1.0, "bicubic") and model.classes[0] == "tench"
    assert any(r.startswith("GET /timm/resnet18.a1_in1k/resolve/main/model.safetensors") for r in server.requests)


def test_offline_weights_already_in_the_hub_cache_load_without_the_network(timm_resnet18_on_the_hub, server,
                                                                          monkeypatch):
    reslab.create_model("resnet18.a1_in1k", pretrained=True)
    server.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _assert_same_logits(reslab.create_model("resnet18.a1_in1k", pretrained=True), timm_resnet18_on_the_hub)
    assert not server.requests


def test_offline_and_not_cached_says_which_tag_where_it_looked_and_what_to_do(monkeypatch, caches):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError) as e:
        reslab.create_model("resnet50.a1_in1k", pretrained=True)
    message = str(e.value)
    assert "\n" not in message and "resnet50.a1_in1k is not on this machine" in message
    assert str(caches / "hf" / "models--timm--resnet50.a1_in1k") in message
    assert "reslab weights download resnet50.a1_in1k" in message and "weights=PATH" in message


def test_offline_also_stops_torchvision_downloads(monkeypatch, caches):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"resnet34.tv_in1k is not on this machine \(looked in .*torch/hub/"
                                           r"checkpoints/resnet34-b627a593.pth\)"):
        reslab.create_model("resnet34.tv_in1k", pretrained=True)


def test_hub_download_progress_is_reslabs_bar(timm_resnet18_on_the_hub, capsys):
    download.weights_file("resnet18.a1_in1k", progress=True)
    assert "download resnet18.a1_in1k [####################]" in capsys.readouterr().err


# --- ResLab's own weights, shipped in the package -----------------------------------------------------------------

def test_package_weights_load_from_the_package_and_show_their_recipe(tmp_path, monkeypatch):
    model = reslab.create_model("resnet20_cifar", depths=(1, 1, 1))
    names = [f"class{i}" for i in range(10)]
    path = reslab.save_weights(model, tmp_path / "resnet20_cifar.mine.safetensors", classes=names)
    cat = catalogue._catalogue()
    ws = catalogue.WeightSet(tag="resnet20_cifar.mine", preset="resnet20_cifar", source="package",
                             file_name=path.name, layout="reslab", num_classes=10,
                             preprocessing={"input_size": 32, "crop_pct": 1.0, "interpolation": "bilinear",
                                            "mean": [0.5] * 3, "std": [0.25] * 3},
                             sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                             extra={"recipe": "cifar", "epochs": 3, "seed": 0, "val_top1": 0.5,
                                    "command": "reslab train --epochs 3"})
    monkeypatch.setattr(catalogue, "_catalogue", lambda: {**cat, "sets": {**cat["sets"], ws.tag: ws}})
    monkeypatch.setattr(download, "_package_path", lambda ws: tmp_path / ws.file_name)
    loaded = reslab.create_model("resnet20_cifar.mine", pretrained=True, depths=(1, 1, 1))
    _assert_same_logits(loaded, model)
    assert loaded.classes == names  # from the checkpoint's metadata
    info = run_cli(["weights", "info", "resnet20_cifar.mine"])
    assert info.code == 0, info.err
    fields = dict(line.split(None, 1) for line in info.out.splitlines())
    assert fields["source"] == "package" and fields["recipe"] == "cifar" and fields["epochs"] == "3"
    assert fields["val_top1"] == "0.5" and fields["command"] == "reslab train --epochs 3"


# --- the command line ----------------------------------------------------------------------------------------------

def test_weights_list_shows_each_tag_with_its_source_size_top1_and_whether_it_is_cached(torchvision_resnet18):
    result = run_cli(["weights", "list", "resnet18"])
    assert result.code == 0, result.err
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    expected = catalogue.list_weights("resnet18")
    assert list(rows) == [ws.tag for ws in expected]
    for ws in expected:
        row = rows[ws.tag]
        assert ws.source in row and (f"{ws.top1:.2f}" if ws.top1 else "-") in row
        assert row[-1] == ("yes" if ws.tag == "resnet18.tv_in1k" else "no")
    assert "*" in rows["resnet18.a1_in1k"] and "45 MB" in " ".join(rows["resnet18.tv_in1k"])


def test_weights_info_prints_what_the_catalogue_says(torchvision_resnet18):
    _, path = torchvision_resnet18
    result = run_cli(["weights", "info", "resnet18.tv_in1k"])
    assert result.code == 0, result.err
    ws = catalogue.get_weights("resnet18.tv_in1k")
    for text in (ws.url, ws.sha256_prefix, f"{ws.top1:.2f} (torchvision)", "224 px, crop_pct 0.875, bilinear",
                 f"yes: {path}", "reslab.create_model('resnet18.tv_in1k', pretrained=True)"):
        assert text in result.out, (text, result.out)


def test_weights_download_names_the_file_and_does_not_fetch_twice(server, monkeypatch):
    data, name = _torchvision_file()
    server.files[f"/{name}"] = (data, {})
    _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/{name}", file_name=name,
                 sha256_prefix=name[-12:-4])
    first = run_cli(["weights", "download", "resnet18.tv_in1k", "--no-progress"])
    second = run_cli(["weights", "download", "resnet18.tv_in1k"])
    assert first.code == second.code == 0, first.err + second.err
    assert "resnet18.tv_in1k: downloaded to" in first.out and "resnet18.tv_in1k: already cached" in second.out
    assert sum(r.startswith("GET") for r in server.requests) == 1


def _wnid_folder(root: Path) -> Path:
    """val/<wnid>/*.png for two ImageNet classes (tench, goldfish), two tiny images each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for wnid in ("n01440764", "n01443537"):
        (root / "val" / wnid).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "val" / wnid / f"{i}.png")
    return root


def test_eval_with_published_weights_scores_a_subset_of_imagenet_by_its_wordnet_folders(torchvision_resnet18,
                                                                                          tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _wnid_folder(tmp_path / "data")
    result = run_cli(["eval", "--model", "resnet18.tv_in1k", "--pretrained", "--data", data, "--batch-size", "2",
                      "--json"])
    assert result.code == 0, result.err
    metrics = json.loads(result.out)
    assert metrics["images"] == 4 and set(metrics["per_class"]) == {"n01440764", "n01443537"}
    assert not list(tmp_path.glob("*.png"))  # with --json, no confusion PNG unless --confusion asks (issue 28)


def test_predict_with_published_weights_names_imagenet_classes(torchvision_resnet18, tmp_path):
    oracle, _ = torchvision_resnet18
    data = _wnid_folder(tmp_path / "data")
    image = next((data / "val" / "n01440764").iterdir())
    result = run_cli(["predict", image, "--model", "resnet18.tv_in1k", "--pretrained", "--topk", "1"])
    assert result.code == 0, result.err
    model = reslab.create_model("resnet18.tv_in1k", pretrained=True)
    expected = reslab.Predictor(model).predict(image, topk=1)[0][0][0]
    assert result.out.startswith(f"{image}: {expected} (") and expected in catalogue.imagenet_classes()[0]


def test_export_takes_published_weights(torchvision_resnet18, tmp_path):
    result = run_cli(["export", "--model", "resnet18.tv_in1k", "--pretrained", "--format", "torchscript",
                      "--output", tmp_path / "m.pt", "--input-size", "32"])
    assert result.code == 0, result.err
    assert (tmp_path / "m.pt").is_file()


def test_rename_reaches_the_library_from_predict(tmp_path):
    """A checkpoint whose classifier is called 'linear' (as common CIFAR code names it) loads with --rename."""
    import numpy as np
    from PIL import Image

    model = reslab.create_model("resnet20_cifar", depths=(1, 1, 1))
    state = {("linear." + k[3:] if k.startswith("fc.") else k): v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "cifar.pth")
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    argv = ["predict", tmp_path / "a.png", "--model", "resnet20_cifar:depths=1,1,1", "--checkpoint",
            tmp_path / "cifar.pth", "--topk", "1"]
    without = run_cli(argv)
    assert without.code == 2 and "linear" in without.message, without.err
    renamed = run_cli([*argv, "--rename", "^linear\\.=fc."])
    assert renamed.code == 0, renamed.err
    expected = reslab.Predictor(model).predict(tmp_path / "a.png", topk=1)[0][0][0]
    assert renamed.out.startswith(f"{tmp_path / 'a.png'}: {expected} (")

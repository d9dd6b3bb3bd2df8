"""Shared helpers for tests that use timm / torchvision as oracles."""
import torch


def build_oracle(zoo: str, name: str):
    if zoo == "timm":
        import timm

        return timm.create_model(name, pretrained=False).eval()
    import torchvision

    return torchvision.models.get_model(name, weights=None).eval()


def randomize_norm_stats(model: torch.nn.Module) -> None:
    """Give BatchNorm non-trivial running statistics and affine params, so a swapped norm would show."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def assert_same_logits(ours: torch.Tensor, theirs: torch.Tensor, rel: float = 1e-4) -> None:
    scale = theirs.abs().max().item()
    diff = (ours - theirs).abs().max().item()
    assert diff <= rel * max(scale, 1e-6), f"max abs diff {diff:.3g} exceeds {rel} x logit scale {scale:.3g}"


def assert_round_trip(name: str, zoo: str, oracle_name: str, tmp_path, size: int = 64) -> torch.nn.Module:
    """The oracle's (randomised) weights load into ResLab's `name` with equal logits, and ResLab's weights saved
    in the oracle's layout load strictly into a fresh oracle with equal logits. Returns ResLab's model."""
    import reslab

    oracle = build_oracle(zoo, oracle_name)
    randomize_norm_stats(oracle)
    path = tmp_path / "oracle.pth"
    torch.save(oracle.state_dict(), path)
    model = reslab.create_model(name, weights=str(path)).eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected = oracle(x)
        assert_same_logits(model(x), expected)
    out = tmp_path / f"export_{zoo}.pth"
    reslab.save_weights(model, out, layout=zoo)
    fresh = build_oracle(zoo, oracle_name)
    fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
    with torch.no_grad():
        assert_same_logits(fresh.eval()(x), expected)
    return model


def param_count(spec) -> int:
    """Parameters of the network `spec` describes, counted on the meta device: no weights, no forward pass, so
    test collection can sort presets by size without the minutes a measured complexity takes on a cold cache."""
    import reslab

    with torch.device("meta"):
        return sum(p.numel() for p in reslab.build(spec).parameters())

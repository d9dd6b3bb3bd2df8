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

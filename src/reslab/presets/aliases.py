"""Names a preset used to have: timm's older model names, which named a weight set as a model (`tv_resnet50` is
timm's `resnet50.tv_in1k` now). They keep working, with a warning naming the current preset; `reslab models`
lists current names only. Source: timm 1.0's table of deprecated names, restricted to presets ResLab has."""
from ..registry import register_alias

# old name -> (current preset, the timm weight tag the old name stood for)
ALIASES = {
    "tv_resnet34": ("resnet34", "tv_in1k"), "tv_resnet50": ("resnet50", "tv_in1k"),
    "tv_resnet101": ("resnet101", "tv_in1k"), "tv_resnet152": ("resnet152", "tv_in1k"),
    "tv_resnext50_32x4d": ("resnext50_32x4d", "tv_in1k"), "tv_densenet121": ("densenet121", "tv_in1k"),
    "gluon_resnet18_v1b": ("resnet18", "gluon_in1k"), "gluon_resnet34_v1b": ("resnet34", "gluon_in1k"),
    "gluon_resnet50_v1b": ("resnet50", "gluon_in1k"), "gluon_resnet101_v1b": ("resnet101", "gluon_in1k"),
    "gluon_resnet152_v1b": ("resnet152", "gluon_in1k"), "gluon_resnet50_v1c": ("resnet50c", "gluon_in1k"),
    "gluon_resnet101_v1c": ("resnet101c", "gluon_in1k"), "gluon_resnet152_v1c": ("resnet152c", "gluon_in1k"),
    "gluon_resnet50_v1d": ("resnet50d", "gluon_in1k"), "gluon_resnet101_v1d": ("resnet101d", "gluon_in1k"),
    "gluon_resnet152_v1d": ("resnet152d", "gluon_in1k"),
    "gluon_resnext50_32x4d": ("resnext50_32x4d", "gluon_in1k"),
    "gluon_resnext101_32x4d": ("resnext101_32x4d", "gluon_in1k"),
    "gluon_resnext101_64x4d": ("resnext101_64x4d", "gluon_in1k"),
    "gluon_seresnext50_32x4d": ("seresnext50_32x4d", "gluon_in1k"),
    "gluon_seresnext101_32x4d": ("seresnext101_32x4d", "gluon_in1k"),
    "ssl_resnet18": ("resnet18", "fb_ssl_yfcc100m_ft_in1k"), "ssl_resnet50": ("resnet50", "fb_ssl_yfcc100m_ft_in1k"),
    "ssl_resnext50_32x4d": ("resnext50_32x4d", "fb_ssl_yfcc100m_ft_in1k"),
    "ssl_resnext101_32x4d": ("resnext101_32x4d", "fb_ssl_yfcc100m_ft_in1k"),
    "ssl_resnext101_32x8d": ("resnext101_32x8d", "fb_ssl_yfcc100m_ft_in1k"),
    "swsl_resnet18": ("resnet18", "fb_swsl_ig1b_ft_in1k"), "swsl_resnet50": ("resnet50", "fb_swsl_ig1b_ft_in1k"),
    "swsl_resnext50_32x4d": ("resnext50_32x4d", "fb_swsl_ig1b_ft_in1k"),
    "swsl_resnext101_32x4d": ("resnext101_32x4d", "fb_swsl_ig1b_ft_in1k"),
    "swsl_resnext101_32x8d": ("resnext101_32x8d", "fb_swsl_ig1b_ft_in1k"),
    "ig_resnext101_32x8d": ("resnext101_32x8d", "fb_wsl_ig1b_ft_in1k"),
}

for old, (current, tag) in ALIASES.items():
    register_alias(old, current, f"timm's {current}.{tag}")

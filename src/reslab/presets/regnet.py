"""RegNetX and RegNetY: points of the RegNet design space, each a `regnet_spec(...)` call. The (depth, w0, wa, wm,
group width) values are the paper's (Radosavovic et al. 2020, Appendix / pycls model zoo). Paper numbers come
from ../shared/reference/paper_table.csv."""
from ..registry import Preset, register
from ..spec import regnet_spec

REGNET = "Radosavovic et al., Designing Network Design Spaces (arXiv:2003.13678)"

REGISTERED: list[str] = []  # the names this module adds, in order

# name suffix (hundreds of MF) -> (depth, w0, wa, wm, group width)
REGNETX = {"002": (13, 24, 36.44, 2.49, 8), "004": (22, 24, 24.48, 2.54, 16), "006": (16, 48, 36.97, 2.24, 24),
           "008": (16, 56, 35.73, 2.28, 16), "016": (18, 80, 34.01, 2.25, 24), "032": (25, 88, 26.31, 2.25, 48),
           "040": (23, 96, 38.65, 2.43, 40), "064": (17, 184, 60.83, 2.07, 56), "080": (23, 80, 49.56, 2.88, 120),
           "120": (19, 168, 73.36, 2.37, 112), "160": (22, 216, 55.59, 2.1, 128), "320": (23, 320, 69.86, 2.0, 168)}
REGNETY = {"002": (13, 24, 36.44, 2.49, 8), "004": (16, 48, 27.89, 2.09, 8), "006": (15, 48, 32.54, 2.32, 16),
           "008": (14, 56, 38.84, 2.4, 16), "016": (27, 48, 20.71, 2.65, 24), "032": (21, 80, 42.63, 2.66, 24),
           "040": (22, 96, 31.41, 2.24, 64), "064": (25, 112, 33.22, 2.27, 72), "080": (17, 192, 76.82, 2.19, 56),
           "120": (19, 168, 73.36, 2.37, 112), "160": (18, 200, 106.23, 2.48, 112), "320": (20, 232, 115.89, 2.53, 232)}
# (params M, GMACs, top-1) the paper reports, where the reference table has them
PAPER = {"regnetx_002": (2.7, 0.2, 68.9), "regnetx_004": (5.2, 0.4, 72.7), "regnetx_008": (7.3, 0.8, 75.2),
         "regnetx_016": (9.2, 1.6, 77.0), "regnetx_040": (22.1, 4.0, 78.6), "regnety_004": (4.3, 0.4, 74.1),
         "regnety_008": (6.3, 0.8, 76.3), "regnety_016": (11.2, 1.6, 78.0), "regnety_040": (20.6, 4.0, 79.4),
         "regnety_080": (39.2, 8.0, 79.9), "regnety_160": (83.6, 15.9, 80.4)}
# torchvision's names -> (the paper model it re-creates, or its own generator values for 128GF)
TORCHVISION = {"regnet_x_400mf": "regnetx_004", "regnet_x_800mf": "regnetx_008", "regnet_x_1_6gf": "regnetx_016",
               "regnet_x_3_2gf": "regnetx_032", "regnet_x_8gf": "regnetx_080", "regnet_x_16gf": "regnetx_160",
               "regnet_x_32gf": "regnetx_320", "regnet_y_400mf": "regnety_004", "regnet_y_800mf": "regnety_008",
               "regnet_y_1_6gf": "regnety_016", "regnet_y_3_2gf": "regnety_032", "regnet_y_8gf": "regnety_080",
               "regnet_y_16gf": "regnety_160", "regnet_y_32gf": "regnety_320", "regnet_y_128gf": None}
REGNET_Y_128GF = (27, 456, 160.83, 2.52, 264)


def add(name: str, spec, idea: str, **meta) -> None:
    family = "RegNetY" if spec.attention == "se" else "RegNetX"
    register(Preset(name, spec, family, REGNET, 2020, idea, **meta))
    REGISTERED.append(name)


def _spec(values, se: bool, rounding: str = "pycls"):
    depth, w0, wa, wm, gw = values
    return regnet_spec(depth, w0, wa, wm, gw, se_ratio=0.25 if se else 0.0, rounding=rounding)


for letter, table in (("x", REGNETX), ("y", REGNETY)):
    for mf, values in table.items():
        name = f"regnet{letter}_{mf}"
        params, gmacs, top1 = PAPER.get(name, (None, None, None))
        add(name, _spec(values, letter == "y"),
            "stage widths from a quantized linear rule; " + ("SE after the 3x3" if letter == "y" else "no SE"),
            params_m_paper=params, gmacs_paper=gmacs, top1_paper=top1, timm=name)
for name, paper_name in TORCHVISION.items():
    se = name.startswith("regnet_y")
    values = REGNET_Y_128GF if paper_name is None else (REGNETY if se else REGNETX)[paper_name[-3:]]
    add(name, _spec(values, se, rounding="torchvision"),
        f"torchvision's {'RegNetY' if se else 'RegNetX'}: the same generator, widths rounded as torchvision does",
        torchvision=name)

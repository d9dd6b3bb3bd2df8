"""Fixed sets of values and defaults that the library checks and the command line shows in its --help, in a module
that imports nothing: building the parser (`reslab --help`, `reslab COMMAND --help`) must not import torch."""

EXPORT_FORMATS = ("onnx", "torchscript", "exported-program")  # reslab.export
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # torch.compile's modes
# the default job of `reslab compare`: the degradation problem of He et al. 2015 (Fig. 1 and 6) on the built-in
# digits, in minutes: plain nets of 20 and 56 layers, and their residual twins (one spec field apart)
COMPARE_MODELS = ("plain20_cifar", "plain56_cifar", "resnet20_cifar", "resnet56_cifar")

"""The files of a run directory, named here once: train writes them; resume, compare, the CLI and the loaders read
them. Imports nothing, so that any layer may use it."""
CONFIG = "config.json"  # the run's TrainConfig: a resume reads its settings from here
METRICS = "metrics.csv"  # one row per saved epoch
TENSORBOARD = "tensorboard"  # a folder of TensorBoard event files
WEIGHTS = "last.safetensors"  # the last epoch's weights, loadable alone
EMA_WEIGHTS = "last_ema.safetensors"  # the same for the EMA copy, when the run keeps one
STATE = "state.safetensors"  # the resumable state: its existence means "this run can be resumed"
LEGACY_STATE = "state.pt"  # older ResLab runs: a pickle, never opened

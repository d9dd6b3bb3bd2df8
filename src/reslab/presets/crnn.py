"""The speech ResNet-CRNN as data: residual blocks with CBAM channel gates, a BiLSTM over time, sized for FSDD."""
from ..registry import Preset, register
from ..spec import CRNNSpec
from ..spec.audio import AudioFeatures
from ..spec.preprocessing import audio_preprocessing

SEED = ("ResLab seed article: a CRNN for speech whose convolutional part is residual blocks with channel gates "
        "(CBAM, Woo et al. 2018), then a bidirectional LSTM over time")

# 8 kHz speech, 32 ms Hann windows every 16 ms, 32 Slaney mel bands 20 Hz - 4 kHz, clips cropped/padded to 1 s
FSDD_FEATURES = AudioFeatures()

# 0.247 M parameters and 0.0216 GMACs per second of audio (1 s = 63 frames of 32 bands; `reslab info resnet_crnn`)
register(Preset("resnet_crnn", CRNNSpec(), "ResNet-CRNN (speech)", SEED, 2026,
                "residual blocks with channel gates over a log-mel spectrogram, a BiLSTM over its frames",
                preprocessing=audio_preprocessing(FSDD_FEATURES)))

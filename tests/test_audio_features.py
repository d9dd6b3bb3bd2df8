"""The speech feature pipeline against independent references: the mel filterbank against transformers'
`mel_filter_bank` (Slaney and HTK), the whole log-mel against a numpy STFT written another way, the resampler
against analytic sines and scipy's polyphase resampler, and the clip transform's shapes and lengths."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from reslab.data.audio_augment import AudioAugment, noisy
from reslab.data.audio_io import Clip
from reslab.data.audio_mel import log_mel, mel_filterbank, normalise
from reslab.data.audio_resample import resample
from reslab.data.audio_transforms import eval_clip_transform, train_clip_transform
from reslab.spec import Preprocessing, SpecError
from reslab.spec.audio import AudioFeatures
from reslab.train.config import TrainConfig

DEFAULT_AUGMENT = AudioAugment.of(TrainConfig())  # what `reslab train` does to clips unless told otherwise


@pytest.mark.parametrize("scale, norm", [("slaney", "slaney"), ("htk", None)])
def test_mel_filterbank_matches_transformers(scale, norm):
    from transformers.audio_utils import mel_filter_bank  # the oracle

    for n_fft, n_mels, f_min, f_max, rate in ((256, 40, 20.0, 4000.0, 8000), (512, 64, 0.0, 7600.0, 16000)):
        ours = mel_filterbank(n_fft // 2 + 1, n_mels, f_min, f_max, rate, scale).numpy()
        ref = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels, min_frequency=f_min,
                              max_frequency=f_max, sampling_rate=rate, norm=norm, mel_scale=scale)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7 * ref.max())


def _numpy_log_mel(x: np.ndarray, f: AudioFeatures) -> np.ndarray:
    """Frames cut by hand (zero-padded by n_fft/2 each side), a centred periodic Hann window, np.fft.rfft."""
    from transformers.audio_utils import mel_filter_bank

    padded = np.pad(x.astype(np.float64), f.n_fft // 2)
    n = np.arange(f.win_length)
    window = np.zeros(f.n_fft)
    start = (f.n_fft - f.win_length) // 2
    window[start:start + f.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * n / f.win_length)
    frames = np.stack([padded[i * f.hop_length:i * f.hop_length + f.n_fft] * window
                       for i in range(1 + len(x) // f.hop_length)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    bank = mel_filter_bank(num_frequency_bins=f.n_fft // 2 + 1, num_mel_filters=f.n_mels, min_frequency=f.f_min,
                           max_frequency=f.f_max, sampling_rate=f.sample_rate, norm="slaney", mel_scale="slaney")
    return np.log(np.maximum(power @ bank, f.log_floor)).T


def test_log_mel_matches_a_numpy_stft():
    x = np.random.default_rng(0).standard_normal(3001).astype(np.float32) * 0.1
    for f in (AudioFeatures(), AudioFeatures(win_length=200, hop_length=80, n_mels=40)):  # 200 < n_fft: padded
        ours = log_mel(torch.from_numpy(x), f).numpy()
        ref = _numpy_log_mel(x, f)
        assert ours.shape == ref.shape == (f.n_mels, 1 + 3001 // f.hop_length)
        np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_a_tone_lights_the_mel_band_around_its_frequency():
    f = AudioFeatures()
    t = torch.arange(8000) / 8000
    mel = log_mel(torch.sin(2 * torch.pi * 1000 * t), f)
    bank = mel_filterbank(f.n_fft // 2 + 1, f.n_mels, f.f_min, f.f_max, f.sample_rate)
    band_of_1khz = int(bank[round(1000 / 4000 * (f.n_fft // 2))].argmax())
    assert int(mel.mean(1).argmax()) == band_of_1khz


@pytest.mark.parametrize("rate, new_rate", [(44100, 8000), (16000, 8000), (8000, 16000), (22050, 16000)])
def test_resampling_a_sine_gives_the_sine_at_the_new_rate(rate, new_rate):
    x = torch.sin(2 * torch.pi * 440 * torch.arange(rate) / rate)
    y = resample(x, rate, new_rate)
    assert len(y) == new_rate  # one second stays one second
    expected = torch.sin(2 * torch.pi * 440 * torch.arange(new_rate) / new_rate)
    assert (y - expected)[100:-100].abs().max() < 2e-3  # edges aside (the clip ends there)


def test_resampling_removes_what_the_new_rate_cannot_hold():
    x = torch.sin(2 * torch.pi * 6000 * torch.arange(16000) / 16000)  # above 8 kHz's Nyquist frequency
    assert resample(x, 16000, 8000)[100:-100].abs().max() < 0.01


def test_resampling_band_limited_audio_matches_the_analytic_signal_as_scipy_does():
    from scipy.signal import resample_poly  # a second oracle beside the analytic signal

    rng = np.random.default_rng(1)
    parts = [(rng.uniform(0.1, 0.5), f, rng.uniform(0, 6)) for f in (150, 700, 1900, 3100)]
    signal = lambda t: sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in parts)  # noqa: E731
    x, truth = signal(np.arange(16000) / 16000), signal(np.arange(8000) / 8000)
    ours = resample(torch.from_numpy(x.astype(np.float32)), 16000, 8000).numpy()
    np.testing.assert_allclose(ours[100:-100], truth[100:-100], atol=2e-3)
    np.testing.assert_allclose(ours[100:-100], resample_poly(x, 1, 2)[100:-100], atol=2e-3)


def test_normalising_a_silent_clip_gives_zeros_not_nan():
    f = AudioFeatures()
    out = normalise(log_mel(torch.zeros(4000), f))
    assert torch.isfinite(out).all() and out.abs().max() < 0.01  # its own mean, up to float32 rounding / floor


def test_clip_transform_pads_and_crops_to_the_stated_duration():
    f = AudioFeatures()  # 1 s: 63 frames of 32 bands
    short = Clip(torch.randn(2400), 8000)  # 0.3 s: 1 + 2400 // 128 = 19 frames, then zeros
    long = Clip(torch.randn(44100 * 3), 44100)  # 3 s at 44.1 kHz: resampled, centre second kept
    ev, tr = eval_clip_transform(f), train_clip_transform(f, DEFAULT_AUGMENT)
    for clip in (short, long):
        assert ev(clip).shape == tr(clip).shape == (1, 32, 63)
    x = ev(short)[0]
    assert x[:, :19].abs().sum() > 0 and x[:, 19:].abs().sum() == 0  # the utterance first, then padding
    assert abs(float(x[:, :19].mean())) < 1e-5  # per-utterance normalisation: padding is its mean


def test_training_transform_draws_a_shift_noise_and_masks():
    f = AudioFeatures()
    clip = Clip(torch.randn(2400) * 0.3, 8000)
    torch.manual_seed(0)
    a = train_clip_transform(f, DEFAULT_AUGMENT)(clip)
    torch.manual_seed(1)
    b = train_clip_transform(f, DEFAULT_AUGMENT)(clip)
    assert not torch.equal(a, b)
    nonzero_frames = lambda x: (x[0].abs().sum(0) > 0).nonzero().flatten()  # noqa: E731
    assert nonzero_frames(a)[0] != nonzero_frames(b)[0] or not torch.equal(a, b)


def test_audio_preprocessing_round_trips_through_json():
    from reslab.spec.preprocessing import audio_preprocessing

    pre = audio_preprocessing(AudioFeatures(n_mels=64, clip_seconds=0.8))
    back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back == pre and back.audio.clip_frames == 1 + 6400 // 128
    assert "audio" not in Preprocessing().to_dict()  # image preprocessing reads as it always has


def test_bad_feature_settings_name_the_field():
    with pytest.raises(SpecError, match="f_max"):
        AudioFeatures(f_max=5000.0)  # above 8 kHz's Nyquist
    with pytest.raises(SpecError, match="win_length"):
        AudioFeatures(win_length=512)


def test_the_training_config_chooses_the_augmentation():
    """--noise-p 0 --freq-masks 0 --time-masks 0: a one-second clip trains on exactly its evaluation features;
    --snr-db 20 (one value) adds noise at 20 dB, measured on the noise itself."""
    from reslab.train.config import ConfigError

    f, clip = AudioFeatures(), Clip(torch.randn(8000) * 0.3, 8000)  # exactly the model's second: no crop, no shift
    off = AudioAugment.of(TrainConfig(noise_p=0.0, freq_masks=0, time_masks=0))
    torch.manual_seed(0)
    assert torch.equal(train_clip_transform(f, off)(clip), eval_clip_transform(f)(clip))
    assert not torch.equal(train_clip_transform(f, DEFAULT_AUGMENT)(clip), eval_clip_transform(f)(clip))
    fixed = AudioAugment.of(TrainConfig(noise_p=1.0, snr_db=(20.0,)))
    long = torch.randn(200_000) * 0.3
    noise = noisy(long, fixed) - long
    assert 10 * math.log10(float(long.pow(2).mean() / noise.pow(2).mean())) == pytest.approx(20.0, abs=0.1)
    with pytest.raises(ConfigError, match="--snr-db 40.0,10.0: give one SNR"):
        TrainConfig(snr_db=(40.0, 10.0))
    with pytest.raises(ConfigError, match="--noise-p 1.5"):
        TrainConfig(noise_p=1.5)

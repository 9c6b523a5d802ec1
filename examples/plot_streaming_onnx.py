"""
Label a live signal step by step with the streaming ONNX graph
==============================================================

A sensor delivers one reading at a time, and a decision is wanted for every
reading as it arrives, on a device that runs onnxruntime rather than PyTorch.
:class:`~sklstm.LSTMTagger` labels every step of a sequence; its ``stream()``
carries the recurrent state from step to step, and ``to_onnx(..., streaming=True)``
writes that step as an ONNX graph whose state is an explicit input and output.

Here the signal is noise in which a 6 Hz oscillation comes and goes; the tagger
learns to say, at every step and from the past alone, whether the oscillation is
on. The device's loop below is plain onnxruntime and numpy, with the initial state
read from the model file's metadata.
"""

import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime

from sklstm import LSTMTagger

rate = 50  # readings per second
rng = np.random.RandomState(0)


def signal(n_steps):
    """Noise, with a 6 Hz oscillation switched on and off at random."""
    on = np.zeros(n_steps, dtype=int)
    t = 0
    while t < n_steps:
        length = rng.randint(rate // 2, 3 * rate)
        on[t : t + length] = rng.rand() < 0.5
        t += length
    wave = np.sin(2 * np.pi * 6 * np.arange(n_steps) / rate) * on
    return (wave + 0.5 * rng.randn(n_steps)).astype(np.float32)[:, None], on


X, y = zip(*(signal(400) for _ in range(60)))
tagger = LSTMTagger(
    hidden_size=32, frontend=None, max_iter=60, learning_rate_init=0.01, random_state=0
).fit(X, y)

# %%
# Export one step of the stream, then run it the way a device would.
path = tagger.to_onnx(os.path.join(tempfile.mkdtemp(), "tagger-stream.onnx"), streaming=True)
session = onnxruntime.InferenceSession(str(path))
meta = session.get_modelmeta().custom_metadata_map
state = {
    name: np.full(s["shape"], s["initial"], np.int64 if name == "count" else np.float32)
    for name, s in json.loads(meta["stream_state"]).items()
}
outputs = [o.name for o in session.get_outputs()]

x, truth = signal(1000)  # 20 s of new readings
probability_on = []
for reading in x:
    out = session.run(None, {"x": reading[None], **state})
    probability_on.append(out[0][0, 1])
    state = {n[:-4]: v for n, v in zip(outputs, out) if n.endswith("_out")}
probability_on = np.array(probability_on)

reference = tagger.stream().update(x)[:, 1]  # the PyTorch stream
print(
    f"largest difference from the PyTorch stream: {np.abs(probability_on - reference).max():.1e}"
)
print(f"steps labelled right: {np.mean((probability_on > 0.5) == truth):.1%}")

# %%
t = np.arange(len(x)) / rate
fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
top.plot(t, x[:, 0], lw=0.6, color="0.3")
top.fill_between(t, -2.5, 2.5, where=truth == 1, color="tab:green", alpha=0.15, label="on")
top.set_ylabel("reading")
top.legend(loc="upper right")
bottom.plot(t, probability_on, color="tab:blue", label="onnxruntime, step by step")
bottom.set_ylabel("P(on)")
bottom.set_xlabel("time (s)")
bottom.legend(loc="center left")
plt.tight_layout()

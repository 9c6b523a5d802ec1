"""The causal keyword spotter on a device: its one-step ONNX graph in float32 and in int8.

    python -m benchmarks.kws_int8 --model FILE [--takes 5-9] [--json FILE]

``FILE`` holds a :class:`~sklstm.audio.CausalKeywordSpotter` (``python -m
pipelines.keyword_spotting train --causal``, or ``benchmarks.kws_noise --causal
--save DIR``). Its tagger is exported as the one-step streaming graph a device
runs (``to_onnx(streaming=True)``), once in float32 and once with int8 weights
(``quantize=True``: onnxruntime's dynamic quantization of the recurrent and
linear layers). Each FSDD clip of the chosen takes (by default 5-9, which the
docs' models never train on) is then fed to each graph frame by frame, and named
as the spotter's ``predict`` names it: the keyword of the frame where the
probability of a keyword, averaged over ``smooth`` frames, is highest. Printed
and written as JSON: file sizes, clip accuracy of sklstm's ``predict`` and of
each graph, and how far the graphs' frame probabilities stray from PyTorch's.
"""

import argparse
import json
import re
import tempfile
from pathlib import Path

import numpy as np

from .kws_noise import _clips


def _graph_labels(session, initial, features, spotter):
    """Labels of clips (their features) from a one-step graph, as ``predict`` decides them."""
    from sklstm.audio._causal_stream import trailing_mean

    outputs = [o.name for o in session.get_outputs()]
    keywords = spotter.classes_ != spotter.background_label
    labels, probabilities = [], []
    for x in features:
        state, rows = dict(initial), []
        for step in x.astype(np.float32):
            out = session.run(None, {"x": step[None], **state})
            state = {n[:-4]: v for n, v in zip(outputs, out) if n.endswith("_out")}
            rows.append(out[0][0])
        rows = np.array(rows, dtype=np.float64)
        probabilities.append(rows)
        smoothed = trailing_mean(rows, rows[:0], spotter.smooth)
        best = smoothed[np.argmax(smoothed[:, keywords].max(axis=1))]
        labels.append(spotter.classes_[np.argmax(best)])
    return np.array(labels), probabilities


def measure(spotter, waves, labels, *, folder):
    """Sizes and clip accuracies of sklstm and of the float32 and int8 graphs."""
    import onnxruntime

    tagger = spotter.pipeline_[-1]
    features = spotter.pipeline_[:-1].transform(waves)
    reference = tagger.predict_proba(features)
    predicted = spotter.predict(waves)
    results = {
        "n_clips": len(waves),
        "sklstm_accuracy": float(np.mean(predicted == labels)),
        "sklstm_labels": predicted.tolist(),
    }
    for name, quantize in (("float32", False), ("int8", True)):
        path = tagger.to_onnx(Path(folder) / f"{name}.onnx", streaming=True, quantize=quantize)
        session = onnxruntime.InferenceSession(str(path))
        meta = session.get_modelmeta().custom_metadata_map
        initial = {
            key: np.full(s["shape"], s["initial"], np.int64 if key == "count" else np.float32)
            for key, s in json.loads(meta["stream_state"]).items()
        }
        predicted, probabilities = _graph_labels(session, initial, features, spotter)
        stray = max(np.abs(p - r).max() for p, r in zip(probabilities, reference))
        results[name] = {
            "bytes": path.stat().st_size,
            "accuracy": float(np.mean(predicted == labels)),
            "max_probability_difference": float(stray),
            "labels": predicted.tolist(),
        }
    results["int8_size_ratio"] = results["float32"]["bytes"] / results["int8"]["bytes"]
    return results


def _takes(text):
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a take or a range like 5-9, got {text!r}")
    first, last = int(match[1]), int(match[2] or match[1])
    if last < first:
        raise argparse.ArgumentTypeError(f"the range {text!r} is empty")
    return set(range(first, last + 1))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kws_int8", description=__doc__)
    parser.add_argument("--model", required=True, help="a causal keyword-spotting model file")
    parser.add_argument("--takes", type=_takes, default=_takes("5-9"), help="FSDD takes (5-9)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    from pipelines._kws_models import load_spotter
    from sklstm.audio import CausalKeywordSpotter

    torch.set_num_threads(1)
    spotter = load_spotter(args.model)
    if not isinstance(spotter, CausalKeywordSpotter):
        parser.error(
            f"{args.model} holds a {type(spotter).__name__}; this benchmark exports the "
            "network of a CausalKeywordSpotter (train --causal)."
        )
    waves, labels = _clips(args.takes, spotter.sr)
    with tempfile.TemporaryDirectory() as folder:
        results = measure(spotter, waves, labels, folder=folder)
    accuracy = results["sklstm_accuracy"]
    print(f"{results['n_clips']} clips; accuracy of sklstm's predict {accuracy:.2%}")
    for name in ("float32", "int8"):
        row = results[name]
        print(
            f"  {name:<8} {row['bytes'] / 1024:7.0f} kB   accuracy {row['accuracy']:.2%}   "
            f"largest probability difference from PyTorch {row['max_probability_difference']:.4f}"
        )
    print(f"  int8 file {results['int8_size_ratio']:.1f} times smaller")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

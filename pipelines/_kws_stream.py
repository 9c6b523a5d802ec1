"""``spot --stream``: keywords printed while the audio arrives, one JSON line per event.

    python -m pipelines.keyword_spotting spot --stream --model kws.sklstm LONG.wav
    arecord -q -f S16_LE -c 1 -r 8000 -t raw | \\
        python -m pipelines.keyword_spotting spot --stream --model kws.sklstm -

A file is read (and resampled to the model's rate if need be) and then fed to
the spotter a chunk at a time, as if it were arriving; ``-`` reads raw 16-bit
little-endian mono PCM from standard input, which must already be at the
model's rate (``--rate``). Every event is the one the offline ``spot`` of the
same model finds (see :class:`sklstm.audio.KeywordStream` and, for models
trained with ``--causal``, :class:`sklstm.audio.CausalKeywordStream`), printed
as soon as the audio that decides it has been read. At the end, standard error gets the
number of events, the processing time per second of audio and the delays.
Ctrl-C ends the recording where it is: the events that this end decides are
printed (as if the recording had ended there), then the program exits with
status 130.
"""

import json
import sys
import time

import numpy as np

_PCM_BYTES = 2  # 16-bit samples


def _file_chunks(path, sr, chunk):
    from sklstm.audio import AudioFileError, load_audio

    try:
        y, _ = load_audio(path, sr=sr)
    except AudioFileError as exc:
        raise SystemExit(f"error: {exc}") from None
    for start in range(0, len(y), chunk):
        yield y[start : start + chunk]


def _pcm_chunks(stream, chunk):
    """Chunks of float32 samples from raw signed 16-bit little-endian PCM."""
    leftover = b""
    while True:
        data = stream.read(chunk * _PCM_BYTES)
        if not data:
            return
        data = leftover + data
        usable = len(data) - len(data) % _PCM_BYTES
        data, leftover = data[:usable], data[usable:]
        if data:
            yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def spot_stream(args, spotter):
    """Run ``spot --stream``; return the exit status."""
    if args.rate is not None and args.recording != "-":
        raise SystemExit("error: --rate describes raw PCM on standard input (recording '-').")
    if args.recording == "-" and args.rate not in (None, spotter.sr):
        raise SystemExit(
            f"error: this model reads audio at {spotter.sr} Hz, not {args.rate} Hz: record "
            f"or convert at {spotter.sr} Hz (arecord -r {spotter.sr}, sox ... -r {spotter.sr})."
        )
    chunk_seconds = 0.1 if args.chunk is None else args.chunk
    if not 0 < chunk_seconds <= 60:
        raise SystemExit(f"error: --chunk must be in (0, 60] seconds, got {chunk_seconds}.")
    try:
        stream = spotter.stream(threshold=args.threshold)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    chunk = max(1, int(round(chunk_seconds * spotter.sr)))
    if args.recording == "-":
        chunks = _pcm_chunks(sys.stdin.buffer, chunk)
    else:
        chunks = _file_chunks(args.recording, spotter.sr, chunk)
    busy, events = 0.0, []

    def report(new):
        for event in new:
            print(json.dumps(event), flush=True)
        events.extend(new)

    interrupted = False
    try:
        for samples in chunks:
            start = time.perf_counter()
            new = stream.update(samples)
            busy += time.perf_counter() - start
            report(new)
    except KeyboardInterrupt:
        interrupted = True  # report what the audio read so far decides
    start = time.perf_counter()
    new = stream.finish()
    busy += time.perf_counter() - start
    report(new)
    seconds = stream.n_samples_ / spotter.sr
    delays = [e["decided"] - e["end"] for e in events]
    summary = f"{len(events)} keyword(s) in {seconds:.1f} s of audio"
    if seconds > 0:
        summary += f"; processing {busy / seconds:.3f} s per s of audio"
    if delays and not hasattr(spotter, "detector"):
        summary += "; each decided at its end (causal model)"
    elif delays:
        summary += (
            f"; decided {np.median(delays):.2f} s (median), {max(delays):.2f} s (most) "
            "after the end of their window"
        )
    print(summary, file=sys.stderr)
    if interrupted:
        print("interrupted (Ctrl-C): stopped.", file=sys.stderr)
        return 130
    return 0

"""Reading the keyword-spotting application's data: clips of FSDD or Speech Commands
layout, and folders of noise recordings."""

from pathlib import Path

import numpy as np

NOISE_FOLDER = "_background_noise_"
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


def find_clips(data_dir):
    """Clips, labels, speaker groups and background-noise files of DIR.

    Returns
    -------
    paths : list of Path
    labels : list of str
    groups : list of str
        Who speaks (FSDD: the second field of the name; Speech Commands: the
        first), for speaker-grouped cross-validation.
    noises : list of Path
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise SystemExit(f"error: --data {root} is not a directory.")

    def audio_in(folder):
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)

    if not audio_in(root) and (root / "recordings").is_dir():
        root = root / "recordings"  # the FSDD repository's layout
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    folders = [d for d in folders if audio_in(d)]
    paths, labels, groups, noises = [], [], [], []
    if folders:
        for folder in folders:
            if folder.name == NOISE_FOLDER:
                noises = audio_in(folder)
                continue
            for path in audio_in(folder):
                paths.append(path)
                labels.append(folder.name)
                groups.append(path.stem.split("_")[0])
    else:
        for path in audio_in(root):
            fields = path.stem.split("_")
            paths.append(path)
            labels.append(fields[0])
            groups.append(fields[1] if len(fields) > 1 else path.stem)
    if not paths:
        raise SystemExit(
            f"error: no audio clips in {root}: expected {{label}}_*.wav files or one folder "
            "of clips per keyword."
        )
    return paths, labels, groups, noises


def load_clips(paths, sr, bad, *, progress=True, desc="reading clips"):
    """Waveforms of the readable clips at ``sr`` and the indices of those clips."""
    from tqdm.auto import tqdm

    from sklstm.audio import AudioFileError, load_audio

    waves, kept = [], []
    for i, path in enumerate(tqdm(paths, desc=desc, unit="clip", disable=not progress)):
        try:
            waves.append(load_audio(path, sr=sr)[0])
            kept.append(i)
        except AudioFileError as exc:
            bad.add(path, str(exc).removeprefix(f"{path}: "))
    return waves, np.array(kept, dtype=np.int64)


def find_noises(folders):
    """Audio files under each folder of ``--noise`` (searched recursively), sorted."""
    paths = []
    for folder in folders or []:
        folder = Path(folder)
        if not folder.is_dir():
            raise SystemExit(f"error: --noise {folder} is not a directory.")
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not found:
            kinds = ", ".join(sorted(AUDIO_SUFFIXES))
            raise SystemExit(f"error: --noise {folder} holds no audio file ({kinds}).")
        paths += found
    return paths


def read_training_data(data, sr, bad, progress, noise_folders=None):
    """Waveforms, labels, speaker groups and noises of ``--data`` and ``--noise``, and the
    paths of the clips read (the unreadable ones are added to ``bad``)."""
    paths, labels, groups, noise_paths = find_clips(data)
    noise_paths = noise_paths + find_noises(noise_folders)
    waves, kept = load_clips(paths, sr, bad, progress=progress)
    noises, _ = load_clips(noise_paths, sr, bad, progress=progress, desc="reading noises")
    if not waves:
        raise SystemExit("error: none of the clips could be read.")
    paths = [paths[i] for i in kept]
    return waves, np.array(labels)[kept], np.array(groups)[kept], noises, paths

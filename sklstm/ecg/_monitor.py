"""Classify the beats of an ECG lead while it is being recorded, a chunk at a time.

The arrhythmia models read each beat in the context of its record: the signal
filters run forwards and backwards, the R-peak detector compares a candidate
with what follows it, the beats are normalized by the record's median beat and
amplitude, and the tagger and the RR model read the beats on both sides. A
monitor therefore cannot decide a beat when its R peak arrives. It decides it
``lookahead`` seconds later or a little more, with the same functions the offline
:meth:`~sklstm.ecg.ArrhythmiaTagger.annotate` runs, over the last ``history``
seconds of signal: every ``interval`` seconds it detects and classifies the beats
of that window, and reports those whose R peak has become at least
``lookahead`` seconds old. Longer lookahead and history give classes closer to
the offline ones (which read the whole record, both ways); the docs
(``docs/user_guide/streaming.md``) give the agreement measured on MIT-BIH. A
causal model (``causal=True``) reads each beat from the past alone: its classes
are final half a second after the R peak, and each decision computes only the
beats it reports.
"""

from numbers import Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._beats import extract_beats
from ._records import Record

__all__ = ["ArrhythmiaMonitor"]

#: Signal before the oldest undecided beat that the filters and the detector
#: need to settle (the offline reader's stretches overlap by as much).
_SETTLE_SECONDS = 30.0
#: The beat window reaches 0.45 s past the R peak (the models' ``after``), and the
#: detector compares a candidate with the peaks of the next 300 ms: no beat is
#: decided sooner.
_MIN_LOOKAHEAD_SECONDS = 0.5
#: Signal past the end of a beat's window before the beat is decided: the
#: zero-phase 35 Hz low-pass reads ahead with a decaying tail (cut 50 ms past the
#: window, a row moves by up to about 2e-3 of its scale; 100 ms, 1e-4).
_WINDOW_MARGIN_SECONDS = 0.05
#: A beat this close to the last one reported is that beat found again, a few
#: samples off, by a later decision. Two R peaks the detector reports lie at least
#: about 90 ms apart (QRS energy peaks 250 ms apart, each R peak within 80 ms of
#: its own).
_SAME_BEAT_SECONDS = 0.05


def _positive(name, value, minimum=0.0):
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not minimum < value < float("inf")
    ):
        raise ValueError(f"{name} must be a finite number above {minimum:g}, got {value!r}.")


# The monitor's settings by default: a model that reads the whole record waits
# for classes close to the offline ones (docs: streaming, "Monitoring an ECG
# live"); a causal one has them once its window has arrived.
_MONITOR = dict(lookahead=20.0, history=1800.0, interval=2.0)
_CAUSAL_MONITOR = dict(history=300.0, interval=0.5)


def monitor_defaults(model):
    """``lookahead``, ``history`` and ``interval`` of a monitor of ``model`` by default."""
    shortest = min_lookahead(model.after)
    if getattr(model, "causal", False):
        # Decided once the window (and 50 ms of the low-pass's tail) has arrived.
        return dict(_CAUSAL_MONITOR, lookahead=shortest)
    return dict(_MONITOR, lookahead=max(_MONITOR["lookahead"], shortest))


def min_lookahead(after):
    """The shortest lookahead of a monitor of a model whose windows end ``after`` s
    past the R peak."""
    return max(_MIN_LOOKAHEAD_SECONDS, round(after + _WINDOW_MARGIN_SECONDS, 6))


class ArrhythmiaMonitor:
    """The beats of one ECG lead, detected and classified as its samples arrive.

    Built by the arrhythmia models' ``monitor()`` method. Feed the samples
    with :meth:`update` as they come; each call returns the beats decided
    since the last one. :meth:`flush` decides the rest when the recording
    ends; :meth:`reset` starts a new one.

    Every ``interval`` seconds of signal, the model detects and classifies the
    beats of the last ``history`` seconds as its offline ``annotate`` reads a
    record (the window standing for the record), and the beats whose R peak
    is at least ``lookahead`` seconds old are reported, each once. The
    decisions fall at fixed points of the signal, so the beats and classes do
    not depend on how the samples are chunked.

    Parameters
    ----------
    model : ArrhythmiaTagger or ArrhythmiaClassifier
        A fitted model. Its beat settings (filters, windows, RR features)
        apply; the signal is its lead, in physical units (mV).
    fs : float
        Sampling frequency of the signal in Hz (above 30).
    lookahead : float, default=None
        Seconds of signal after a beat's R peak before it can be decided, at
        least 0.5 (the beat's window reaches 0.45 s past its R peak, and the
        detector compares a candidate with the next 300 ms), and at least the
        model's ``after`` plus 0.05 s for a model with longer windows. Each beat is
        decided between ``lookahead`` and ``lookahead + interval`` seconds
        after its R peak. None: 20 s, or for a causal model (``causal=True``)
        the least it may be (0.5 s with the default ``after``). A beat decided
        sooner than 20 s by a model that is not causal misses the beats after it
        (the interval to the next beat, the tagger's and the RR model's
        context) and more often differs from the offline class. With the
        default, the default model's classes (that of round 7, before
        ``rr_reference``) of the 22 records of DS1 were the
        offline ones for 99.5% of their beats (10 s: 99.45%; 0.5 s: see the
        docs, "Monitoring an ECG live").
    history : float, default=None
        Seconds of signal each decision reads (None: 1,800 s, or 300 s for a
        causal model, see its ``monitor()``), at least ``lookahead + interval
        + 30`` (the filters and the detector settle over the first 30 s): the
        record-level normalization (median beat, median R amplitude, mean RR)
        and the tagger's context come from it. The default is the length of
        the MIT-BIH records the default model was trained on; shorter
        histories cost less per decision and agree less with ``annotate``
        on records whose rhythm changes.
    interval : float, default=None
        Seconds of signal between decisions (None: 2 s, or 0.5 s for a causal
        model), at most ``lookahead``. Each decision reads ``history``
        seconds, so a larger interval costs less computation and adds up to
        ``interval`` seconds to the latency.

    Attributes
    ----------
    n_samples_seen_ : int
        Samples fed since the start or the last :meth:`reset`.
    n_beats_ : int
        Beats reported so far.

    Examples
    --------
    >>> monitor = model.monitor(fs=360)  # doctest: +SKIP
    >>> for chunk in chunks_of_the_lead:  # doctest: +SKIP
    ...     beats = monitor.update(chunk)
    ...     for sample, cls in zip(beats.samples, beats.pred):
    ...         print(sample / 360, cls)
    >>> beats = monitor.flush()  # doctest: +SKIP
    """

    def __init__(self, model, *, fs, lookahead=None, history=None, interval=None):
        check_is_fitted(model)
        defaults = monitor_defaults(model)
        lookahead = defaults["lookahead"] if lookahead is None else lookahead
        history = defaults["history"] if history is None else history
        interval = defaults["interval"] if interval is None else interval
        self.check_settings(
            fs=fs, lookahead=lookahead, history=history, interval=interval, after=model.after
        )
        self.model = model
        self.fs, self.lookahead = float(fs), float(lookahead)
        self.history, self.interval = float(history), float(interval)
        self._step = max(1, round(self.interval * self.fs))
        self._delay = round(self.lookahead * self.fs)
        self._keep = round(self.history * self.fs)
        self._same = round(_SAME_BEAT_SECONDS * self.fs)
        self.reset()

    @staticmethod
    def check_settings(*, fs, lookahead, history, interval, after=0.45):
        """Raise ValueError, naming the setting, unless a monitor can run with these.

        Parameters
        ----------
        fs, lookahead, history, interval : float
            As the monitor takes them.
        after : float, default=0.45
            The model's ``after``: a beat is decided once its window and 50 ms
            more have arrived, or 0.5 s, whichever is later.
        """
        _positive("fs", fs, 30.0)
        for name, value in [
            ("lookahead", lookahead),
            ("history", history),
            ("interval", interval),
        ]:
            _positive(name, value)
        shortest = min_lookahead(after)
        if lookahead < shortest:
            why = (
                ""
                if shortest == _MIN_LOOKAHEAD_SECONDS
                else f" (the model's windows reach after={after:g} s past the R peak)"
            )
            raise ValueError(f"lookahead must be at least {shortest:g} s{why}, got {lookahead!r}.")
        if history < lookahead + interval + _SETTLE_SECONDS:
            # The oldest beat a decision may report is lookahead + interval old,
            # and needs the filters and the detector settled before it.
            raise ValueError(
                f"history must be at least lookahead + interval + {_SETTLE_SECONDS:g} s "
                f"({lookahead + interval + _SETTLE_SECONDS:g}), got {history!r}."
            )
        if interval > lookahead:
            raise ValueError(
                f"interval must be at most lookahead ({lookahead:g} s), got {interval!r}."
            )

    def reset(self):
        """Forget the signal so far: the next samples start a new recording.

        Returns
        -------
        self : ArrhythmiaMonitor
            This monitor, at the start of a recording.
        """
        self._buffer = np.zeros(0)
        self._first = 0  # absolute index of the buffer's first sample
        self._last_beat = None  # R peak of the last beat reported
        self._pending = []  # decided, not yet returned (an update interrupted midway)
        self.n_samples_seen_ = 0
        self.n_beats_ = 0
        return self

    def update(self, chunk):
        """Feed the next samples; get the beats decided meanwhile.

        Parameters
        ----------
        chunk : array-like of shape (n_samples,)
            The next samples of the lead (any number, zero included).

        Returns
        -------
        beats : :class:`~sklearn.utils.Bunch`
            ``samples`` (ndarray of int64 of shape (n_beats,), the R peaks,
            counted from the first sample fed), ``pred`` (ndarray of str, the
            class of each), ``proba`` (ndarray of shape (n_beats,
            n_classes), columns in the order of the model's ``classes_``) and
            ``decided`` (ndarray of int64, the number of samples fed when each
            was decided: its latency is ``(decided - samples) / fs``).

        Notes
        -----
        A chunk with NaN, infinity or more than one dimension is refused
        whole. If a decision raises midway (Ctrl-C), the samples before it
        stay fed, and the beats decided before it come with the next call.
        """
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 1:
            raise ValueError(
                f"chunk must be 1D, the next samples of one lead; got shape {chunk.shape}."
            )
        if not np.all(np.isfinite(chunk)):
            raise ValueError("chunk holds NaN or infinity; the monitor needs finite samples.")
        while len(chunk):
            # Up to the next decision point (a multiple of the interval), then decide.
            room = self._step - self.n_samples_seen_ % self._step
            head, chunk = chunk[:room], chunk[room:]
            self._append(head)
            if self.n_samples_seen_ % self._step == 0:
                self._pending.append(self._decide(self.n_samples_seen_ - self._delay))
        return self._take_pending()

    def flush(self):
        """Decide every beat not yet reported, with the signal there is: the recording ended.

        Samples fed after a flush continue the same recording (its beats are
        those after the last one reported); :meth:`reset` starts a new one.

        Returns
        -------
        beats : :class:`~sklearn.utils.Bunch`
            As :meth:`update`.
        """
        self._pending.append(self._decide(self.n_samples_seen_ + 1))
        return self._take_pending()

    def _append(self, samples):
        self._buffer = np.concatenate([self._buffer, samples])
        self.n_samples_seen_ += len(samples)
        excess = len(self._buffer) - self._keep
        if excess > 0:
            self._buffer = self._buffer[excess:]
            self._first += excess

    def _decide(self, until):
        """Classify the buffer's beats; report those after the last one reported and
        before sample ``until``."""
        if until <= 0:
            return None
        after = None if self._last_beat is None else self._last_beat + self._same - self._first
        beats = self._classify(after)
        if beats is None:
            return None
        samples = beats.samples + self._first
        new = samples < until
        keep = np.flatnonzero(new)
        if len(keep):
            self._last_beat = samples[keep[-1]]
        self.n_beats_ += len(keep)
        return Bunch(
            samples=samples[keep],
            pred=beats.pred[keep],
            proba=beats.proba[keep],
            decided=np.full(len(keep), self.n_samples_seen_, dtype=np.int64),
        )

    def _classify(self, after=None):
        """The beats of the buffer after its sample ``after`` (all with None), read and
        classified as ``annotate`` reads a record; None while the buffer holds too little
        signal or too few beats for that. The beats before are the others' context."""
        model = self.model
        none = np.zeros(0, dtype=np.int64)
        record = Record(
            "monitor", self._buffer, self.fs, str(model.lead), none, none.astype("<U1"),
            np.zeros((0, 2), dtype=np.int64),
        )  # fmt: skip
        try:
            beats = extract_beats(record, r_peaks="detect", **model.extract_params())
        except ValueError:  # shorter than a beat's window, or fewer than two beats
            return None
        beats = model._table(beats)
        start = 0 if after is None else int(np.searchsorted(beats.samples, after, side="right"))
        beats.samples = beats.samples[start:]
        if len(beats.samples):
            beats.proba = model._predict_proba_rows(beats.X, start)
        else:
            beats.proba = np.zeros((0, len(model.classes_)))
        beats.pred = model.classes_[np.argmax(beats.proba, axis=1)]
        return beats

    def _take_pending(self):
        parts, self._pending = self._pending, []
        return self._join(parts)

    def _join(self, parts):
        parts = [p for p in parts if p is not None]
        if not parts:
            n_classes = len(self.model.classes_)
            return Bunch(
                samples=np.zeros(0, dtype=np.int64),
                pred=np.zeros(0, dtype=self.model.classes_.dtype),
                proba=np.zeros((0, n_classes)),
                decided=np.zeros(0, dtype=np.int64),
            )
        return Bunch(**{key: np.concatenate([p[key] for p in parts]) for key in parts[0]})

"""The network behind the estimators: recurrent layers, pooling and a linear head."""

import torch
from torch import nn

from .frontend import ConvFrontEnd
from .pooling import MeanPool, make_pooling
from .recurrent import make_recurrent

__all__ = ["SequenceNetwork"]


class SequenceNetwork(nn.Module):
    """An optional convolutional front end, recurrent layers pooled over each
    sequence's valid steps, then a linear head.

    Parameters
    ----------
    input_size : int
        Features per time step.
    output_size : int
        Outputs of the head (class logits or regression targets).
    hidden_size : int, default=64
        Hidden units per direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Whether each layer also reads the sequences backwards.
    dropout : float, default=0.0
        Dropout between recurrent layers and before the head.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrence.
    backend : {"explicit", "fused"}, default="explicit"
        Hand-written gate equations or ``torch.nn``'s fused modules; their state
        dicts are interchangeable.
    pooling : {"last", "mean", "max", "attention"} or None, default="last"
        How the outputs of all steps become one vector per sequence. None
        keeps one output per step (sequence labelling): the head maps each
        step's recurrent output (with the front end's features of that step,
        and the static features) to its own output vector.
    static_size : int, default=0
        The last ``static_size`` of the ``input_size`` features describe the
        whole sequence: they are read at step 0 and concatenated to the pooled
        vector before the head, bypassing the recurrent layers.
    frontend : {None, "conv"}, default=None
        ``"conv"`` reads the step features with a :class:`ConvFrontEnd` before
        the recurrent layers, and also joins the mean of its features over the
        valid steps to the head's input (as LSTM-FCN joins its two branches).
    frontend_channels : int, default=64
        Feature maps of the front end.
    frontend_stride : int, default=1
        Downsampling of the front end: the recurrent layers read
        ``ceil(T / frontend_stride)`` steps.
    frontend_kernels : tuple of int or None, default=None
        Kernel sizes of the front end's blocks (see :class:`ConvFrontEnd`);
        None for its default layout.

    Examples
    --------
    >>> import torch
    >>> net = SequenceNetwork(input_size=3, output_size=2, hidden_size=8)
    >>> x = torch.randn(10, 4, 3)  # 10 steps, 4 sequences, 3 features
    >>> net(x, torch.tensor([10, 7, 3, 1])).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        *,
        input_size,
        output_size,
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        cell="lstm",
        backend="explicit",
        pooling="last",
        static_size=0,
        frontend=None,
        frontend_channels=64,
        frontend_stride=1,
        frontend_kernels=None,
    ):
        super().__init__()
        self.static_size = static_size
        step_size = input_size - static_size
        self.frontend = None
        if frontend == "conv" and pooling is None and frontend_stride != 1:
            raise ValueError(
                "One output per step (pooling=None) needs frontend_stride=1, got "
                f"{frontend_stride}."
            )
        if frontend == "conv":
            self.frontend = ConvFrontEnd(
                step_size,
                channels=frontend_channels,
                stride=frontend_stride,
                kernels=frontend_kernels,
            )
            self.frontend_pool = MeanPool()
            step_size = frontend_channels
        elif frontend is not None:
            raise ValueError(f"frontend must be None or 'conv', got {frontend!r}.")
        self.recurrent = make_recurrent(
            backend=backend,
            cell=cell,
            input_size=step_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        num_directions = 2 if bidirectional else 1
        self.pool = None
        if pooling is not None:
            self.pool = make_pooling(
                pooling, hidden_size=hidden_size, num_directions=num_directions
            )
        self.dropout = nn.Dropout(dropout)
        skip_size = frontend_channels if self.frontend is not None else 0
        self.head = nn.Linear(hidden_size * num_directions + skip_size + static_size, output_size)

    def __setstate__(self, state):
        # Networks pickled before the front end existed have none.
        state.setdefault("_modules", {}).setdefault("frontend", None)
        super().__setstate__(state)

    def forward(self, x, lengths):
        """Map a padded batch to one output vector per sequence.

        Parameters
        ----------
        x : Tensor [shape=(T, B, input_size)]
            Time-major padded batch (``torch.nn.LSTM``'s default layout).
        lengths : Tensor [shape=(B,)]
            Valid steps of each sequence, each in ``[1, T]``.

        Returns
        -------
        output : Tensor [shape=(B, output_size)], or [shape=(T, B, output_size)] \
                with ``pooling=None``
            With ``pooling=None``, the outputs at padded steps are whatever the
            head makes of them; only the first ``lengths[b]`` steps of sequence
            ``b`` mean anything.
        """
        lengths = lengths.to(x.device)
        if self.static_size:
            static = x[0, :, -self.static_size :]
            x = x[..., : -self.static_size]
        frontend = None
        if self.frontend is not None:
            x, lengths = self.frontend(x, lengths)
            frontend = x
        output = self.recurrent(x, lengths)
        if self.pool is None:
            parts = [output] if frontend is None else [output, frontend]
            features = self.dropout(torch.cat(parts, dim=-1))
            if self.static_size:
                static = static.unsqueeze(0).expand(len(features), -1, -1)
                features = torch.cat([features, static], dim=-1)
            return self.head(features)
        pooled = self.pool(output, lengths)
        if frontend is not None:
            pooled = torch.cat([pooled, self.frontend_pool(frontend, lengths)], dim=-1)
        pooled = self.dropout(pooled)
        if self.static_size:
            pooled = torch.cat([pooled, static], dim=-1)
        return self.head(pooled)

"""A learnable convolutional front end that reads local shape before the recurrent layers.

Long series (hundreds or thousands of steps) are hard for a recurrent layer to
read one step at a time: gradients must flow through every step, and the
shapes that tell classes apart are local (a peak, a notch, a slope). The front
end, like the convolutional half of LSTM-FCN (Karim et al., 2018), turns each
neighbourhood of steps into learned features and shortens the sequence by a
stride, so that the recurrent layers see at most a few dozen steps.

Variable lengths are first class here as everywhere in sklstm: every
convolution sees zeros beyond a sequence's last valid step, exactly as it would
if the sequence were alone in its batch (convolutions pad with zeros), and the
normalization, if any, never mixes steps of different sequences: layer
normalization over the channels of each step works on one step at a time, and
batch normalization learns its statistics from valid steps only. A sequence's
outputs therefore do not depend on the longer sequences it is batched with.

By default the blocks have no normalization layer. On the shared UCR sets
(four seeds each, with the former three-block layout), plain convolutions
averaged 0.890 accuracy over the four classification sets, layer normalization
0.780 (it rescales each step's channels, so the amplitude of a local window is
lost) and batch normalization 0.743: on PigCVP (52 pigs, two training series
each) a network trained with batch statistics fitted its training series in
training mode and missed most of them with the running statistics (0.09
against 0.66 without normalization).
"""

import contextlib
from numbers import Integral

import torch
from torch import nn

__all__ = [
    "ConvFrontEnd",
    "MaskedBatchNorm",
    "StepLayerNorm",
    "WIDE_STRIDE",
    "default_kernels",
    "frontend_lengths",
    "three_block_kernels",
]


def _step_mask(lengths, total_length, dtype):
    """``[shape=(B, 1, T)]``: 1 at valid steps, 0 at padding."""
    steps = torch.arange(total_length, device=lengths.device)
    return (steps < lengths.unsqueeze(1)).unsqueeze(1).to(dtype)


class MaskedBatchNorm(nn.Module):
    """Batch normalization per channel with statistics over valid steps only.

    In training, the mean and variance of each channel are taken over the valid
    steps of the batch (padding would otherwise pull them towards zero, by an
    amount that depends on how the batch was formed); running estimates are kept
    as ``torch.nn.BatchNorm1d`` keeps them and used in evaluation, where the
    normalization is a fixed affine map of each step.

    Parameters
    ----------
    num_features : int
        Channels.
    eps : float, default=1e-5
        Added to the variance.
    momentum : float, default=0.1
        Weight of the current batch in the running estimates.
    """

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x, mask):
        """Normalize ``x [shape=(B, C, T)]``; ``mask [shape=(B, 1, T)]`` marks valid steps."""
        if self.training:
            count = mask.sum()
            mean = (x * mask).sum((0, 2)) / count
            var = ((x - mean[:, None]).pow(2) * mask).sum((0, 2)) / count
            with torch.no_grad():
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight * torch.rsqrt(var + self.eps)
        return x * scale[:, None] + (self.bias - mean * scale)[:, None]


class StepLayerNorm(nn.LayerNorm):
    """Layer normalization over the channels of each step, the same in training and evaluation.

    Parameters
    ----------
    num_features : int
        Channels.
    """

    def __init__(self, num_features):
        super().__init__(num_features)

    def forward(self, x, mask):
        """Normalize ``x [shape=(B, C, T)]`` step by step (``mask`` is not needed)."""
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class _NoNorm(nn.Module):
    def __init__(self, num_features):
        super().__init__()

    def forward(self, x, mask):
        return x


def _exporting():
    """Whether the module runs under a tracer or exporter, which fixes Python branches.

    TorchScript tracing covers ``torch.onnx.export(dynamo=False)``; compiling covers
    ``torch.export`` and the dynamo exporter (``is_compiling`` is torch >= 2.3).
    """
    compiling = getattr(torch.compiler, "is_compiling", None)
    return torch.jit.is_tracing() or (compiling is not None and compiling())


def frontend_lengths(lengths, stride):
    """Valid output steps of a sequence of ``lengths`` steps: ``ceil(lengths / stride)``."""
    return torch.div(lengths - 1, stride, rounding_mode="floor") + 1


def full_precision_cudnn(x):
    """cuDNN's kernels (convolutions, recurrent layers) in float32, not TF32, for CUDA tensors.

    TF32 (PyTorch's default for cuDNN convolutions) rounds inputs to 10-bit
    mantissas in kernels chosen by shape, so a sequence alone and in a batch
    differed by up to 4e-5 in probability on an H200; in float32 they agree to
    1e-7. ``x`` is any tensor on the device the kernels run on.
    """
    if not x.is_cuda:
        return contextlib.nullcontext()
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=cudnn.enabled,
        benchmark=cudnn.benchmark,
        deterministic=cudnn.deterministic,
        allow_tf32=False,
    )


#: From this stride on (series of more than 448 steps under ``frontend="auto"``),
#: the front end widens its first block to the stride and adds a fourth block.
WIDE_STRIDE = 8


def default_kernels(stride):
    """Kernel sizes of :class:`ConvFrontEnd`'s blocks for a downsampling by ``stride``.

    Below :data:`WIDE_STRIDE` (8), three blocks of kernels 7, ``max(5,
    stride)`` and 3 (:func:`three_block_kernels`). From stride 8 on, four
    blocks: ``(stride, stride, 3, 3)``, the first two rounded up to odd. There
    the first block reads as far as the strided one (so each strided output
    summarizes shapes as wide as the stride, where a 7-step kernel would see a
    fraction of it), and two blocks after the stride widen the receptive field
    to about six strides. On PigCVP (2,000 steps, stride 32) the four blocks
    averaged 0.71 accuracy over five seeds where three blocks of kernels 7, 33
    and 3 averaged 0.66. At smaller strides a fourth block was measured and not
    adopted: 0.03 better on one shared set, 0.02 worse and twice as spread on
    MFCC sequences of new speakers (docs: "Getting good results").

    Parameters
    ----------
    stride : int
        Downsampling factor of the second (strided) block, at least 1.

    Returns
    -------
    kernels : tuple of int
        Kernel size of each block, in order.

    Examples
    --------
    >>> default_kernels(3), default_kernels(32)
    ((7, 5, 3), (33, 33, 3, 3))
    """
    if stride < WIDE_STRIDE:
        return three_block_kernels(stride)
    return (stride | 1, stride | 1, 3, 3)


def three_block_kernels(stride):
    """``(7, max(5, stride), 3)``, the middle one rounded up to odd: the default below
    stride 8, and the layout of every model fitted before the four-block one existed."""
    return (7, max(5, stride) | 1, 3)


class ConvFrontEnd(nn.Module):
    """Convolution blocks (convolution, optional normalization, ReLU), the second strided.

    By default (:func:`default_kernels`) three blocks of kernels 7, ``max(5,
    stride)`` (rounded up to odd, so that the strided convolution skips no
    step) and 3, and from stride 8 on four blocks of kernels ``stride``,
    ``stride`` (rounded up to odd), 3 and 3; a sequence of ``L`` valid steps
    leaves ``ceil(L / stride)``. The convolutions start from He initialization
    (normal weights of variance ``2 / fan_in``, zero biases), which keeps the
    features' scale through the ReLU blocks.

    Parameters
    ----------
    input_size : int
        Features per time step.
    channels : int, default=64
        Feature maps of every block.
    stride : int, default=1
        Downsampling factor of the second block.
    kernels : tuple of int or None, default=None
        Kernel size of each block, in order (at least two blocks; the second
        is strided). Each is odd, so that a block's outputs stay centred on
        its inputs, and the strided one spans at least ``stride`` steps. None
        means ``default_kernels(stride)``.
    norm : {"layer", "batch"} or None, default=None
        A normalization after each convolution: :class:`StepLayerNorm` over
        the channels of each step, :class:`MaskedBatchNorm` over the valid
        steps of the batch, or none.

    Examples
    --------
    >>> import torch
    >>> frontend = ConvFrontEnd(3, channels=8, stride=4).eval()
    >>> frontend.kernels
    (7, 5, 3)
    >>> out, lengths = frontend(torch.randn(100, 2, 3), torch.tensor([100, 37]))
    >>> tuple(out.shape), lengths.tolist()
    ((25, 2, 8), [25, 10])
    """

    def __setstate__(self, state):
        # Front ends pickled before ``kernels`` existed: read the layout off the blocks.
        super().__setstate__(state)
        if "kernels" not in self.__dict__:
            self.kernels = tuple(conv.kernel_size[0] for conv in self.convs)

    def __init__(self, input_size, *, channels=64, stride=1, kernels=None, norm=None):
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}.")
        if norm not in ("layer", "batch", None):
            raise ValueError(f"norm must be 'layer', 'batch' or None, got {norm!r}.")
        kernels = default_kernels(stride) if kernels is None else tuple(kernels)
        if (
            len(kernels) < 2
            or any(
                isinstance(k, bool) or not isinstance(k, Integral) or k < 1 or k % 2 == 0
                for k in kernels
            )
            or kernels[1] < stride
        ):
            raise ValueError(
                "kernels must be at least two odd sizes, the second (strided) one at "
                f"least the stride {stride}; got {kernels!r}."
            )
        self.input_size = input_size
        self.channels = channels
        self.stride = stride
        self.kernels = tuple(int(k) for k in kernels)
        self.norm = norm
        specs = [
            (input_size if i == 0 else channels, k, stride if i == 1 else 1)
            for i, k in enumerate(self.kernels)
        ]
        self.convs = nn.ModuleList(
            nn.Conv1d(n_in, channels, k, stride=s, padding=k // 2) for n_in, k, s in specs
        )
        for conv in self.convs:
            # He initialization keeps the scale of the features through the ReLU
            # blocks; torch's default divides their mean square by 4 to 6 per block.
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        norms = {"batch": MaskedBatchNorm, "layer": StepLayerNorm, None: _NoNorm}
        self.norms = nn.ModuleList(norms[norm](channels) for _ in specs)

    def forward(self, x, lengths):
        """Convolve a time-major padded batch.

        Parameters
        ----------
        x : Tensor [shape=(T, B, input_size)]
            Padded batch.
        lengths : Tensor [shape=(B,)]
            Valid steps of each sequence, each in ``[1, T]``.

        Returns
        -------
        output : Tensor [shape=(ceil(T / stride), B, channels)]
            Features, zero at padded steps.
        lengths : Tensor [shape=(B,)]
            Valid steps of each output sequence.
        """
        # A batch of sequences that all fill it (series of one length, the common
        # case) has no padding before or after any block (odd kernels padded by
        # k // 2 give ceil(T / stride) steps), so its masks hold only ones and
        # multiplying by them is skipped: the same outputs, about a quarter less
        # time per training step of a long series. Traced and exported graphs keep
        # the products, whatever the example; so do lengths on a GPU, where
        # reading them would wait for the device.
        padded = _exporting() or lengths.device.type != "cpu" or int(lengths.min()) < x.shape[0]
        lengths = lengths.to(x.device)
        h = x.permute(1, 2, 0)
        mask = _step_mask(lengths, h.shape[2], h.dtype)
        if padded:
            h = h * mask  # whatever the caller padded with, the convolutions see zeros
        for conv, norm in zip(self.convs, self.norms):
            with full_precision_cudnn(h):
                h = conv(h)
            if conv.stride[0] > 1:
                lengths = frontend_lengths(lengths, conv.stride[0])
                mask = _step_mask(lengths, h.shape[2], h.dtype)
            h = torch.relu(norm(h, mask))
            if padded:
                h = h * mask
        return h.permute(2, 0, 1), lengths

    def extra_repr(self):
        return (
            f"{self.input_size}, channels={self.channels}, stride={self.stride}, "
            f"kernels={self.kernels}, norm={self.norm!r}"
        )

"""The recurrences of the LSTM, GRU and Elman RNN cells, written out by hand.

Each cell is an :class:`torch.autograd.Function` that runs the whole time loop
of one layer, for one or both directions at once, with the forward equations
and the backpropagation-through-time equations written explicitly.

Why a whole-sequence Function rather than per-step autograd: at the batch sizes
sequence models train with, the cost of a step is dominated by per-operation
dispatch, not by arithmetic. Recording every gate operation for autograd costs
about twice the operations of the step itself. Here a forward step is seven
in-place kernels into preallocated buffers, a backward step four or five, and
everything that does not depend on the recurrence (activation derivatives,
weight gradients, input gradients) is computed once for all time steps as large
batched operations.

Shapes: ``T`` time steps, ``D`` directions (1 or 2; the directions are batched
together through ``bmm``), ``B`` sequences, ``H`` hidden units. Inputs are
projected beforehand: ``xp[t] = W_ih x_t + b`` for every step in one matmul.

Gate layouts: the LSTM works on ``[o, i, f, g]`` (``torch.nn.LSTM`` stores
``[i, f, g, o]``; see :data:`LSTM_GATE_ORDER`) so that one ``sigmoid`` covers
``o, i, f`` and the gradient of ``i, f, g`` is one product with ``dc``. The GRU
uses torch's ``[r, z, n]`` and the RNN has a single block.
"""

import torch
from torch.autograd.function import once_differentiable

__all__ = [
    "LSTM_GATE_ORDER",
    "gru_recurrence",
    "lstm_recurrence",
    "rnn_recurrence",
]

#: Position of torch.nn.LSTM's gate blocks ``[i, f, g, o]`` in our ``[o, i, f, g]``.
LSTM_GATE_ORDER = (3, 0, 1, 2)


def _tanh_(x):
    """In-place ``tanh`` as ``2 sigmoid(2x) - 1``.

    torch's CPU ``tanh`` costs about eight times its ``sigmoid`` per element;
    on the small per-step tensors of a recurrence, the four cheap kernels are
    faster than the one expensive kernel. Absolute error <= 2e-7 in float32.
    """
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def _tanh_out(x, out):
    """``tanh(x)`` into ``out``, as :func:`_tanh_`."""
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)


def _steps(buffer, n):
    """Per-step views of ``buffer``: its slices, or a ring over fewer slices.

    Without gradients, the forward pass only needs the current (and, for
    states, the previous) step: buffers of one or two steps are reused in
    turn, so inference memory does not grow with the sequence length.
    """
    if buffer.shape[0] == n:
        return buffer.unbind(0)
    ring = buffer.unbind(0)
    return [ring[k % len(ring)] for k in range(n)]


def _bmm_weight_grad(d_pre, h_prev):
    """Sum over time and batch of ``d_pre^T h_prev``, per direction.

    d_pre [shape=(T, D, B, G)], h_prev [shape=(T, D, B, H)] -> [shape=(D, G, H)].
    """
    T, D, B, G = d_pre.shape
    H = h_prev.shape[-1]
    d_pre = d_pre.transpose(0, 1).reshape(D, T * B, G)
    h_prev = h_prev.transpose(0, 1).reshape(D, T * B, H)
    return torch.bmm(d_pre.transpose(1, 2), h_prev)


class _LSTMRecurrence(torch.autograd.Function):
    r"""One LSTM layer over a whole sequence.

    With pre-activations ``a_t = xp_t + W_hh h_{t-1}`` split into ``[o, i, f, g]``::

        o_t = sigmoid(a_o)   i_t = sigmoid(a_i)   f_t = sigmoid(a_f)   g_t = tanh(a_g)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Backward, with ``dh`` the total gradient reaching ``h_t``::

        dc     += dh * o_t * (1 - tanh(c_t)^2)
        da_o    = dh * tanh(c_t) * o_t (1 - o_t)
        da_i    = dc * g_t * i_t (1 - i_t)
        da_f    = dc * c_{t-1} * f_t (1 - f_t)
        da_g    = dc * i_t * (1 - g_t^2)
        dc_{t-1} = dc * f_t,   dh_{t-1} = dH_{t-1} + da W_hh
    """

    @staticmethod
    def forward(ctx, xp, h0, c0, w_hh):
        T, D, B, G = xp.shape
        H = G // 4
        keep = any(ctx.needs_input_grad)
        gates = xp.new_empty(T if keep else 1, D, B, G)
        hs = xp.new_empty(T + 1, D, B, H)
        cs = xp.new_empty(T + 1 if keep else 2, D, B, H)
        tanh_c = xp.new_empty(T if keep else 1, D, B, H)
        hs[0] = h0
        cs[0] = c0
        w_t = w_hh.transpose(1, 2)
        x_steps, g_steps = xp.unbind(0), _steps(gates, T)
        sig_steps = _steps(gates[..., : 3 * H], T)
        tanh_steps = _steps(gates[..., 3 * H :], T)
        o, i, f, g = (_steps(block, T) for block in gates.split(H, dim=-1))
        h_steps, c_steps, tc_steps = hs.unbind(0), _steps(cs, T + 1), _steps(tanh_c, T)
        for t in range(T):
            torch.baddbmm(x_steps[t], h_steps[t], w_t, out=g_steps[t])
            sig_steps[t].sigmoid_()
            _tanh_(tanh_steps[t])
            torch.mul(f[t], c_steps[t], out=c_steps[t + 1])
            c_steps[t + 1].addcmul_(i[t], g[t])
            _tanh_out(c_steps[t + 1], tc_steps[t])
            torch.mul(o[t], tc_steps[t], out=h_steps[t + 1])
        ctx.save_for_backward(gates, hs, cs, tanh_c, w_hh)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs):
        gates, hs, cs, tanh_c, w_hh = ctx.saved_tensors
        T, D, B, G = gates.shape
        H = G // 4
        d_hs = d_hs.contiguous()
        o, i, f, g = gates.split(H, dim=-1)
        # Everything that does not depend on the recurrence, for all steps at
        # once, in as few passes over memory as possible (x - x*x is x (1 - x)).
        k_o = torch.addcmul(o, o, o, value=-1).mul_(tanh_c)
        k_c = torch.addcmul(o, o * tanh_c, tanh_c, value=-1)
        k_ifg = gates.new_empty(T, D, B, 3, H)
        torch.addcmul(i, i, i, value=-1, out=k_ifg[..., 0, :]).mul_(g)
        torch.addcmul(f, f, f, value=-1, out=k_ifg[..., 1, :]).mul_(cs[:-1])
        torch.addcmul(i, i * g, g, value=-1, out=k_ifg[..., 2, :])
        d_pre = torch.empty_like(gates)
        d_o_steps = d_pre[..., :H].unbind(0)
        d_ifg_steps = d_pre[..., H:].unflatten(-1, (3, H)).unbind(0)
        f_steps, k_o, k_c, k_ifg = f.unbind(0), k_o.unbind(0), k_c.unbind(0), k_ifg.unbind(0)
        dh = d_hs[T - 1].clone()
        dc = torch.zeros_like(dh)
        for t in range(T - 1, -1, -1):
            dc.addcmul_(dh, k_c[t])
            torch.mul(dh, k_o[t], out=d_o_steps[t])
            torch.mul(dc.unsqueeze(-2), k_ifg[t], out=d_ifg_steps[t])
            dc.mul_(f_steps[t])
            if t > 0:
                torch.baddbmm(d_hs[t - 1], d_pre[t], w_hh, out=dh)
        d_h0 = torch.bmm(d_pre[0], w_hh) if ctx.needs_input_grad[1] else None
        d_w = _bmm_weight_grad(d_pre, hs[:-1]) if ctx.needs_input_grad[3] else None
        return d_pre, d_h0, dc, d_w


class _GRURecurrence(torch.autograd.Function):
    r"""One GRU layer over a whole sequence (torch.nn.GRU's equations).

    With ``hh_t = W_hh h_{t-1} + b_hh`` split into ``[r, z, n]``::

        r_t = sigmoid(xp_r + hh_r)   z_t = sigmoid(xp_z + hh_z)
        n_t = tanh(xp_n + r_t * hh_n)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1} = n_t + z_t * (h_{t-1} - n_t)

    Backward, with ``dh`` the total gradient reaching ``h_t``::

        da_n = dh * (1 - z_t)(1 - n_t^2)                 (k1)
        da_z = dh * (h_{t-1} - n_t) z_t (1 - z_t)        (k2)
        da_r = da_n * hh_n * r_t (1 - r_t)               (k3)
        d hh = [da_r, da_z, da_n * r_t],  d xp = [da_r, da_z, da_n]
        dh_{t-1} = dH_{t-1} + dh * z_t + d hh W_hh
    """

    @staticmethod
    def forward(ctx, xp, h0, w_hh, b_hh):
        T, D, B, G = xp.shape
        H = G // 3
        kept = T if any(ctx.needs_input_grad) else 1
        hh = xp.new_empty(kept, D, B, G)
        rz = xp.new_empty(kept, D, B, 2 * H)
        n = xp.new_empty(kept, D, B, H)
        hs = xp.new_empty(T + 1, D, B, H)
        diff = xp.new_empty(D, B, H)
        hs[0] = h0
        w_t = w_hh.transpose(1, 2)
        bias = b_hh.unsqueeze(1)
        xrz, xn = (part.unbind(0) for part in xp.split([2 * H, H], dim=-1))
        hh_steps = _steps(hh, T)
        hh_n = _steps(hh[..., 2 * H :], T)
        rz_steps, n_steps, h_steps = _steps(rz, T), _steps(n, T), hs.unbind(0)
        r, z = (_steps(part, T) for part in rz.split(H, dim=-1))
        for t in range(T):
            torch.baddbmm(bias, h_steps[t], w_t, out=hh_steps[t])
            torch.add(xrz[t], hh_steps[t][..., : 2 * H], out=rz_steps[t])
            rz_steps[t].sigmoid_()
            _tanh_(torch.addcmul(xn[t], r[t], hh_n[t], out=n_steps[t]))
            torch.sub(h_steps[t], n_steps[t], out=diff)
            torch.addcmul(n_steps[t], z[t], diff, out=h_steps[t + 1])
        ctx.save_for_backward(hh, rz, n, hs, w_hh)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs):
        hh, rz, n, hs, w_hh = ctx.saved_tensors
        T, D, B, G = hh.shape
        H = G // 3
        d_hs = d_hs.contiguous()
        r, z = rz.split(H, dim=-1)
        hh_n = hh[..., 2 * H :]
        k1 = (1 - z) * (1 - n * n)
        k2 = (hs[:-1] - n) * z * (1 - z)
        k3 = k1 * hh_n * r * (1 - r)
        k_hh = torch.cat([k3, k2, k1 * r], dim=-1).unflatten(-1, (3, H)).unbind(0)
        k_x = torch.cat([k3, k2, k1], dim=-1).unflatten(-1, (3, H)).unbind(0)
        d_hh = torch.empty_like(hh)
        d_xp = torch.empty_like(hh)
        d_hh_steps = d_hh.unflatten(-1, (3, H)).unbind(0)
        d_xp_steps = d_xp.unflatten(-1, (3, H)).unbind(0)
        z_steps = z.unbind(0)
        dh = d_hs[T - 1].clone()
        carry = torch.empty_like(dh)
        for t in range(T - 1, -1, -1):
            dh_blocks = dh.unsqueeze(-2)
            torch.mul(dh_blocks, k_hh[t], out=d_hh_steps[t])
            torch.mul(dh_blocks, k_x[t], out=d_xp_steps[t])
            if t > 0:
                torch.addcmul(d_hs[t - 1], dh, z_steps[t], out=carry)
            else:
                torch.mul(dh, z_steps[0], out=carry)
            torch.baddbmm(carry, d_hh[t], w_hh, out=dh)
        d_w = _bmm_weight_grad(d_hh, hs[:-1]) if ctx.needs_input_grad[2] else None
        d_b = d_hh.sum(dim=(0, 2)) if ctx.needs_input_grad[3] else None
        return d_xp, dh, d_w, d_b


class _RNNRecurrence(torch.autograd.Function):
    r"""One Elman RNN layer over a whole sequence: ``h_t = tanh(xp_t + W_hh h_{t-1})``.

    Backward: ``da_t = dh * (1 - h_t^2)``, ``dh_{t-1} = dH_{t-1} + da_t W_hh``.
    """

    @staticmethod
    def forward(ctx, xp, h0, w_hh):
        T, D, B, H = xp.shape
        hs = xp.new_empty(T + 1, D, B, H)
        hs[0] = h0
        w_t = w_hh.transpose(1, 2)
        x_steps, h_steps = xp.unbind(0), hs.unbind(0)
        for t in range(T):
            _tanh_(torch.baddbmm(x_steps[t], h_steps[t], w_t, out=h_steps[t + 1]))
        ctx.save_for_backward(hs, w_hh)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs):
        hs, w_hh = ctx.saved_tensors
        T = hs.shape[0] - 1
        d_hs = d_hs.contiguous()
        k = (1 - hs[1:] * hs[1:]).unbind(0)
        d_pre = torch.empty_like(d_hs)
        d_pre_steps = d_pre.unbind(0)
        dh = d_hs[T - 1].clone()
        for t in range(T - 1, -1, -1):
            torch.mul(dh, k[t], out=d_pre_steps[t])
            if t > 0:
                torch.baddbmm(d_hs[t - 1], d_pre[t], w_hh, out=dh)
        d_h0 = torch.bmm(d_pre[0], w_hh) if ctx.needs_input_grad[1] else None
        d_w = _bmm_weight_grad(d_pre, hs[:-1]) if ctx.needs_input_grad[2] else None
        return d_pre, d_h0, d_w


def lstm_recurrence(xp, h0, c0, w_hh):
    """Run LSTM layers over time.

    Parameters
    ----------
    xp : Tensor [shape=(T, D, B, 4 * H)]
        Input projections plus both biases, gate blocks ordered ``[o, i, f, g]``.
    h0, c0 : Tensor [shape=(D, B, H)]
        Initial hidden and cell states.
    w_hh : Tensor [shape=(D, 4 * H, H)]
        Recurrent weights, gate blocks ordered ``[o, i, f, g]``.

    Returns
    -------
    h : Tensor [shape=(T, D, B, H)]
        The hidden state after every step.
    """
    return _LSTMRecurrence.apply(xp, h0, c0, w_hh)


def gru_recurrence(xp, h0, w_hh, b_hh):
    """Run GRU layers over time.

    Parameters
    ----------
    xp : Tensor [shape=(T, D, B, 3 * H)]
        Input projections plus the input bias, blocks ``[r, z, n]``.
    h0 : Tensor [shape=(D, B, H)]
        Initial hidden state.
    w_hh : Tensor [shape=(D, 3 * H, H)]
        Recurrent weights, blocks ``[r, z, n]``.
    b_hh : Tensor [shape=(D, 3 * H)]
        Recurrent bias (kept apart: ``n`` gates it by ``r``).

    Returns
    -------
    h : Tensor [shape=(T, D, B, H)]
        The hidden state after every step.
    """
    return _GRURecurrence.apply(xp, h0, w_hh, b_hh)


def rnn_recurrence(xp, h0, w_hh):
    """Run tanh RNN layers over time.

    Parameters
    ----------
    xp : Tensor [shape=(T, D, B, H)]
        Input projections plus both biases.
    h0 : Tensor [shape=(D, B, H)]
        Initial hidden state.
    w_hh : Tensor [shape=(D, H, H)]
        Recurrent weights.

    Returns
    -------
    h : Tensor [shape=(T, D, B, H)]
        The hidden state after every step.
    """
    return _RNNRecurrence.apply(xp, h0, w_hh)

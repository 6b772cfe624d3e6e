#!/usr/bin/env python3
"""Regenerates the golden files that tests/test_golden.cpp checks parbench's workloads against.

    python3 tests/golden/make_golden.py        # from the repository root; writes tests/golden/*.h5

Needs PyTorch, h5py and NumPy -- only to REGENERATE the files, never to run the tests (the files
are committed; CI does not install torch). On Debian 12:
    apt-get install --no-install-recommends python3-torch python3-h5py python3-numpy
(if another python3 shadows Debian's, e.g. pyenv, run /usr/bin/python3). The committed files were
made with Debian's python3-torch 1.13.1+dfsg-4 (torch.__version__ "1.13.0a0"), h5py 3.7.0,
NumPy 1.24.2, HDF5 1.10.8. Each file records the versions that wrote it in its root attributes.
The output is deterministic for a given torch version (seeded, float64, single thread).

What is computed: one training-mode forward and backward pass of PyTorch modules that compute the
same functions as parbench's `violence` and `shoplifting` models (design.md §2, names and shapes
as §10), in float64 so the values are exact references for parbench's fp32 kernels:
  - weights: PyTorch's default initialisation (torch.manual_seed), drawn in float32, then put on
    a coarse grid (coarse_parameters): each tensor's values are moved to the centre of their bin
    of width step = 2^(floor(log2 max|w|) - GRID_BITS), i.e. (floor(w / step) + 1/2) * step --
    8 to 16 levels per tensor (GRID_BITS = 2), symmetric, never 0, still uniform over the default
    range, at most 4 significant bits (float16-representable: asserted), so that shuffle + gzip
    stores them in ~6 bits each instead of ~30.
    torch then runs on exactly those values cast to float64, so both sides start from identical
    weights. BatchNorm weight/bias and running statistics are NOT left at 1/0 (their defaults):
    they are drawn at random so that a wrong use of gamma/beta or of the old running values
    cannot pass unnoticed, and put on the grid of step BN_GRID = 2^-8 the same way;
  - dropout p = 0 (parbench's masks come from its own counter-based RNG, not torch's), so
    nn.Dropout is the identity; BatchNorm in training mode (batch statistics, biased variance
    for normalisation), running statistics updated once (momentum 0.1, unbiased variance);
  - the loss is the batch mean (sum over samples / B) of each sample's weighted loss.

violence.h5 -- reduced `violence`: D = 64 features, T = 5 frames, batch B = 4.
  3 x [nn.LSTM(I, 128, batch_first, bidirectional) -> BatchNorm1d(256) on (B*T, 256) -> Dropout],
  additive attention u = tanh(proj(h)), s = score(u) (no bias), a = softmax_t(s), c = sum_t a_t h_t,
  fc1 256->256, ReLU, bn4, Dropout; fc2 256->128, ReLU, bn5, Dropout; fc3 128->64, ReLU, Dropout;
  fc4 64->2. Loss: focal, label smoothing 0.1, alpha 0.25, gamma 2, class weights [0.7, 1.6]:
  per sample  w[y] * -alpha * sum_c q_c (1 - p_c)^gamma log p_c,  q = (1 - ls) onehot(y) + ls / C.
shoplifting.h5 -- `shoplifting` with pose T = 16 frames, batch B = 4.
  visual Linear 2048->512 + ReLU; pose Linear(16*34 -> 256) + ReLU on the flattened (B, 16, 34)
  pose; concat [visual, pose] (768); trunk Linear 768->256, trunk_bn, ReLU, Dropout; heads
  anomaly 256->2 and action 256->14. Loss: CE(anomaly) + 0.5 * CE(action), both with label
  smoothing 0.1 (F.cross_entropy's definition, -sum_c q_c log p_c: checked below).

Layout of each file (names are parbench's dataset names and PyTorch state_dict keys):
  /inputs/<features | visual, pose>   float32, (B, ...) as parbench's loader names them
  /targets/<labels | action>          int32 (B)
  /params/<name>                      float32, every parameter (state_dict order), on the grids
                                      above
  /initial_buffers/<name>             float32, BatchNorm running_mean/var BEFORE the forward
  /buffers/<name>                     float64, BatchNorm running_mean/var AFTER the forward
                                      (num_batches_tracked is not a parbench buffer: omitted)
  /outputs/loss                       float64 scalar, the batch mean of the total loss
  /outputs/logits/<head>              float64 (B, C): violence | anomaly, action
  /grads/<name>                       float32, d loss / d param, computed in float64 and rounded
                                      to float32 (relative rounding <= 6e-8, far below the test
                                      tolerances) to keep the files small. A tensor of at most
                                      GRAD_SAMPLE (4096) values is stored whole, with its shape;
                                      a larger one as a seeded sample of GRAD_SAMPLE of its values:
  /grads/<name>/index                 int64 (n), flat row-major (C-order) indices into the
                                      parameter, strictly ascending, n = GRAD_SAMPLE
  /grads/<name>/value                 float32 (n), the gradient at those indices
  /grads/<name> attribute "shape"     int64, the parameter's full shape
                                      The sample (gradient_sample) pairs random permutations of
                                      every axis, so each row and each column of a matrix holds at
                                      least one sampled value (a wrong row or column layout cannot
                                      hide; the test checks this), always includes the element of
                                      largest |gradient| (so max |ref| over the stored values,
                                      which the test's rtol scales with, is the whole tensor's),
                                      and is topped up with uniformly drawn indices. Generator:
                                      numpy default_rng seeded with [sample seed, crc32(name)].
  root attributes: workload, batch, steps, features, loss description, seeds, versions.
Tensors of 1024 or more values are stored chunked along their leading axis (chunks of whole rows,
up to CHUNK_VALUES = 2^18 values = 1 MiB of float32: fewer, larger chunks compress ~5% better)
with shuffle + gzip 9. The files use HDF5's 1.10 format (compact groups and chunk indexes, which
save up to ~130 KB of B-trees per file; HDF5 >= 1.10 reads it) and store no object timestamps, so
the output is byte-identical from run to run (checked: run the script twice and cmp).
"""

import math
import os
import sys
import zlib

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL_SMOOTHING = 0.1
BN_MOMENTUM = 0.1  # torch.nn.BatchNorm1d's default, as parbench's
BN_EPS = 1e-5
GRID_BITS = 2           # drawn weights: 2^GRID_BITS to 2^(GRID_BITS+1) levels on each side of 0
BN_GRID = 2.0 ** -8     # BatchNorm weight, bias and running statistics: odd multiples of 2^-9
GRAD_SAMPLE = 4096      # gradients of larger tensors are stored as a sample of this many values
CHUNK_VALUES = 1 << 18  # values per HDF5 chunk (at most)

torch.set_num_threads(1)  # one summation order: reproducible files


# ---- models ----------------------------------------------------------------------------------

class Attention(nn.Module):
    """s_t = v . tanh(W h_t + b), a = softmax_t(s), context = sum_t a_t h_t."""

    def __init__(self, features, hidden):
        super().__init__()
        self.proj = nn.Linear(features, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, h):  # h (B, T, D) -> (B, D)
        s = self.score(torch.tanh(self.proj(h))).squeeze(-1)  # (B, T)
        a = torch.softmax(s, dim=1)
        return (a.unsqueeze(-1) * h).sum(dim=1)


class Violence(nn.Module):
    def __init__(self, features, dropout=0.0, hidden=128):
        super().__init__()
        width = 2 * hidden
        self.lstm1 = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
        self.bn1 = nn.BatchNorm1d(width)
        self.drop1 = nn.Dropout(dropout)
        self.lstm2 = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.bn2 = nn.BatchNorm1d(width)
        self.drop2 = nn.Dropout(dropout)
        self.lstm3 = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.bn3 = nn.BatchNorm1d(width)
        self.drop3 = nn.Dropout(dropout)
        self.attn = Attention(width, 128)
        self.fc1 = nn.Linear(width, 256)
        self.bn4 = nn.BatchNorm1d(256)
        self.drop4 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(256, 128)
        self.bn5 = nn.BatchNorm1d(128)
        self.drop5 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(128, 64)
        self.drop6 = nn.Dropout(dropout)
        self.fc4 = nn.Linear(64, 2)
        self.relu_inputs = []  # pre-activations of every ReLU, to check the margin to the kink

    def relu(self, x):
        self.relu_inputs.append(x.detach())
        return F.relu(x)

    def forward(self, x):  # x (B, T, D) -> {"violence": logits (B, 2)}
        h = x
        for k in (1, 2, 3):
            h, _ = getattr(self, f"lstm{k}")(h)  # (B, T, 256): forward direction, then reverse
            b, t, c = h.shape
            h = getattr(self, f"bn{k}")(h.reshape(b * t, c)).reshape(b, t, c)
            h = getattr(self, f"drop{k}")(h)
        h = self.attn(h)
        h = self.drop4(self.bn4(self.relu(self.fc1(h))))
        h = self.drop5(self.bn5(self.relu(self.fc2(h))))
        h = self.drop6(self.relu(self.fc3(h)))
        return {"violence": self.fc4(h)}


class Shoplifting(nn.Module):
    def __init__(self, frames, dropout=0.0):
        super().__init__()
        self.visual = nn.Linear(2048, 512)
        self.pose = nn.Linear(frames * 34, 256)
        self.trunk = nn.Linear(512 + 256, 256)
        self.trunk_bn = nn.BatchNorm1d(256)
        self.trunk_drop = nn.Dropout(dropout)
        self.anomaly = nn.Linear(256, 2)
        self.action = nn.Linear(256, 14)
        self.relu_inputs = []

    def relu(self, x):
        self.relu_inputs.append(x.detach())
        return F.relu(x)

    def forward(self, visual, pose):  # visual (B, 2048), pose (B, T, 34)
        v = self.relu(self.visual(visual))
        p = self.relu(self.pose(pose.flatten(1)))
        h = self.trunk_drop(self.relu(self.trunk_bn(self.trunk(torch.cat([v, p], dim=1)))))
        return {"anomaly": self.anomaly(h), "action": self.action(h)}


# ---- losses ----------------------------------------------------------------------------------

def smoothed_targets(target, classes, ls):
    return (1.0 - ls) * F.one_hot(target.long(), classes).to(torch.float64) + ls / classes


def focal_loss_sum(logits, target, ls, alpha, gamma, class_weights):
    """Sum over the batch of w[y] * -alpha * sum_c q_c (1 - p_c)^gamma log p_c."""
    q = smoothed_targets(target, logits.shape[1], ls)
    p = torch.softmax(logits, dim=1)
    log_p = torch.log_softmax(logits, dim=1)
    per_sample = -alpha * (q * (1.0 - p) ** gamma * log_p).sum(dim=1)
    return (class_weights[target.long()] * per_sample).sum()


def ce_loss_sum(logits, target, ls):
    """Sum over the batch of -sum_c q_c log p_c; checked equal to F.cross_entropy's smoothing."""
    q = smoothed_targets(target, logits.shape[1], ls)
    explicit = -(q * torch.log_softmax(logits, dim=1)).sum()
    torch_ce = F.cross_entropy(logits, target.long(), label_smoothing=ls, reduction="sum")
    assert torch.allclose(explicit, torch_ce, rtol=1e-13, atol=0), (explicit.item(), torch_ce.item())
    return explicit


# ---- helpers ---------------------------------------------------------------------------------

def on_grid(values, step):
    """(floor(v / step) + 1/2) * step: the centre of v's bin, never 0; exact in float32 when step
    is a power of 2 (every operation is exact there)."""
    return (torch.floor(values / step) + 0.5) * step


def coarse_parameters(model):
    """Moves every drawn (non-BatchNorm) parameter to a grid of few significant bits: with
    max |w| in [2^e, 2^(e+1)), step 2^(e - GRID_BITS) leaves 2^GRID_BITS to 2^(GRID_BITS+1) bins
    on each side of 0 and values (2j + 1) * step / 2 with at most GRID_BITS + 2 significant bits."""
    batchnorm = {name for name, module in model.named_modules()
                 if isinstance(module, nn.BatchNorm1d)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.rpartition(".")[0] in batchnorm:
                continue  # randomize_batchnorm's grid
            step = 2.0 ** (math.floor(math.log2(float(p.abs().max()))) - GRID_BITS)
            p.copy_(on_grid(p, step))
            assert torch.equal(p, p.half().float()), name  # few significant bits, as promised


def randomize_batchnorm(model, generator):
    """Non-trivial gamma, beta and running statistics (defaults 1, 0, 0, 1 would hide bugs), on the
    grid of step BN_GRID."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                n = module.num_features
                gamma = 0.5 + torch.rand(n, generator=generator)        # (0.5, 1.5)
                beta = torch.rand(n, generator=generator) - 0.5         # (-0.5, 0.5)
                mean = 0.2 * torch.randn(n, generator=generator)
                var = 0.5 + torch.rand(n, generator=generator)          # (0.5, 1.5)
                module.weight.copy_(on_grid(gamma, BN_GRID))
                module.bias.copy_(on_grid(beta, BN_GRID))
                module.running_mean.copy_(on_grid(mean, BN_GRID))
                module.running_var.copy_(on_grid(var, BN_GRID))


def running_buffers(model):
    return {name: value.detach().clone() for name, value in model.named_buffers()
            if name.endswith(("running_mean", "running_var"))}


def check_relu_margin(model, min_margin=2e-5):
    """fp32 and fp64 must agree on which side of every ReLU kink each value lies: parbench's fp32
    pre-activations are off by ~1e-6 here, so every one must be at least 20x that from zero."""
    smallest = min(float(x.abs().min()) for x in model.relu_inputs)
    assert smallest > min_margin, f"a ReLU input is {smallest:.3g} from the kink: pick another seed"
    return smallest


def gradient_sample(grad, seed, name):
    """Ascending flat indices of the GRAD_SAMPLE gradient values stored for a large tensor: random
    permutations of each axis paired up (every row and column of a matrix appears), the element of
    largest |gradient|, and uniform indices to top up to GRAD_SAMPLE after duplicates."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    design = GRAD_SAMPLE - 1  # + the largest element
    assert design >= max(grad.shape), f"{name}: {GRAD_SAMPLE} samples cannot cover {grad.shape}"
    coordinates = []
    for dim in grad.shape:
        repeats = -(-design // dim)
        coordinates.append(np.concatenate([rng.permutation(dim) for _ in range(repeats)])[:design])
    chosen = set(np.ravel_multi_index(coordinates, grad.shape).tolist())
    chosen.add(int(np.abs(grad).argmax()))
    while len(chosen) < GRAD_SAMPLE:
        chosen.add(int(rng.integers(grad.size)))
    return np.array(sorted(chosen), dtype=np.int64)


def write(group, name, array):
    array = np.ascontiguousarray(array)
    options = {}
    if array.size >= 1024:
        row = int(np.prod(array.shape[1:], dtype=np.int64))
        rows = max(1, min(array.shape[0], CHUNK_VALUES // row))
        options = {"chunks": (rows,) + array.shape[1:], "shuffle": True,
                   "compression": "gzip", "compression_opts": 9}
    group.create_dataset(name, data=array, **options)


def write_gradient(group, name, grad, seed):
    """Small tensors whole; larger ones as /<name>/index, /<name>/value and the shape attribute."""
    grad = grad.astype(np.float32)
    if grad.size <= GRAD_SAMPLE:
        write(group, name, grad)
        return
    index = gradient_sample(grad, seed, name)
    g = create_group(group, name)
    g.attrs["shape"] = np.array(grad.shape, dtype=np.int64)
    write(g, "index", index)
    write(g, "value", grad.reshape(-1)[index])


def create_file(path):
    """HDF5 1.10 file format (compact groups and chunk indexes; HDF5 >= 1.10 reads it, as parbench's
    own files) without object timestamps, so that the file is byte-identical from run to run."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # the root group's
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def create_group(parent, name):
    """parent.create_group(name) without timestamps (h5py leaves them on for groups)."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def save(path, attributes, inputs, targets, model, initial_buffers, loss, logits, sample_seed):
    with create_file(path) as f:
        for key, value in attributes.items():
            f.attrs[key] = value
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["h5py_version"] = h5py.__version__
        f.attrs["numpy_version"] = np.__version__
        f.attrs["created_by"] = "tests/golden/make_golden.py"
        g = create_group(f, "inputs")
        for name, value in inputs.items():
            write(g, name, value.numpy().astype(np.float32))
        g = create_group(f, "targets")
        for name, value in targets.items():
            write(g, name, value.numpy().astype(np.int32))
        params, grads = create_group(f, "params"), create_group(f, "grads")
        for name, p in model.named_parameters():
            write(params, name, p.detach().numpy().astype(np.float32))  # exact: float32 values
            write_gradient(grads, name, p.grad.numpy(), sample_seed)
        g = create_group(f, "initial_buffers")
        for name, value in initial_buffers.items():
            write(g, name, value.numpy().astype(np.float32))  # exact: float32 values
        g = create_group(f, "buffers")
        for name, value in running_buffers(model).items():
            write(g, name, value.numpy().astype(np.float64))
        out = create_group(f, "outputs")
        out.create_dataset("loss", data=np.float64(loss.item()))
        lg = create_group(out, "logits")
        for name, value in logits.items():
            write(lg, name, value.detach().numpy().astype(np.float64))
    print(f"{path}: loss {loss.item():.12g}, {os.path.getsize(path) / 1e6:.2f} MB")


# ---- workloads -------------------------------------------------------------------------------

def make_violence():
    batch, steps, features = 4, 5, 64
    alpha, gamma, class_weights = 0.25, 2.0, [0.7, 1.6]
    # Seed 1091 (not the first tried, 1001): how much the BatchNorms over B = 4 rows amplify
    # parbench's fp32 rounding depends on the draw -- over the seeds 1001, 1011, ..., 1191 (one
    # failed the ReLU margin; BatchNorm/input seed = seed + 1) its worst error ranged from 1e-5 to
    # 3e-4 of max |ref| for the gradients (OpenBLAS 0.3.21, Prescott/Haswell/SkylakeX kernels) and
    # from 0.07 to 0.66 of test_golden.cpp's tolerances overall (oneDNN 2.6.3, SSE41/AVX2/AVX512
    # ISAs). This draw is among the best on both (gradients <= 1.4e-5; every check >= 10x below
    # its tolerance), and the ReLU margin holds. Re-measure (PARBENCH_GOLDEN_REPORT=1) after any
    # change here.
    torch.manual_seed(1091)
    model = Violence(features)  # float32 default initialisation
    generator = torch.Generator().manual_seed(1092)
    coarse_parameters(model)
    randomize_batchnorm(model, generator)
    x = torch.randn(batch, steps, features, generator=generator)  # float32
    labels = torch.tensor([0, 1, 1, 0], dtype=torch.int32)
    initial = running_buffers(model)

    model.double().train()
    logits = model(x.double())
    total = focal_loss_sum(logits["violence"], labels, LABEL_SMOOTHING, alpha, gamma,
                           torch.tensor(class_weights, dtype=torch.float64))
    loss = total / batch
    model.zero_grad()
    loss.backward()
    margin = check_relu_margin(model)
    print(f"violence: smallest |ReLU input| {margin:.3g}")
    save(os.path.join(HERE, "violence.h5"),
         {"workload": "violence", "batch": batch, "steps": steps, "features": features,
          "loss": f"focal, label_smoothing {LABEL_SMOOTHING}, alpha {alpha}, gamma {gamma}, "
                  f"class weights {class_weights}, mean = sum / batch",
          "seeds": "torch.manual_seed(1091) for weights; Generator(1092) for BatchNorm and inputs; "
                   "numpy default_rng([1093, crc32(name)]) for gradient samples"},
         {"features": x}, {"labels": labels}, model, initial, loss, logits, 1093)


def make_shoplifting():
    batch, frames, action_weight = 4, 16, 0.5
    torch.manual_seed(2001)
    model = Shoplifting(frames)
    generator = torch.Generator().manual_seed(2002)
    coarse_parameters(model)
    randomize_batchnorm(model, generator)
    visual = torch.randn(batch, 2048, generator=generator)
    pose = torch.rand(batch, frames, 34, generator=generator)  # keypoint coordinates in [0, 1)
    labels = torch.tensor([0, 1, 1, 0], dtype=torch.int32)
    action = torch.tensor([13, 2, 7, 13], dtype=torch.int32)
    initial = running_buffers(model)

    model.double().train()
    logits = model(visual.double(), pose.double())
    total = (ce_loss_sum(logits["anomaly"], labels, LABEL_SMOOTHING)
             + action_weight * ce_loss_sum(logits["action"], action, LABEL_SMOOTHING))
    loss = total / batch
    model.zero_grad()
    loss.backward()
    margin = check_relu_margin(model)
    print(f"shoplifting: smallest |ReLU input| {margin:.3g}")
    save(os.path.join(HERE, "shoplifting.h5"),
         {"workload": "shoplifting", "batch": batch, "steps": frames,
          "loss": f"CE(anomaly) + {action_weight} * CE(action), label_smoothing {LABEL_SMOOTHING}, "
                  "mean = sum / batch",
          "seeds": "torch.manual_seed(2001) for weights; Generator(2002) for BatchNorm and inputs; "
                   "numpy default_rng([2003, crc32(name)]) for gradient samples"},
         {"visual": visual, "pose": pose}, {"labels": labels, "action": action}, model, initial,
         loss, logits, 2003)


def main():
    make_violence()
    make_shoplifting()
    return 0


if __name__ == "__main__":
    sys.exit(main())

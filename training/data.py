"""Datasets and exactly resumable samplers.

Every stream (photos, style images, smoothed images, distillation crops) is an infinite sequence of
epochs, each a seeded permutation of its files, cut into global batches of ``batch * world_size``;
rank ``r`` takes its slice. The sample at global position ``q`` therefore depends only on
``(seed, stream, q)``, so a run resumed at step ``s`` sees exactly the batches it would have seen.
Per-sample augmentation seeds are derived the same way (never from a worker's RNG).

Tensors produced here: float32 CHW **RGB** in [-1, 1] (``x / 127.5 - 1``).
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .prep import read_bgr, resize_crop


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 RGB → float32 3xHxW in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float 3xHxW (or 1x3xHxW) in [-1, 1] → uint8 HxWx3 (same channel order), rounded, clipped."""
    if x.ndim == 4:
        x = x[0]
    a = ((x.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(a.permute(1, 2, 0).numpy())


def gray3(bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR → uint8 3-channel grayscale (0.299 R + 0.587 G + 0.114 B, replicated)."""
    g = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return np.repeat(g[:, :, None], 3, axis=2)


def _mix(*xs: int) -> int:
    """A stable 63-bit hash of integers (same on every platform / process)."""
    h = hashlib.blake2b(np.asarray(xs, dtype=np.int64).tobytes(), digest_size=8).digest()
    return int.from_bytes(h, "little") >> 1


class StreamBatchSampler(Sampler[list[tuple[int, int]]]):
    """Infinite batches of ``(index, sample_seed)`` for one rank, starting at step ``start_step``.

    ``n`` items; global batch = ``batch * world_size``; epoch ``k`` of the stream is
    ``randperm(n)`` seeded by ``(seed, stream, k)``.
    """

    def __init__(
        self, n: int, batch: int, *, seed: int, stream: int, rank: int = 0, world_size: int = 1,
        start_step: int = 0,
    ) -> None:
        if n < 1:
            raise ValueError("empty dataset")
        self.n, self.batch, self.seed, self.stream = n, batch, seed, stream
        self.rank, self.world, self.start_step = rank, world_size, start_step
        self._perm_k = -1
        self._perm: list[int] = []

    def _perm_for(self, k: int) -> list[int]:
        if k != self._perm_k:
            g = torch.Generator().manual_seed(_mix(self.seed, self.stream, k))
            self._perm, self._perm_k = torch.randperm(self.n, generator=g).tolist(), k
        return self._perm

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        gb = self.batch * self.world
        q0 = step * gb + self.rank * self.batch
        out = []
        for q in range(q0, q0 + self.batch):
            out.append((self._perm_for(q // self.n)[q % self.n], _mix(self.seed, self.stream, 1_000_003, q)))
        return out

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch_at(step)
            step += 1


class ImageFolderDataset(Dataset):
    """Images resized/centre-cropped to ``size`` x ``size``.

    Item → ``(rgb,)`` or ``(rgb, gray)`` (with ``gray=True``) or ``(gray,)`` (``only_gray``):
    float32 3xHxW in [-1, 1]. ``shift``: optional per-channel RGB offset in 0..255 units (the
    official "data mean" adjustment), applied before scaling.
    """

    def __init__(
        self, files: Sequence[Path], size: int, *, gray: bool = False, only_gray: bool = False,
        shift: np.ndarray | None = None,
    ) -> None:
        self.files, self.size, self.gray, self.only_gray, self.shift = list(files), size, gray, only_gray, shift

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: tuple[int, int] | int) -> tuple[torch.Tensor, ...]:
        idx = item[0] if isinstance(item, tuple) else item
        bgr = read_bgr(self.files[idx])
        if bgr.shape[:2] != (self.size, self.size):
            bgr = resize_crop(bgr, self.size)
        if self.only_gray:
            return (to_tensor(gray3(bgr)),)
        rgb = bgr[:, :, ::-1]
        if self.shift is not None:
            color = torch.from_numpy(np.clip(rgb.astype(np.float32) + self.shift, 0, 255).transpose(2, 0, 1).copy())
            color = color / 127.5 - 1.0
        else:
            color = to_tensor(rgb)
        return (color, to_tensor(gray3(bgr))) if self.gray else (color,)


def data_mean_shift(files: Sequence[Path]) -> np.ndarray:
    """Official ``data_mean``: mean over channels of the style set's channel means minus each
    channel's mean, as an RGB float32 array (0..255 units; added to the style images)."""
    sums = np.zeros(3, np.float64)
    for f in files:
        sums += read_bgr(f)[:, :, ::-1].reshape(-1, 3).mean(0)
    means = sums / len(files)
    return (means.mean() - means).astype(np.float32)


class PairCropDataset(Dataset):
    """Distillation pairs: a photo and its cached teacher output, cropped identically.

    For each sample a scale ``s`` is drawn from ``scales`` among those at which the (photo-scaled)
    image still covers ``crop`` x ``crop`` (else the largest; then reflect-padded), a random crop is
    taken at that scale and flipped horizontally with probability 1/2 (``hflip``). The photo at scale
    ``s`` and the teacher output *computed at that scale* are read by ``pair(idx, s)``.
    ``crop = 0``: the whole image at a random scale, trimmed (at a random offset) to a multiple of
    ``multiple`` — for students that look at image-wide statistics, as the teacher did.
    Item → ``(photo, teacher)``: float32 3xHxW RGB in [-1, 1] (sizes differ between items when
    ``crop = 0``: batch them with :func:`list_collate`). With ``crop = 0`` a ``pair_fn`` may return a
    third array, the teacher's features (C x ceil(H/2) x ceil(W/2), any dtype; training/hints.py):
    the item then has a third tensor, those features trimmed with the photo (the trim starts on an
    even pixel), or C = 0 when the sample was mirrored.
    """

    def __init__(self, pair_fn, n: int, scales: Sequence[float], crop: int, sizes: Sequence[tuple[int, int]],
                 *, hflip: bool = True, multiple: int = 8) -> None:
        self.pair_fn, self.n, self.scales, self.crop, self.sizes, self.hflip = pair_fn, n, list(scales), crop, list(sizes), hflip
        self.multiple = multiple

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx, seed = item
        rng = np.random.default_rng(seed)
        if self.crop == 0:
            return self._whole(idx, rng)
        h, w = self.sizes[idx]
        ok = [s for s in self.scales if round(min(h, w) * s) >= self.crop]
        s = float(ok[rng.integers(len(ok))]) if ok else max(self.scales)
        photo, teacher = self.pair_fn(idx, s)
        ph, pw = photo.shape[:2]
        if ph < self.crop or pw < self.crop:
            pad = ((0, max(0, self.crop - ph)), (0, max(0, self.crop - pw)), (0, 0))
            photo, teacher = np.pad(photo, pad, mode="reflect"), np.pad(teacher, pad, mode="reflect")
            ph, pw = photo.shape[:2]
        y = int(rng.integers(ph - self.crop + 1))
        x = int(rng.integers(pw - self.crop + 1))
        sl = (slice(y, y + self.crop), slice(x, x + self.crop))
        photo, teacher = photo[sl], teacher[sl]
        if self.hflip and rng.random() < 0.5:
            photo, teacher = photo[:, ::-1], teacher[:, ::-1]
        return to_tensor(photo), to_tensor(teacher)

    def _whole(self, idx: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        photo, teacher, *feats = self.pair_fn(idx, float(self.scales[rng.integers(len(self.scales))]))
        ph, pw = photo.shape[:2]
        m = self.multiple
        if ph < m or pw < m:
            raise ValueError(f"photo {idx} is smaller than {m}x{m} at this scale")
        if not feats:
            y, x = int(rng.integers(ph % m + 1)), int(rng.integers(pw % m + 1))
        else:  # features at 1/2 resolution: the trim starts on an even pixel, so they stay aligned
            y, x = 2 * int(rng.integers(ph % m // 2 + 1)), 2 * int(rng.integers(pw % m // 2 + 1))
        sl = (slice(y, y + ph - ph % m), slice(x, x + pw - pw % m))
        photo, teacher = photo[sl], teacher[sl]
        flip = self.hflip and rng.random() < 0.5
        if flip:
            photo, teacher = photo[:, ::-1], teacher[:, ::-1]
        out = (to_tensor(photo), to_tensor(teacher))
        if not feats:
            return out
        f = feats[0]
        h2, w2 = (ph - ph % m) // 2, (pw - pw % m) // 2
        if flip:  # the teacher is not mirror-symmetric: a mirrored sample carries no features
            return (*out, torch.zeros(0, h2, w2, dtype=torch.float16))
        return (*out, torch.from_numpy(np.array(f[:, y // 2 : y // 2 + h2, x // 2 : x // 2 + w2])))  # a copy: f may be a read-only memmap


def list_collate(items: list[tuple[torch.Tensor, ...]]) -> tuple[list[torch.Tensor], ...]:
    """Batch of differently sized samples: a tuple of lists (one list per field)."""
    return tuple(list(field) for field in zip(*items, strict=True))


def _worker_init(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle (StopRequest)
    cv2.setNumThreads(0)
    torch.set_num_threads(1)


def infinite_loader(dataset: Dataset, sampler: StreamBatchSampler, num_workers: int, collate_fn=None) -> Iterator:
    """An iterator over collated batches following ``sampler`` (order independent of workers)."""
    loader = DataLoader(
        dataset, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate_fn,
        worker_init_fn=_worker_init if num_workers else None,
        persistent_workers=num_workers > 0, prefetch_factor=4 if num_workers else None,
    )
    return iter(loader)

"""Train a sky model on the cached dataset (CPU, seeded, resumable).

From the repository root, after ``python -m training.make_dataset`` (``python -m training``
runs both, and the export)::

    python -m training.train --arch u2netp --run training/runs/skyseg-u2netp-tuned
    python -m training.train --arch skyseg-lite --run training/runs/skyseg-lite

``u2netp`` fine-tunes the seed's published U^2-Net-p (:mod:`training.import_seed`) with deep
supervision of its six side outputs; ``effnet-unet`` trains a decoder on an ImageNet-pretrained
EfficientNet-Lite0 (:mod:`training.effnet_unet`), the fast student; ``skyseg-lite`` trains the
small network of the first recipe from scratch.

Re-running the same command resumes from ``<run>/last.pt``. The log goes to ``<run>/train.log``
(one JSON object per line). Each step draws its batch from a generator seeded with
``(seed, step)``, so a resumed run sees the same data as an uninterrupted one.

The checkpoint also keeps an exponential moving average of the weights (``ema``), because
single steps on a small dataset leave the raw weights noisy. The running BatchNorm statistics
belong to the raw weights, so once the last step is done the averaged model's statistics are
estimated afresh over training batches (as for stochastic weight averaging); that model is
validated, logged as the ``"ema"`` event and exported. The periodic validation during
training is of the raw weights.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .augment import (
    defocus_top,
    overcast_look,
    photometric,
    random_resized_crop,
    swap_sky,
    to_tensor_layout,
)
from .make_dataset import CACHE_DIR, KIND_COMPOSITE, KIND_NO_SKY, KIND_PHOTO
from .model import SkySegLite, parameter_count
from .u2netp import U2NetP

ARCHITECTURES = ("u2netp", "effnet-unet", "skyseg-lite")

#: Default share of each batch drawn from composites, photos with sky and no-sky photos.
MIX = {KIND_COMPOSITE: 0.5, KIND_PHOTO: 0.32, KIND_NO_SKY: 0.18}
SKY_SWAP_PROBABILITY = 0.25
#: Share of sky swaps whose new sky is made pale first (:func:`overcast_look`).
OVERCAST_SWAP_SHARE = 0.35
#: Share of pictures without sky whose top is blurred (:func:`defocus_top`).
DEFOCUS_PROBABILITY = 0.35


class BatchSampler:
    """Draws augmented training batches from the cached arrays."""

    def __init__(self, data: dict[str, np.ndarray], size: int, mix: dict[int, float] | None = None):
        self.size = size
        mix = mix or MIX
        has_sky = data["photo_has_sky"].astype(bool)
        composites = data["composite_images"]
        square = np.full((len(composites), 2), composites.shape[1], np.int32)
        photos, masks, shapes = data["photo_images"], data["photo_masks"], data["photo_shapes"]
        self.pools = {
            KIND_COMPOSITE: (composites, data["composite_masks"], square),
            KIND_PHOTO: (photos[has_sky], masks[has_sky], shapes[has_sky]),
            KIND_NO_SKY: (photos[~has_sky], masks[~has_sky], shapes[~has_sky]),
        }
        self.skies = data["sky_images"]
        self.kinds = [k for k in mix if len(self.pools[k][0])]
        weights = np.array([mix[k] for k in self.kinds])
        self.weights = weights / weights.sum()

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        images = np.empty((count, 3, self.size, self.size), np.float32)
        masks = np.empty((count, 1, self.size, self.size), np.float32)
        for i in range(count):
            kind = self.kinds[int(rng.choice(len(self.kinds), p=self.weights))]
            pool_images, pool_masks, pool_shapes = self.pools[kind]
            j = int(rng.integers(len(pool_images)))
            height, width = pool_shapes[j]
            image = pool_images[j, :height, :width].astype(np.float32) / 255.0
            mask = pool_masks[j, :height, :width].astype(np.float32) / 255.0
            min_area = 0.5 if kind == KIND_COMPOSITE else 0.3
            image, mask = random_resized_crop(image, mask, self.size, rng, min_area=min_area)
            if kind != KIND_NO_SKY and rng.random() < SKY_SWAP_PROBABILITY:
                sky = self.skies[int(rng.integers(len(self.skies)))].astype(np.float32) / 255.0
                sky, _ = random_resized_crop(sky, sky[..., 0], self.size, rng, min_area=0.4)
                if rng.random() < OVERCAST_SWAP_SHARE:
                    sky = overcast_look(sky, rng)
                image = swap_sky(image, mask, sky)
            if kind == KIND_NO_SKY and rng.random() < DEFOCUS_PROBABILITY:
                image = defocus_top(image, rng)
            images[i] = to_tensor_layout(photometric(image, rng))
            masks[i, 0] = mask
        return images, masks


class StepBatches(torch.utils.data.IterableDataset):
    """The batches of steps ``start..stop-1``; batch ``s`` comes from a generator seeded with
    ``(seed, s)``, so it is the same whether or not training was interrupted and resumed."""

    def __init__(self, sampler: BatchSampler, batch: int, seed: int, start: int, stop: int):
        self.sampler, self.batch, self.seed = sampler, batch, seed
        self.start, self.stop = start, stop

    def __iter__(self):
        # One worker process: augmentation runs beside the training step, one thread each.
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        for step in range(self.start, self.stop):
            rng = np.random.default_rng([self.seed, step])
            images, masks = self.sampler.sample(self.batch, rng)
            yield torch.from_numpy(images), torch.from_numpy(masks)


def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft-IoU loss over the whole batch (defined for no-sky)."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    intersection = (prob * target).sum()
    union = (prob + target - prob * target).sum()
    return bce + 0.5 * (1.0 - (intersection + 1.0) / (union + 1.0))


def build_model(arch: str, widths: tuple[int, ...] | None = None) -> torch.nn.Module:
    """The network a run of ``arch`` starts from: the seed's U^2-Net-p weights, the U-Net on
    the ImageNet-pretrained EfficientNet-Lite0, or a fresh SkySeg-Lite of ``widths``."""
    if arch == "u2netp":
        from .import_seed import seed_model

        return seed_model().train()
    if arch == "effnet-unet":
        from .effnet_unet import EffNetUNet

        return EffNetUNet().train()
    return SkySegLite(widths or SkySegLite.WIDTHS)


def training_loss(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor):
    """:func:`loss_fn` of the output; U^2-Net-p adds the mean BCE of its side outputs, as
    U^2-Net was trained (deep supervision)."""
    if isinstance(model, U2NetP):
        fused, sides = model.side_logits(images)
        side_bce = sum(F.binary_cross_entropy_with_logits(s, masks) for s in sides) / len(sides)
        return loss_fn(fused, masks) + side_bce
    return loss_fn(model.logits(images), masks)


def _multiple_of_32(height: int, width: int, area: int) -> tuple[int, int]:
    # The same rule as skycore.inference.model_input_size: aspect kept, about ``area`` pixels.
    rows = max(1, round(math.sqrt(area * height / width) / 32))
    cols = max(1, round(math.sqrt(area * width / height) / 32))
    return rows * 32, cols * 32


def evaluate(
    model: torch.nn.Module, data: dict[str, np.ndarray], size: int = 320
) -> dict[str, float]:
    """IoU per kind (and false-sky share on no-sky photos) on the cached validation set,
    each picture fed at its aspect with about ``size**2`` pixels."""
    model.eval()
    inter = {k: 0.0 for k in MIX}
    union = {k: 0.0 for k in MIX}
    no_sky_pixels = 0
    with torch.no_grad():
        for image, mask, (height, width), kind in zip(
            data["val_images"],
            data["val_masks"],
            data["val_shapes"],
            data["val_kinds"],
            strict=True,
        ):
            rows, cols = _multiple_of_32(height, width, size * size)
            rgb = cv2.resize(image[:height, :width], (cols, rows), interpolation=cv2.INTER_AREA)
            truth = cv2.resize(mask[:height, :width], (cols, rows)) > 127
            tensor = torch.from_numpy(to_tensor_layout(rgb.astype(np.float32) / 255.0)[None])
            pred = model(tensor)[0, 0].numpy() > 0.5
            inter[int(kind)] += float(np.logical_and(pred, truth).sum())
            union[int(kind)] += float(np.logical_or(pred, truth).sum())
            if kind == KIND_NO_SKY:
                no_sky_pixels += rows * cols
    model.train()
    return {
        "iou_composite": inter[KIND_COMPOSITE] / max(union[KIND_COMPOSITE], 1.0),
        "iou_photo": inter[KIND_PHOTO] / max(union[KIND_PHOTO], 1.0),
        "false_sky_no_sky": union[KIND_NO_SKY] / max(no_sky_pixels, 1),
    }


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 2 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))


def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Move the averaged weights towards the current ones; copy the BatchNorm statistics,
    which are running averages already."""
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
        for averaged, current in zip(ema.buffers(), model.buffers(), strict=True):
            averaged.copy_(current)


def recalibrate_batchnorm(
    model: torch.nn.Module, sampler: BatchSampler, *, batch: int, seed: int, batches: int = 100
) -> None:
    """Estimate ``model``'s BatchNorm statistics afresh over ``batches`` training batches,
    drawn from generators seeded apart from the training steps'."""
    images = (
        torch.from_numpy(sampler.sample(batch, np.random.default_rng([seed, 1 << 30, i]))[0])
        for i in range(batches)
    )
    torch.optim.swa_utils.update_bn(images, model)
    model.eval()


def save_checkpoint(
    path: Path,
    model,
    ema,
    optimizer,
    step: int,
    args: argparse.Namespace,
    *,
    ema_calibrated: bool = False,
) -> None:
    """Write atomically, so an interrupted save never corrupts the last checkpoint."""
    temporary = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "ema_calibrated": ema_calibrated,
            "optimizer": optimizer.state_dict(),
            "step": step,
            "arch": args.arch,
            "widths": list(model.widths) if isinstance(model, SkySegLite) else None,
            "args": vars(args) | {"data": str(args.data), "run": str(args.run)},
        },
        temporary,
    )
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CACHE_DIR / "dataset.npz")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="skyseg-lite")
    parser.add_argument("--run", type=Path, default=Path("training/runs/skyseg-lite"))
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=192, help="training crop, multiple of 32")
    parser.add_argument(
        "--widths",
        type=lambda text: tuple(int(v) for v in text.split(",")),
        default=SkySegLite.WIDTHS,
        help="skyseg-lite: channels of the stem and the four encoder stages, comma-separated",
    )
    parser.add_argument(
        "--mix",
        type=lambda text: dict(zip(MIX, (float(v) for v in text.split(",")), strict=True)),
        default=MIX,
        help="shares of composites, photos with sky and photos without sky in a batch",
    )
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--ema-decay", type=float, default=0.998)
    parser.add_argument(
        "--bn-batches",
        type=int,
        default=100,
        help="training batches over which the averaged model's BatchNorm statistics are taken",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="PyTorch threads (beside one data-worker process); on 2 cores that other work "
        "keeps busy, 1 is several times faster",
    )
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--val-every", type=int, default=300)
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (with a checkpoint) after this long; re-run to resume",
    )
    args = parser.parse_args(argv)
    if args.size % 32:
        parser.error("--size must be a multiple of 32")

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    data = dict(np.load(args.data))
    sampler = BatchSampler(data, args.size, args.mix)
    model = build_model(args.arch, args.widths)
    ema = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    last = args.run / "last.pt"
    step = 0
    ema_calibrated = False
    if last.is_file():
        state = torch.load(last, map_location="cpu")
        arch = state.get("arch", "skyseg-lite")
        if arch != args.arch:
            parser.error(f"{last} is a {arch} run, not {args.arch}")
        if arch == "skyseg-lite" and tuple(state.get("widths", ())) != tuple(args.widths):
            parser.error(f"{last} has widths {state.get('widths')}, not {args.widths}")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        ema_calibrated = bool(state.get("ema_calibrated", False))
        if step > args.steps:
            parser.error(f"{last} is at step {step}, past --steps {args.steps}; use another --run")
    log = (args.run / "train.log").open("a", encoding="utf-8")
    log.write(
        json.dumps(
            {
                "event": "start",
                "step": step,
                "params": parameter_count(model),
                "args": {k: str(v) for k, v in vars(args).items()},
            }
        )
        + "\n"
    )
    model.train()
    started = time.time()
    bar = tqdm(total=args.steps, initial=step, desc="training", unit="step")
    running = None
    batches = torch.utils.data.DataLoader(
        StepBatches(sampler, args.batch, args.seed, step, args.steps),
        batch_size=None,
        num_workers=1,
        prefetch_factor=4,
    )
    for images, masks in batches:
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = training_loss(model, images, masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        update_ema(ema, model, args.ema_decay)
        ema_calibrated = False
        step += 1
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr:.2e}")
        record = {
            "step": step,
            "loss": round(loss.item(), 5),
            "lr": lr,
            "elapsed_s": round(time.time() - started, 1),
        }
        if step % args.val_every == 0 or step == args.steps:
            record |= {k: round(v, 4) for k, v in evaluate(model, data).items()}
            tqdm.write(json.dumps(record))
        log.write(json.dumps(record) + "\n")
        log.flush()
        out_of_time = args.max_minutes is not None and time.time() - started > 60 * args.max_minutes
        if step % args.checkpoint_every == 0 or step == args.steps or out_of_time:
            save_checkpoint(last, model, ema, optimizer, step, args)
        if out_of_time:
            tqdm.write(f"stopped after {args.max_minutes} min at step {step}; re-run to resume")
            break
    bar.close()
    if step >= args.steps and not ema_calibrated:
        recalibrate_batchnorm(
            ema, sampler, batch=args.batch, seed=args.seed, batches=args.bn_batches
        )
        ema_calibrated = True
        save_checkpoint(last, model, ema, optimizer, step, args, ema_calibrated=True)
        record = {"event": "ema", "step": step} | {
            k: round(v, 4) for k, v in evaluate(ema, data).items()
        }
        tqdm.write(json.dumps(record))
        log.write(json.dumps(record) + "\n")
    log.write(json.dumps({"event": "stop", "step": step}) + "\n")
    log.close()


if __name__ == "__main__":
    main()

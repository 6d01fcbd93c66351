"""The training pipeline on tiny sizes: composites, splits, model shape, train/resume, export.

Needs the Debian package ``stellarium-data`` (composites) and ``../shared``; the model, training
and export tests need the ``[train]`` extra (PyTorch, onnx) and are skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import composites
from training.composites import (
    held_out_columns,
    held_out_skies,
    list_landscapes,
    list_skies,
    load_panorama,
    make_composite,
    split_items,
    train_skies,
)
from training.sources import list_photos, split_photos

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

needs_stellarium = pytest.mark.skipif(
    not list_landscapes(), reason="needs the Debian package stellarium-data"
)
MAGENTA = np.zeros((60, 80, 3), np.uint8)
MAGENTA[...] = (255, 0, 255)


@needs_stellarium
def test_landscapes_with_cut_out_skies_are_found():
    names = {p.name for p in list_landscapes()}
    # Planet maps (256 px) and the opaque ocean panorama have no usable cut-out sky.
    assert {"garching", "guereins", "hurricane", "trees"} <= names
    assert not names & {"ocean", "jupiter", "zero"}


@needs_stellarium
@pytest.mark.parametrize("index", range(7))
def test_mask_is_exactly_where_the_sky_shows(index):
    landscapes = list_landscapes()
    landscape = landscapes[index % len(landscapes)]
    rng = np.random.default_rng(index)
    image, mask = make_composite(
        landscape, MAGENTA, size=(320, 240), rng=rng, split="train", harmonize=False
    )
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert mask.shape == (240, 320) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert 0.03 < float(np.mean(mask > 0.5)) < 0.97
    sky = mask > 0.999
    assert np.all(image[sky] == (255, 0, 255))
    ground = mask < 0.001
    is_magenta = np.all(np.abs(image[ground].astype(int) - (255, 0, 255)) < 12, axis=1)
    assert is_magenta.mean() < 0.01


@needs_stellarium
def test_composites_are_reproducible_and_work_at_one_megapixel():
    landscape = list_landscapes()[0]
    sky = list_skies()[0]
    first = make_composite(landscape, sky, size=(1152, 864), rng=np.random.default_rng(3))
    second = make_composite(landscape, sky, size=(1152, 864), rng=np.random.default_rng(3))
    assert first[0].shape == (864, 1152, 3)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@needs_stellarium
def test_bad_arguments_are_refused():
    landscape = list_landscapes()[0]
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="split"):
        make_composite(landscape, MAGENTA, size=(64, 48), rng=rng, split="test")
    with pytest.raises(ValueError, match="at least 8x8"):
        make_composite(landscape, MAGENTA, size=(4, 4), rng=rng)
    with pytest.raises(ValueError, match="not a usable"):
        load_panorama(composites.LANDSCAPE_DIR / "ocean")


@needs_stellarium
def test_held_out_columns_are_a_fixed_quarter():
    for landscape in list_landscapes():
        panorama = load_panorama(landscape)
        start, stop = held_out_columns(panorama)
        width = panorama.rgba.shape[1]
        assert 0 <= start < stop <= width
        assert abs((stop - start) / width - composites.HELD_OUT_FRACTION) < 0.01
        assert held_out_columns(panorama) == (start, stop)


def test_sky_splits_are_disjoint_and_training_skies_are_shippable():
    held, train = set(held_out_skies()), set(train_skies())
    assert held and train and not held & train
    assert held | set(train_skies(shippable=False)) == set(list_skies())
    assert not any(p.name.startswith(composites.EVAL_ONLY_SKY_PREFIXES) for p in train)


def test_split_items_is_seeded_and_order_free():
    items = [f"item{i}" for i in range(20)]
    held = split_items(items, held_out=True)
    assert held == split_items(list(reversed(items)), held_out=True)
    assert len(held) == 5
    assert set(held) | set(split_items(items, held_out=False)) == set(items)
    assert split_items(["only"], held_out=True) == []


def test_photo_split_keeps_every_source_in_both_parts():
    photos = list_photos()
    held = split_photos(photos, held_out=True)
    train = split_photos(photos, held_out=False)
    assert not {p.path for p in held} & {p.path for p in train}
    assert len(held) + len(train) == len(photos)
    shared_groups = {(p.source, p.has_sky) for p in photos if p.source.startswith("shared")}
    assert shared_groups == {(p.source, p.has_sky) for p in held if p.source.startswith("shared")}
    assert any(not p.has_sky for p in held) and any(p.has_sky for p in held)


def test_model_is_small_and_keeps_the_input_size():
    torch = pytest.importorskip("torch")
    from training.model import SkySegLite, parameter_count

    model = SkySegLite().eval()
    assert parameter_count(model) <= 1_500_000
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 64, 96))
    assert out.shape == (2, 1, 64, 96)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def _tiny_dataset(path: Path) -> None:
    """A real but tiny cache: composites, one photo with sky, one without, two skies."""
    from training.make_dataset import fit, to_u8

    rng = np.random.default_rng(0)
    landscapes = list_landscapes()
    pairs = [
        make_composite(landscapes[i % len(landscapes)], MAGENTA, size=(64, 64), rng=rng)
        for i in range(6)
    ]
    photos = [SHARED / "data/photos/kodak_kodim13.jpg", SHARED / "data/photos/kodak_kodim01.jpg"]
    from skycore import read_image

    images, shapes = zip(*(fit(read_image(p), 96) for p in photos), strict=True)
    # Label the first photo by its top third only: a crude but real label is enough here.
    sky_mask = np.zeros((96, 96), np.float32)
    sky_mask[:20] = 1.0
    np.savez(
        path,
        composite_images=np.stack([p[0] for p in pairs]),
        composite_masks=np.stack([to_u8(p[1]) for p in pairs]),
        photo_images=np.stack(images),
        photo_masks=np.stack([to_u8(sky_mask), np.zeros((96, 96), np.uint8)]),
        photo_shapes=np.array(shapes, np.int32),
        photo_has_sky=np.array([True, False]),
        sky_images=np.stack([pairs[0][0], pairs[1][0]]),
        val_images=np.stack([pairs[4][0], pairs[5][0]]),
        val_masks=np.stack([to_u8(pairs[4][1]), to_u8(pairs[5][1])]),
        val_shapes=np.full((2, 2), 64, np.int32),
        val_kinds=np.zeros(2, np.int8),
    )


@pytest.mark.slow
@needs_stellarium
def test_training_resumes_and_exports_a_matching_onnx_model(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from skycore import predict_probability
    from skycore.registry import file_sha256, read_manifest
    from training import export, train

    data = tmp_path / "tiny.npz"
    _tiny_dataset(data)
    run = tmp_path / "run"
    common = ["--data", str(data), "--run", str(run), "--size", "64", "--batch", "2"]
    train.main([*common, "--steps", "3", "--val-every", "3", "--checkpoint-every", "1"])
    assert torch.load(run / "last.pt")["step"] == 3
    train.main([*common, "--steps", "5", "--val-every", "5", "--checkpoint-every", "1"])
    log = [json.loads(line) for line in (run / "train.log").read_text().splitlines()]
    starts = [r["step"] for r in log if r.get("event") == "start"]
    assert starts == [0, 3]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5]
    assert "iou_composite" in log[-3]
    # After the last step the averaged weights get BatchNorm statistics of their own.
    assert log[-2]["event"] == "ema" and "iou_composite" in log[-2]
    assert torch.load(run / "last.pt")["ema_calibrated"]
    # A shorter schedule must not silently pick up a longer run's weights.
    with pytest.raises(SystemExit):
        train.main([*common, "--steps", "3"])
    # Nor may a run resume as another architecture.
    with pytest.raises(SystemExit):
        train.main([*common, "--steps", "5", "--widths", "8,16,24,32,64"])

    onnx_path = tmp_path / "models" / "skyseg-lite.onnx"
    # A five-step model on this tiny data, with recalibrated BatchNorm, differs by ~1e-4;
    # the shipped model matches to ~2e-6 under the default tolerance of 1e-4.
    export.main(
        ["--checkpoint", str(run / "last.pt"), "--out", str(onnx_path), "--tolerance", "1e-3"]
    )
    # A narrower run exports as its own architecture.
    narrow = tmp_path / "narrow"
    narrow_args = ["--data", str(data), "--run", str(narrow), "--size", "64", "--batch", "2"]
    train.main([*narrow_args, "--steps", "2", "--widths", "8,16,24,32,64", "--bn-batches", "2"])
    narrow_model, arch = export.load_model(narrow / "last.pt")
    assert arch == "skyseg-lite" and narrow_model.widths == (8, 16, 24, 32, 64)
    (spec,) = read_manifest(onnx_path.with_suffix(".json"))
    assert spec.sha256 == file_sha256(onnx_path)
    assert spec.id == "skyseg-lite" and not spec.default
    assert spec.input_size == 320 and spec.dynamic_size and spec.mirror_average
    manifest = json.loads(onnx_path.with_suffix(".json").read_text())
    assert manifest["models"][0]["onnx"]["max_abs_diff_vs_pytorch"] < 1e-3
    probability = predict_probability(np.zeros((120, 200, 3), np.uint8), model=onnx_path)
    assert probability.ndim == 2 and probability.shape[0] % 32 == 0


MODELS = Path(__file__).resolve().parents[1] / "models"


def test_shipped_small_model_is_intact_and_not_the_default():
    from skycore.registry import file_sha256, find_model, read_manifest

    (spec,) = read_manifest(MODELS / "skyseg-lite.json")
    assert not spec.default and spec.id == "skyseg-lite"
    assert spec.path.stat().st_size <= 6 * 1024 * 1024
    assert spec.sha256 == file_sha256(spec.path)
    assert find_model("skyseg-lite").path == spec.path
    manifest = json.loads((MODELS / "skyseg-lite.json").read_text())["models"][0]
    assert manifest["onnx"]["opset"] >= 17


@needs_stellarium
def test_shipped_model_finds_the_sky_of_held_out_composites():
    from skycore import sky_mask

    landscapes = list_landscapes()
    skies = held_out_skies()
    rng = np.random.default_rng(11)
    ious = []
    for i in range(4):
        image, truth = make_composite(
            landscapes[i], skies[i], size=(640, 480), rng=rng, split="held_out"
        )
        mask = sky_mask(image, model=MODELS / "skyseg-lite.onnx") > 0.5
        sky = truth > 0.5
        ious.append(np.logical_and(mask, sky).sum() / np.logical_or(mask, sky).sum())
    assert np.mean(ious) > 0.85


def test_shipped_model_separates_sky_from_ground_on_a_real_photo():
    from skycore import read_image, sky_mask

    # kodim16 (held out): sea with an even sky over the top third.
    mask = sky_mask(read_image(SHARED / "data/photos/kodak_kodim16.jpg"), model="skyseg-lite")
    rows = mask.shape[0]
    assert mask[: rows // 6].mean() > 0.9
    assert mask[-rows // 4 :].mean() < 0.05


def test_ema_moves_towards_the_trained_weights_and_copies_batchnorm_statistics():
    torch = pytest.importorskip("torch")
    from training.model import SkySegLite
    from training.train import update_ema

    model, ema = SkySegLite(), SkySegLite()
    with torch.no_grad():
        for p in ema.parameters():
            p.zero_()
        for p in model.parameters():
            p.fill_(1.0)
        model.stem[1].running_mean.fill_(0.25)
    update_ema(ema, model, decay=0.9)
    assert all(torch.allclose(p, torch.full_like(p, 0.1)) for p in ema.parameters())
    assert torch.all(ema.stem[1].running_mean == 0.25)


def test_recipe_rebuilds_a_missing_or_stale_dataset_cache(tmp_path):
    from training.__main__ import dataset_is_current
    from training.make_dataset import DATASET_VERSION

    data = tmp_path / "dataset.npz"
    assert not dataset_is_current(data)
    data.write_bytes(b"cached arrays")
    photos = [str(p.path) for p in split_photos(list_photos(), held_out=False)]
    summary = data.with_suffix(".json")
    summary.write_text(json.dumps({"version": DATASET_VERSION, "photos": photos}))
    assert dataset_is_current(data)
    summary.write_text(json.dumps({"version": DATASET_VERSION, "photos": photos[:-1]}))
    assert not dataset_is_current(data)
    # A cache an older recipe wrote from the same photos is stale too.
    summary.write_text(json.dumps({"version": DATASET_VERSION - 1, "photos": photos}))
    assert not dataset_is_current(data)


def _saturation(rgb: np.ndarray) -> float:
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


def test_gradient_skies_are_seeded_smooth_mostly_pale_and_starry_at_night():
    from training.augment import gradient_sky

    skies = [gradient_sky(96, 128, np.random.default_rng(i)) for i in range(60)]
    assert all(s.shape == (96, 128, 3) and s.dtype == np.float32 for s in skies)
    assert all(s.min() >= 0.0 and s.max() <= 1.0 for s in skies)
    again = gradient_sky(96, 128, np.random.default_rng(7))
    assert np.array_equal(again, skies[7])
    night = [s for s in skies if float(s.mean()) < 0.25]
    day = [s for s in skies if float(s.mean()) >= 0.25]
    assert night and day
    # By day smooth like a clear or overcast sky: no step between neighbouring pixels.
    assert max(float(np.abs(np.diff(s, axis=a)).max()) for s in day for a in (0, 1)) < 0.03
    # At night stars: points far brighter than the sky around them.
    for s in night:
        brightness = s.mean(axis=2)
        assert np.sum(brightness > np.median(brightness) + 0.2) >= 3
    pale = [float(s.mean()) > 0.55 and _saturation(s) < 0.25 for s in skies]
    assert 0.5 <= np.mean(pale) <= 0.9


def test_overcast_look_greys_a_real_sunset_and_keeps_its_clouds_faintly():
    from skycore import as_float_rgb, read_image
    from training.augment import overcast_look

    sky = as_float_rgb(read_image(SHARED / "data/skies/crop_wikimedia_crepuscular_sunset.jpg"))
    for seed in range(5):
        pale = overcast_look(sky, np.random.default_rng(seed))
        assert pale.shape == sky.shape and pale.dtype == np.float32
        assert _saturation(pale) < 0.6 * _saturation(sky)
        # Not warm like the sunset was (nor like beige wood): grey to slightly blue.
        red, _, blue = pale.reshape(-1, 3).mean(axis=0)
        assert red <= blue
        assert pale.mean(axis=2).std() < sky.mean(axis=2).std()
        # The clouds are still there: along each row (the added horizon glow is even along
        # rows) the luminance follows the original's.
        lum, original = pale.mean(axis=2), sky.mean(axis=2)
        lum, original = (x - x.mean(axis=1, keepdims=True) for x in (lum, original))
        assert np.corrcoef(lum.ravel(), original.ravel())[0, 1] > 0.5


@needs_stellarium
def test_cutouts_take_exactly_their_alpha_out_of_the_sky():
    from training.composites import load_panorama
    from training.cutouts import add_cutouts

    # A real hand-cut alpha stands in for a tree: a crop of a panorama's ground and skyline.
    panorama = load_panorama(list_landscapes()[0])
    row = int(np.median(panorama.horizon))
    cutout = np.ascontiguousarray(panorama.rgba[max(0, row - 120) : row + 80, :300])
    rng = np.random.default_rng(4)
    hidden_sky = 0
    for _ in range(8):
        base, base_mask = make_composite(
            list_landscapes()[1], MAGENTA, size=(320, 240), rng=rng, harmonize=False
        )
        image, mask = add_cutouts(base, base_mask, [cutout], rng, count=(2, 2), hanging=0.0)
        assert image.shape == base.shape and mask.dtype == np.float32
        assert np.all(mask <= base_mask + 1e-6)
        assert np.all(image[mask > 0.999] == (255, 0, 255))
        covered = (mask < 0.001) & (base_mask > 0.999)
        is_magenta = np.all(np.abs(image[covered].astype(int) - (255, 0, 255)) < 12, axis=1)
        assert is_magenta.sum() <= 0.01 * covered.sum()
        hidden_sky += int(covered.sum())
    assert hidden_sky > 0.02 * 8 * 320 * 240


def test_cutouts_are_distinct_billboards_without_straight_sides():
    from PIL import Image

    from training.cutouts import list_cutouts, load_cutout

    paths = list_cutouts()
    if not paths:
        pytest.skip("needs the Debian package torcs-data")
    assert len(paths) >= 30
    assert len({p.read_bytes() for p in paths}) == len(paths)
    for path in paths:
        assert "tree" in path.name.lower() and not path.name.startswith("treeUGLIES")
        with Image.open(path) as im:
            assert im.mode == "RGBA"
        cutout = load_cutout(path)
        alpha = cutout[..., 3]
        # Cropped to what is opaque, and colour premultiplied.
        assert alpha[0].max() > 0.02 and alpha[-1].max() > 0.02
        assert np.all(cutout[..., :3] <= alpha[..., None] + 1e-6)
        assert max(np.mean(alpha[:, 0] > 0.5), np.mean(alpha[:, -1] > 0.5)) <= 0.3


def test_defocus_top_blurs_the_top_and_leaves_the_bottom_sharp():
    from skycore import as_float_rgb, read_image
    from training.augment import defocus_top

    # kodim01 (no sky): a brick facade, sharp everywhere.
    image = as_float_rgb(read_image(SHARED / "data/photos/kodak_kodim01.jpg"))[:384, :384]

    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x.mean(axis=2), axis=1)).mean())

    rng = np.random.default_rng(2)
    for _ in range(4):
        result = defocus_top(image, rng)
        assert result.shape == image.shape and result.dtype == np.float32
        # Blurred at the top (fully down to 15 % of the height at least) ...
        assert detail(result[:96]) < 0.5 * detail(image[:96])
        # ... untouched at the bottom (the blur is gone by 95 % of the height).
        assert np.array_equal(result[-8:], image[-8:])


@needs_stellarium
def test_hanging_cutouts_reach_down_from_above_to_sixty_percent_at_most():
    from training.composites import load_panorama
    from training.cutouts import add_cutouts

    # Upside down, a panorama's skyline crop is opaque at the top like a tree's crown.
    panorama = load_panorama(list_landscapes()[0])
    row = int(np.median(panorama.horizon))
    crown = np.ascontiguousarray(panorama.rgba[max(0, row - 120) : row + 80, :300][::-1])
    rng = np.random.default_rng(8)
    sky = np.ones((240, 320), np.float32)
    image = np.full((240, 320, 3), 200, np.uint8)
    reaching = 0
    for _ in range(8):
        _, mask = add_cutouts(image, sky, [crown], rng, count=(1, 1), hanging=1.0)
        covered_rows = np.nonzero((mask < 0.5).any(axis=1))[0]
        if covered_rows.size:
            reaching += 1
            assert covered_rows.max() <= 0.6 * 240
    assert reaching >= 4


@pytest.mark.slow
@needs_stellarium
def test_u2netp_fine_tunes_from_the_seed_and_exports(tmp_path):
    torch = pytest.importorskip("torch")
    from skycore import predict_probability
    from skycore.registry import read_manifest
    from training import export, train
    from training.import_seed import seed_model

    data = tmp_path / "tiny.npz"
    _tiny_dataset(data)
    run = tmp_path / "u2netp"
    common = ["--data", str(data), "--run", str(run), "--size", "64", "--batch", "2"]
    args = [*common, "--arch", "u2netp", "--lr", "1e-4", "--bn-batches", "1"]
    train.main([*args, "--steps", "2", "--val-every", "2"])
    state = torch.load(run / "last.pt")
    assert state["arch"] == "u2netp" and state["widths"] is None
    # Two small steps move the seed's weights a little, and only a little.
    seed = seed_model().state_dict()
    moved = max(float((state["model"][k] - seed[k]).abs().max()) for k in seed)
    assert 0 < moved < 0.05
    with pytest.raises(SystemExit):  # a u2netp run does not resume as skyseg-lite
        train.main([*common, "--steps", "3"])
    onnx_path = tmp_path / "models" / "tuned.onnx"
    export.main(["--checkpoint", str(run / "last.pt"), "--out", str(onnx_path)])
    (spec,) = read_manifest(onnx_path.with_suffix(".json"))
    assert spec.id == "skyseg-u2netp-tuned" and not spec.mirror_average
    probability = predict_probability(np.zeros((120, 200, 3), np.uint8), model=onnx_path)
    assert probability.ndim == 2 and probability.shape[0] % 32 == 0

# Run by python-fu-eval inside gimp-console-3.0, which has already imported Gimp, Gegl, Gio,
# GLib and GObject (hence the noqa). Standard library only: GIMP's Python may have no numpy.
# ruff: noqa: F821
#
# Runs plug-in-select-sky on real photos in every output mode and layer case, and dumps for
# each case the layer's pixels as sent to the plug-in and the resulting selection / mask /
# channel as raw float32, plus a JSON summary. test_select_sky.py compares them with skycore.
import json
import os
import time

OUT = os.environ["SKY_TEST_OUT"]
PHOTOS = os.environ["SKY_TEST_PHOTOS"]
MODEL_FILE = os.environ["SKY_TEST_MODEL_FILE"]
XCF_DIR = os.environ.get("SKY_TEST_XCF_DIR", "")
NONINTERACTIVE = Gimp.RunMode.NONINTERACTIVE
PROC = Gimp.get_pdb().lookup_procedure("plug-in-select-sky")
if PROC is None:
    raise RuntimeError("plug-in-select-sky is not registered: the plug-in did not install")
results = {}


def load(name, longest=480):
    """Open a photo; shrink it (in GIMP) to ``longest`` px, which keeps each case short."""
    path = name if os.path.isabs(name) else os.path.join(PHOTOS, name)
    image = Gimp.file_load(NONINTERACTIVE, Gio.File.new_for_path(path))
    width, height = image.get_width(), image.get_height()
    if longest and max(width, height) > longest:
        scale = longest / max(width, height)
        image.scale(round(width * scale), round(height * scale))
    return image


def read(drawable, babl_format, width=None, height=None):
    width = width or drawable.get_width()
    height = height or drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, width, height)
    return drawable.get_buffer().get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE)


def sent_format(image):
    """What the plug-in sends for this image: R'G'B' in the image's integer depth, else float."""
    depth = image.get_precision().value_nick.split("-")[0]
    return {"u8": ("R'G'B' u8", "uint8"), "u16": ("R'G'B' u16", "uint16")}.get(
        depth, ("R'G'B' float", "float32")
    )


def dump(name, data):
    with open(os.path.join(OUT, name), "wb") as fh:
        fh.write(data)


def call(image, drawables, run_mode=NONINTERACTIVE, **options):
    config = PROC.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", drawables)
    for key, value in options.items():
        config.set_property(key.replace("_", "-"), value)
    started = time.perf_counter()
    result = PROC.run(config)
    elapsed = time.perf_counter() - started
    status = result.index(0)
    message = ""
    if status != Gimp.PDBStatusType.SUCCESS and result.length() > 1:
        message = str(result.index(1))
    return status.value_nick, message, elapsed


def case(name, image, layer, target, run_mode=NONINTERACTIVE, **options):
    """Run the procedure on ``layer`` and record what it did; ``target`` names what to dump."""
    babl_format, dtype = sent_format(image)
    pixels = read(layer, babl_format)
    before = read(layer, "R'G'B'A float")
    channels_before = [c.get_name() for c in image.get_channels()]
    layers_before = len(image.get_layers())
    mask_before = layer.get_mask() is not None
    status, message, elapsed = call(image, [layer], run_mode, **options)
    _, offset_x, offset_y = layer.get_offsets()
    record = {
        "status": status,
        "message": message,
        "dtype": dtype,
        "seconds": elapsed,
        "options": options,
        "width": layer.get_width(),
        "height": layer.get_height(),
        "offset_x": offset_x,
        "offset_y": offset_y,
        "canvas_width": image.get_width(),
        "canvas_height": image.get_height(),
        "pixels_unchanged": read(layer, "R'G'B'A float") == before,
        "layers_added": len(image.get_layers()) - layers_before,
        "channels_before": channels_before,
        "channels_after": [c.get_name() for c in image.get_channels()],
        "had_mask": mask_before,
        "has_mask": layer.get_mask() is not None,
    }
    dump(name + ".pixels", pixels)
    if status == "success":
        if target == "selection":
            result = read(image.get_selection(), "Y float", image.get_width(), image.get_height())
        elif target == "mask":
            result = read(layer.get_mask(), "Y float")
        else:
            # A channel means what Channel to Selection makes of it.
            image.select_item(Gimp.ChannelOps.REPLACE, image.get_channels()[0])
            result = read(image.get_selection(), "Y float", image.get_width(), image.get_height())
        dump(name + ".result.f32", result)
    results[name] = record
    return record


# 1. RGB 8-bit photo: the selection in each operation, against a preset rectangle.
sea = load("kodak_kodim16.jpg")
sea_layer = sea.get_layers()[0]
case("selection_replace", sea, sea_layer, "selection")
RECT = (100, 50, 300, 200)
for operation in ("add", "subtract", "intersect"):
    sea.select_rectangle(Gimp.ChannelOps.REPLACE, *RECT)
    case("selection_" + operation, sea, sea_layer, "selection", operation=operation)
results["rectangle"] = RECT

# 2. Saved channel with the edge options.
case(
    "channel_adjusted",
    sea,
    sea_layer,
    "channel",
    output="channel",
    invert=True,
    shift_edge=6,
    feather=4.0,
)
sea.delete()

# 3. Layer mask; a second layer mask is refused unless replacing was chosen.
portrait = load("kodak_kodim19.jpg")
portrait_layer = portrait.get_layers()[0]
case("layer_mask", portrait, portrait_layer, "mask", output="layer-mask")
case("layer_mask_refused", portrait, portrait_layer, "mask", output="layer-mask")
case(
    "layer_mask_replaced",
    portrait,
    portrait_layer,
    "mask",
    output="layer-mask",
    replace_mask=True,
    invert=True,
    refine_edges=False,
)
portrait.delete()

# 4. A layer smaller than the canvas, partly outside it, with offsets.
wide = load("skyopt_212918_orig_crop.jpg", longest=800)
part = Gimp.Layer.new_from_drawable(wide.get_layers()[0], wide)
wide.insert_layer(part, None, 0)
part.resize(500, 300, -150, -50)
part.set_offsets(-120, 150)
case("offset_selection", wide, part, "selection")
case("offset_layer_mask", wide, part, "mask", output="layer-mask")
wide.delete()

# 5. Grayscale 8-bit, RGBA 16-bit.
gray = load("wikimedia_016.jpg")
gray.convert_grayscale()
case("gray8_channel", gray, gray.get_layers()[0], "channel", output="channel")
gray.delete()
deep = load("kodak_kodim16.jpg")
deep.convert_precision(Gimp.Precision.U16_NON_LINEAR)
deep.get_layers()[0].add_alpha()
case("rgba16_selection", deep, deep.get_layers()[0], "selection")
deep.delete()

# 6. Bad cases: each must come back as an error; the case after them shows GIMP carries on.
results["no_image"] = dict(zip(("status", "message"), call(None, [])[:2], strict=True))
pair = load("kodak_kodim16.jpg")
two = [pair.get_layers()[0], Gimp.Layer.new_from_drawable(pair.get_layers()[0], pair)]
pair.insert_layer(two[1], None, 0)
results["two_layers"] = dict(zip(("status", "message"), call(pair, two)[:2], strict=True))
pair.delete()
indexed = load("kodak_kodim16.jpg")
indexed.convert_indexed(
    Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, ""
)
case("indexed", indexed, indexed.get_layers()[0], "selection")
indexed.delete()
os.rename(MODEL_FILE, MODEL_FILE + ".away")
try:
    missing = load("kodak_kodim16.jpg")
    case("model_missing", missing, missing.get_layers()[0], "selection")
finally:
    os.rename(MODEL_FILE + ".away", MODEL_FILE)
missing.delete()

# 7. Linear float 32-bit, after the errors.
linear = load("kodak_kodim16.jpg")
linear.convert_precision(Gimp.Precision.FLOAT_LINEAR)
case("float32_layer_mask", linear, linear.get_layers()[0], "mask", output="layer-mask")
linear.delete()

# 8. The XCF files the README's batch one-liner wrote: one layer mask each.
if XCF_DIR:
    for name in sorted(os.listdir(XCF_DIR)):
        if name.endswith(".xcf"):
            saved = load(os.path.join(XCF_DIR, name))
            layer = saved.get_layers()[0]
            mask = layer.get_mask()
            results["xcf:" + name] = {"has_mask": mask is not None}
            if mask is not None:
                dump("xcf-" + name + ".pixels", read(layer, sent_format(saved)[0]))
                dump("xcf-" + name + ".result.f32", read(mask, "Y float"))
                results["xcf:" + name].update(
                    width=layer.get_width(), height=layer.get_height(), dtype=sent_format(saved)[1]
                )
            saved.delete()

with open(os.path.join(OUT, "results.json"), "w") as fh:
    json.dump(results, fh, indent=1)

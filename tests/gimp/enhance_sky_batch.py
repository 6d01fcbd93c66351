# Run by python-fu-eval inside gimp-console-3.0, which has already imported Gimp, Gegl, Gio,
# GLib and GObject (hence the noqa). Standard library only: GIMP's Python may have no numpy.
#
# Runs plug-in-enhance-sky on a real night photo (defaults, and options on an offset layer of
# a 16-bit image) and records the layer structure it built, plus raw dumps of the pixels sent,
# the new layer, its mask and the image's projection; test_enhance_sky.py compares them with
# skycore.enhance.
# ruff: noqa: F821
import json
import os

OUT = os.environ["SKY_TEST_OUT"]
PHOTO = os.environ["SKY_TEST_PHOTO"]
NONINTERACTIVE = Gimp.RunMode.NONINTERACTIVE
PROC = Gimp.get_pdb().lookup_procedure("plug-in-enhance-sky")
if PROC is None:
    raise RuntimeError("plug-in-enhance-sky is not registered: the plug-in did not install")
RGB = "R'G'B' float"
results = {}


def read(drawable, babl_format):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return drawable.get_buffer().get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE)


def dump(name, data):
    with open(os.path.join(OUT, name), "wb") as fh:
        fh.write(data)


def describe(item):
    record = {
        "name": item.get_name(),
        "offsets": list(item.get_offsets()[1:]),
        "size": [item.get_width(), item.get_height()],
        "has_mask": item.get_mask() is not None,
        "opacity": item.get_opacity(),
    }
    if item.is_group():
        record["children"] = [describe(child) for child in item.get_children()]
    return record


def load(longest=400):
    image = Gimp.file_load(NONINTERACTIVE, Gio.File.new_for_path(PHOTO))
    width, height = image.get_width(), image.get_height()
    scale = longest / max(width, height)
    image.scale(round(width * scale), round(height * scale))
    return image


def run(name, image, layer, sent_format, dtype, **options):
    config = PROC.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for key, value in options.items():
        config.set_property(key.replace("_", "-"), value)
    before = read(layer, "R'G'B'A float")
    top_level = [item.get_name() for item in image.get_layers()]
    result = PROC.run(config)
    record = {"status": result.index(0).value_nick, "options": options, "dtype": dtype}
    if record["status"] != "success":
        record["message"] = str(result.index(1))
        results[name] = record
        return
    group = result.index(1)
    enhanced = group.get_children()[0]
    record.update(
        structure=describe(group),
        top_level_before=top_level,
        top_level_after=[item.get_name() for item in image.get_layers()],
        pixels_unchanged=read(layer, "R'G'B'A float") == before,
        width=layer.get_width(),
        height=layer.get_height(),
        offsets=list(layer.get_offsets()[1:]),
        canvas=[image.get_width(), image.get_height()],
    )
    dump(name + ".photo", read(layer, sent_format))
    dump(name + ".layer-sky.f32", read(enhanced, RGB))
    dump(name + ".layer-alpha.f32", read(enhanced.get_mask(), "Y float"))
    flat = image.duplicate()
    dump(name + ".projection.f32", read(flat.flatten(), RGB))
    flat.delete()
    results[name] = record


# 1. The defaults on an 8-bit photo.
photo = load()
run("defaults", photo, photo.get_layers()[0], "R'G'B' u8", "uint8")
photo.delete()

# 2. Options, a 16-bit image, an offset layer smaller than the canvas.
photo = load()
photo.convert_precision(Gimp.Precision.U16_NON_LINEAR)
part = Gimp.Layer.new_from_drawable(photo.get_layers()[0], photo)
photo.insert_layer(part, None, 0)
part.resize(240, 260, -20, 0)
part.set_offsets(30, 10)
run("options", photo, part, "R'G'B' u16", "uint16", white_balance=0.5, denoise=2.0, feather=3.0)
photo.delete()

with open(os.path.join(OUT, "enhance-results.json"), "w") as fh:
    json.dump(results, fh, indent=1)

# Run by python-fu-eval inside gimp-console-3.0, which has already imported Gimp, Gegl, Gio,
# GLib and GObject (hence the noqa). Standard library only: GIMP's Python may have no numpy.
#
# Runs plug-in-replace-sky on real photos (sky from a file, and from a layer of another open
# image) and records the layer structure it built, plus raw float32 dumps of the user's layer,
# the sky, each new layer and the image's projection; test_replace_sky.py compares them with
# skycore.replace.
# ruff: noqa: F821
import json
import os

OUT = os.environ["SKY_TEST_OUT"]
PHOTOS = os.environ["SKY_TEST_PHOTOS"]
SKIES = os.environ["SKY_TEST_SKIES"]
NONINTERACTIVE = Gimp.RunMode.NONINTERACTIVE
PROC = Gimp.get_pdb().lookup_procedure("plug-in-replace-sky")
if PROC is None:
    raise RuntimeError("plug-in-replace-sky is not registered: the plug-in did not install")
RGB = "R'G'B' float"
results = {}


def load(path, longest=400):
    image = Gimp.file_load(NONINTERACTIVE, Gio.File.new_for_path(path))
    width, height = image.get_width(), image.get_height()
    scale = longest / max(width, height)
    image.scale(round(width * scale), round(height * scale))
    return image


def read(drawable, babl_format):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
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


def describe(item):
    _, x, y = item.get_offsets()
    record = {
        "name": item.get_name(),
        "group": item.is_group(),
        "offsets": [x, y],
        "size": [item.get_width(), item.get_height()],
        "composite_mode": item.get_composite_mode().value_nick,
        "composite_space": item.get_composite_space().value_nick,
        "has_mask": item.get_mask() is not None,
    }
    if item.is_group():
        record["children"] = [describe(child) for child in item.get_children()]
    return record


def run(name, image, layer, sky_file=None, sky_layer=None, **options):
    config = PROC.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    if sky_file:
        config.set_property("sky", "file")
        config.set_property("sky-file", Gio.File.new_for_path(sky_file))
    if sky_layer:
        config.set_property("sky", "layer")
        config.set_property("sky-layer", sky_layer)
    for key, value in options.items():
        config.set_property(key.replace("_", "-"), value)
    before = read(layer, "R'G'B'A float")
    top_level = [item.get_name() for item in image.get_layers()]
    result = PROC.run(config)
    status = result.index(0).value_nick
    record = {"status": status, "options": options, "top_level_before": top_level}
    if status != "success":
        record["message"] = str(result.index(1))
        results[name] = record
        return record
    group = result.index(1)
    _, x, y = layer.get_offsets()
    record.update(
        returned=group.get_name(),
        structure=describe(group),
        top_level_after=[item.get_name() for item in image.get_layers()],
        pixels_unchanged=read(layer, "R'G'B'A float") == before,
        width=layer.get_width(),
        height=layer.get_height(),
        offsets=[x, y],
        canvas=[image.get_width(), image.get_height()],
    )
    foreground = group.get_children()[0]
    adjustment, original = foreground.get_children()
    sky = group.get_children()[1]
    record["original_equals_layer"] = read(original, RGB) == read(layer, RGB)
    babl_format, record["dtype"] = sent_format(image)
    dump(name + ".photo", read(layer, babl_format))
    dump(name + ".layer-sky.f32", read(sky, RGB))
    dump(name + ".layer-alpha.f32", read(original.get_mask(), "Y float"))
    dump(name + ".layer-foreground.f32", read(adjustment, RGB))
    flat = image.duplicate()
    dump(name + ".projection.f32", read(flat.flatten(), RGB))
    flat.delete()
    results[name] = record
    return record


def sky_from_file(path):
    sky = Gimp.file_load(NONINTERACTIVE, Gio.File.new_for_path(path))
    layer = sky.flatten()
    dump_info = (layer.get_width(), layer.get_height(), read(layer, RGB))
    sky.delete()
    return dump_info


# 1. Sky from a file, default options.
sky_path = os.path.join(SKIES, "kirainmoe_cumulus_blue.jpg")
width, height, pixels = sky_from_file(sky_path)
dump("file.sky.f32", pixels)
results["file_sky_size"] = [width, height]
photo = load(os.path.join(PHOTOS, "wikimedia_036.jpg"))
run("from_file", photo, photo.get_layers()[0], sky_file=sky_path)
photo.delete()

# 2. Sky from a layer of another open image, with options, on an offset layer.
sky_image = load(os.path.join(SKIES, "crop_wikimedia_crepuscular_sunset.jpg"), longest=300)
sky_layer = sky_image.get_layers()[0]
dump("layer.sky.f32", read(sky_layer, RGB))
results["layer_sky_size"] = [sky_layer.get_width(), sky_layer.get_height()]
photo = load(os.path.join(PHOTOS, "kodak_kodim16.jpg"))
part = Gimp.Layer.new_from_drawable(photo.get_layers()[0], photo)
photo.insert_layer(part, None, 0)
part.resize(300, 220, -40, -20)
part.set_offsets(60, 30)
run("from_layer", photo, part, sky_layer=sky_layer, flip=True, amount=0.8, feather=3.0)
photo.delete()

# 3. The defaults: the first sky of the gallery, no file or layer needed.
photo = load(os.path.join(PHOTOS, "kodak_kodim16.jpg"))
run("defaults", photo, photo.get_layers()[0])
sky_argument = PROC.find_argument("sky")
results["sky_choices"] = [
    list(Gimp.param_spec_choice_get_choice(sky_argument).list_nicks()),
    Gimp.param_spec_choice_get_default(sky_argument),
]

# 4. Bad cases: the file source with no file chosen; a photo without sky.
run("no_sky_chosen", photo, photo.get_layers()[0], sky="file")
photo.delete()
indoor = load(os.path.join(PHOTOS, "wikimedia_002.jpg"))
run("photo_without_sky", indoor, indoor.get_layers()[0], sky_layer=sky_layer)
indoor.delete()
sky_image.delete()

with open(os.path.join(OUT, "replace-results.json"), "w") as fh:
    json.dump(results, fh, indent=1)

#!/usr/bin/env python3
"""GIMP 3 plug-in on top of skycore: Select > Sky... (plug-in-select-sky),
Filters > Light and Shadow > Replace Sky... (plug-in-replace-sky) and
Filters > Enhance > Enhance Sky... (plug-in-enhance-sky).

The plug-in only moves pixels between GIMP and skycore and maps options: it reads layers
through GEGL with explicit babl formats, hands the raw buffers to ``python -m skycore.worker``
in the environment install.py made (GIMP's own Python need not have numpy or onnxruntime), and
writes what comes back as a selection, a layer mask or a channel, or as the layers of a sky
replacement or enhancement. ``install.py`` writes ``sky-tools.json`` beside this file (the
worker's Python and the model folder).
"""

import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
from gi.repository import Gegl, Gimp, GimpUi, Gio, GLib, GObject, Gtk  # noqa: E402

# install.py copies skycore's standard-library modules beside this file: the option tables,
# the manifest reader and the worker protocol, shared with the core.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from skycore import options, protocol, registry  # noqa: E402

SELECT_SKY = "plug-in-select-sky"
REPLACE_SKY = "plug-in-replace-sky"
ENHANCE_SKY = "plug-in-enhance-sky"
CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sky-tools.json")
RGB_FLOAT = "R'G'B' float"
#: How layer pixels are sent to the worker, by image precision: 8- and 16-bit as they are
#: (a quarter or half of the float bytes to move), everything else as float.
PIXEL_FORMATS = {
    "u8": ("R'G'B' u8", "uint8"),
    "u16": ("R'G'B' u16", "uint16"),
    "float": (RGB_FLOAT, "float32"),
}
MASK_FLOAT = "Y float"
#: Select Sky's mask comes back as 16-bit (half the bytes of float, 1/65535 steps).
MASK_U16 = "Y u16"
RAW_MASK_U16 = "Y' u16"
TIMING_PREFIX = "sky-tools timing: "

OUTPUTS = (
    ("selection", "Selection", "Select the sky (combined with the current selection as chosen)"),
    ("layer-mask", "Layer mask", "Add a layer mask to the layer: sky opaque, the rest clear"),
    ("channel", "Channel", 'Save the mask as a channel named "Sky"'),
)
OPERATIONS = (
    ("replace", "Replace the selection", Gimp.ChannelOps.REPLACE),
    ("add", "Add to the selection", Gimp.ChannelOps.ADD),
    ("subtract", "Subtract from the selection", Gimp.ChannelOps.SUBTRACT),
    ("intersect", "Intersect with the selection", Gimp.ChannelOps.INTERSECT),
)


class SkyError(Exception):
    """A failure with a message meant for the photographer."""


def read_config():
    try:
        with open(CONFIG_FILE, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SkyError(
            f"Sky Tools is not set up: its settings file {CONFIG_FILE} cannot be read ({exc}). "
            "Run install.py again."
        ) from None
    python = config.get("python", "")
    if not os.path.isfile(python):
        raise SkyError(
            f"Sky Tools is not set up: the Python environment {python} is missing. "
            "Run install.py again."
        )
    return config


def installed_model_ids():
    """Model ids listed by the manifests in the installed model folder (for the dialog)."""
    try:
        folder = Path(read_config().get("model_dir", ""))
    except SkyError:
        return []
    ids = []
    for manifest in registry.manifests_in(folder):
        try:
            ids += [spec.id for spec in registry.read_manifest(manifest)]
        except registry.ModelError:
            continue  # the worker reports a broken manifest when that model is used
    return ids


def run_worker(task, inputs, settings, *buffers, preview=None, output_dtypes=None):
    """Run one request (:mod:`skycore.protocol`) in the user's skycore worker, which stays up
    between calls with the model loaded (started on first use, exits when idle).

    Returns the result line and ``{output name: bytes}``. Progress lines from the worker
    drive GIMP's progress bar.
    """
    config = read_config()
    env = dict(os.environ)
    env["SKYCORE_MODEL_DIR"] = config.get("model_dir", "")
    try:
        return protocol.call(
            config["python"],
            task,
            inputs,
            settings,
            list(buffers),
            env=env,
            model_dir=config.get("model_dir", ""),
            # Each install gets its own worker: one started before it runs the old code.
            generation=str(os.stat(CONFIG_FILE).st_mtime_ns),
            on_progress=None if preview else show_progress,
            preview=preview,
            output_dtypes=output_dtypes,
        )
    except protocol.ReplyError as exc:
        if exc.kind is not None:
            raise SkyError(str(exc)) from None
        raise SkyError(f"Sky Tools' engine {config['python']} failed: {exc}") from None
    except OSError as exc:
        raise SkyError(f"Sky Tools could not start its engine {config['python']} ({exc})") from None


def show_progress(fraction, message):
    Gimp.progress_set_text(message)
    Gimp.progress_update(fraction)


def pixel_format(image):
    """(babl format, worker dtype) for reading this image's layers."""
    precision = image.get_precision().value_nick  # e.g. "u8-non-linear", "float-linear"
    babl_format, dtype = PIXEL_FORMATS.get(precision.split("-")[0], PIXEL_FORMATS["float"])
    return babl_format, dtype


def layer_pixels(layer, babl_format):
    """The layer's R'G'B' pixels in an explicit babl format, whatever its type or alpha."""
    width, height = layer.get_width(), layer.get_height()
    buffer = layer.get_buffer()
    rect = Gegl.Rectangle.new(0, 0, width, height)
    return buffer.get(rect, 1.0, babl_format, Gegl.AbyssPolicy.NONE)


def crop_rows(data, width, x, y, crop_width, crop_height, itemsize=2):
    """Cut a rectangle out of a row-major buffer ``width`` values of ``itemsize`` wide."""
    view = memoryview(data)
    row = crop_width * itemsize
    return b"".join(
        view[((y + r) * width + x) * itemsize : ((y + r) * width + x) * itemsize + row]
        for r in range(crop_height)
    )


def write_mask(drawable, x, y, width, height, data, babl_format=MASK_FLOAT):
    buffer = drawable.get_buffer()
    buffer.set(Gegl.Rectangle.new(x, y, width, height), babl_format, data)
    buffer.flush()


def channel_format(image):
    """The babl format to write a channel in, so that Channel to Selection gives the mask.

    GIMP 3.0.4 copies the raw values of a channel of an 8-bit non-linear image into the
    (linear) selection, so there the mask must be stored as raw values; at every other
    precision the conversion is exact (measured in tests/gimp).
    """
    if image.get_precision() == Gimp.Precision.U8_NON_LINEAR:
        return RAW_MASK_U16
    return MASK_U16


def canvas_channel(image, layer, mask, name):
    """A new, unattached image-sized channel holding the layer's mask at the layer's offsets."""
    width, height = layer.get_width(), layer.get_height()
    _, offset_x, offset_y = layer.get_offsets()
    channel = Gimp.Channel.new(
        image, name, image.get_width(), image.get_height(), 50.0, Gegl.Color.new("black")
    )
    left, top = max(offset_x, 0), max(offset_y, 0)
    right = min(offset_x + width, image.get_width())
    bottom = min(offset_y + height, image.get_height())
    if right > left and bottom > top:
        write_mask(
            channel,
            left,
            top,
            right - left,
            bottom - top,
            crop_rows(mask, width, left - offset_x, top - offset_y, right - left, bottom - top),
            channel_format(image),
        )
    return channel


def apply_output(image, layer, mask, config):
    output = config.get_property("output")
    if output == "layer-mask":
        new_mask = layer.create_mask(Gimp.AddMaskType.WHITE)
        write_mask(new_mask, 0, 0, layer.get_width(), layer.get_height(), mask, MASK_U16)
        if layer.get_mask() is not None:
            layer.remove_mask(Gimp.MaskApplyMode.DISCARD)
        layer.add_mask(new_mask)
    elif output == "channel":
        name = "Sky (inverted)" if config.get_property("invert") else "Sky"
        image.insert_channel(canvas_channel(image, layer, mask, name), None, 0)
    else:
        operation = dict((nick, op) for nick, _, op in OPERATIONS)[config.get_property("operation")]
        channel = canvas_channel(image, layer, mask, "Sky (temporary)")
        image.insert_channel(channel, None, 0)
        try:
            image.select_item(operation, channel)
        finally:
            image.remove_channel(channel)


def target_layer(image, drawables):
    if image is None:
        raise SkyError("Open an image first.")
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        raise SkyError(
            "This works on RGB and grayscale images. Convert this indexed image first "
            "(Image > Mode > RGB)."
        )
    layers = [d for d in drawables if isinstance(d, Gimp.Layer)]
    if len(layers) != 1:
        raise SkyError("Select exactly one layer: the sky is found in that layer's pixels.")
    return layers[0]


def check_mask_slot(layer, config):
    if (
        config.get_property("output") == "layer-mask"
        and layer.get_mask() is not None
        and not config.get_property("replace-mask")
    ):
        raise SkyError(
            f'The layer "{layer.get_name()}" already has a layer mask. Apply or delete it, '
            'choose another output, or tick "Replace existing mask".'
        )


def task_settings(config, table):
    """The task's options (Python names) from the procedure's config."""
    settings = {}
    for entry in table:
        value = config.get_property(entry.flag)
        if entry.kind == "model" and value == "default":
            value = None
        settings[entry.name] = value
    return settings


def only_when(dialog, field, choice_field, nick):
    """Make ``field`` sensitive only while ``choice_field`` is set to ``nick``."""
    values = Gimp.ValueArray.new(1)
    values.append(GObject.Value(GObject.TYPE_STRING, nick))
    dialog.set_sensitive_if_in(field, None, choice_field, values, True)


#: The dialog's sections: the plug-in's own fields, then the options of the task's table
#: (:mod:`skycore.options`) by their group.
SECTIONS = {
    SELECT_SKY: (("Output", ["output", "operation", "replace-mask"]),),
    REPLACE_SKY: (("Sky", ["sky", "sky-file", "sky-layer"]),),
    ENHANCE_SKY: (),
}
SENSITIVITY = {
    SELECT_SKY: (
        ("operation", "output", "selection"),
        ("replace-mask", "output", "layer-mask"),
    ),
    REPLACE_SKY: (("sky-file", "sky", "file"), ("sky-layer", "sky", "layer")),
    ENHANCE_SKY: (),
}
TABLES = {
    SELECT_SKY: options.SELECT_SKY,
    REPLACE_SKY: options.REPLACE_SKY,
    ENHANCE_SKY: options.ENHANCE_SKY,
}


def dialog_sections(name):
    """``[(title, [field, ...]), ...]`` of a procedure's dialog, in order."""
    sections = {title: list(fields) for title, fields in SECTIONS[name]}
    for entry in TABLES[name]:
        sections.setdefault(entry.group, []).append(entry.flag)
    return list(sections.items())


#: The preview shows the layer at most this many pixels wide or high.
PREVIEW_SIDE = 480
#: Gallery and file skies are sent for a preview at most this many pixels wide.
PREVIEW_SKY_SIDE = 960
TASKS = {SELECT_SKY: "mask", REPLACE_SKY: "replace", ENHANCE_SKY: "enhance"}


def scaled_pixels(drawable, scale, babl_format="R'G'B' u8"):
    """``drawable``'s pixels scaled by ``scale`` (GEGL resamples), and their size."""
    width = max(1, round(drawable.get_width() * scale))
    height = max(1, round(drawable.get_height() * scale))
    rect = Gegl.Rectangle.new(0, 0, width, height)
    data = drawable.get_buffer().get(rect, scale, babl_format, Gegl.AbyssPolicy.CLAMP)
    return data, width, height


class LivePreview:
    """The dialog's preview: the layer at preview size with the sky found and tinted (Select
    Sky), replaced (Replace Sky) or enhanced (Enhance Sky), redrawn whenever an option
    changes.

    The worker that stays up between calls does the work at preview size and keeps the
    model's probability of the preview image, so a dialog runs the model once.
    """

    def __init__(self, name, layer, config):
        self.name, self.layer, self.config = name, layer, config
        self.widget = GimpUi.AspectPreview.new_from_drawable(layer)
        # GimpPreview's size style property is 200 px by default: too small to judge a sky.
        css = Gtk.CssProvider()
        css.load_from_data(f"* {{ -GimpPreview-size: {PREVIEW_SIDE}; }}".encode())
        self.widget.get_style_context().add_provider(css, Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION)
        self.widget.connect("invalidated", self.redraw)
        config.connect("notify", lambda *_: self.widget.invalidate())
        self.photo = None
        self.skies = {}

    def channels(self):
        rgb = self.layer.is_rgb()
        return (3 if rgb else 1) + (1 if self.layer.has_alpha() else 0)

    def sky(self):
        """The chosen sky at preview size, read once per source."""
        source = self.config.get_property("sky")
        key = (source, self.config.get_property("sky-file"), self.config.get_property("sky-layer"))
        if key not in self.skies:
            with chosen_sky(self.config) as drawable:
                longest = max(drawable.get_width(), drawable.get_height())
                self.skies[key] = scaled_pixels(drawable, min(1.0, PREVIEW_SKY_SIDE / longest))
        return self.skies[key]

    def redraw(self, *_):
        scale = min(1.0, PREVIEW_SIDE / max(self.layer.get_width(), self.layer.get_height()))
        if self.photo is None:
            self.photo = scaled_pixels(self.layer, scale)
        pixels, width, height = self.photo
        table = TABLES[self.name]
        settings = task_settings(self.config, table)
        for entry in table:
            if entry.unit == "px":  # edge widths are the photo's pixels, the preview's fewer
                settings[entry.name] *= scale
        inputs = [protocol.buffer_spec("image", width, height, 3, "uint8")]
        buffers = [pixels]
        try:
            if self.name == REPLACE_SKY:
                sky, sky_width, sky_height = self.sky()
                inputs.append(protocol.buffer_spec("sky", sky_width, sky_height, 3, "uint8"))
                buffers.append(sky)
            _, outputs = run_worker(
                TASKS[self.name], inputs, settings, *buffers, preview={"channels": self.channels()}
            )
        except SkyError as exc:
            print(f"sky-tools preview: {exc}", file=sys.stderr)
            return
        self.widget.draw_buffer(outputs["preview"], width * self.channels())


def show_dialog(procedure, config, name, title, layer):
    GimpUi.init(name)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    preview = LivePreview(name, layer, config)
    frames = []
    for index, (section, fields) in enumerate(dialog_sections(name)):
        box, label, frame = (f"section-{index}-{part}" for part in ("box", "label", "frame"))
        dialog.fill_box(box, fields)
        dialog.get_label(label, section, False, False)
        dialog.fill_frame(frame, label, False, box)
        frames.append(frame)
    # After the widgets exist: set before, GIMP warns and ignores the rule.
    for field, choice_field, nick in SENSITIVITY[name]:
        only_when(dialog, field, choice_field, nick)
    dialog.fill(frames)
    # The preview on the left, the option frames beside it: a dialog this tall would not fit
    # on a laptop's screen with the preview on top.
    content = dialog.get_content_area()
    options_box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    for child in content.get_children():
        if isinstance(child, Gtk.Frame):
            content.remove(child)
            options_box.pack_start(child, False, False, 0)
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    row.pack_start(preview.widget, True, True, 0)
    row.pack_start(options_box, False, False, 0)
    content.pack_start(row, True, True, 0)
    content.reorder_child(row, 0)
    row.show_all()
    accepted = dialog.run()
    dialog.destroy()
    return accepted


def unexpected(procedure, title, exc):
    """An execution error for a bug or an environment problem; the traceback goes to stderr."""
    traceback.print_exc()
    return error_values(procedure, f"{title} failed unexpectedly ({type(exc).__name__}: {exc}).")


def error_values(procedure, message):
    error = GLib.Error.new_literal(GLib.quark_from_string("sky-tools"), message, 0)
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, error)


@contextlib.contextmanager
def one_undo_step(image):
    """Everything done to ``image`` inside the block is one step of GIMP's undo."""
    image.undo_group_start()
    try:
        yield
    finally:
        image.undo_group_end()


def log_timing(task, info, **seconds):
    """One JSON line on GIMP's log per call: what the time went into (bench_gimp reads it)."""
    print(f"{TIMING_PREFIX}{json.dumps({'task': task, **seconds, **info})}", file=sys.stderr)


def run_task(procedure, run_mode, image, drawables, config, name, title, work):
    """The skeleton both procedures share: the layer, the dialog with its preview, the
    progress bar, and an answer GIMP can show whatever happens. ``work(layer)`` does the
    task and returns the procedure's return values after the status (``GObject.Value``s)."""
    try:
        layer = target_layer(image, drawables)
    except SkyError as exc:
        return error_values(procedure, str(exc))
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(
        procedure, config, name, title, layer
    ):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    Gimp.progress_init(title)
    try:
        returned = work(layer)
        Gimp.displays_flush()
    except SkyError as exc:
        return error_values(procedure, str(exc))
    except Exception as exc:  # GIMP must get an answer it can show, whatever broke
        return unexpected(procedure, title, exc)
    finally:
        Gimp.progress_end()
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    for index, value in enumerate(returned, start=1):
        values.remove(index)
        values.insert(index, value)
    return values


def run_select_sky(procedure, run_mode, image, drawables, config, data):
    def work(layer):
        started = time.perf_counter()
        check_mask_slot(layer, config)
        width, height = layer.get_width(), layer.get_height()
        babl_format, dtype = pixel_format(image)
        image_input = protocol.buffer_spec("image", width, height, 3, dtype)
        settings = task_settings(config, options.SELECT_SKY)
        pixels = layer_pixels(layer, babl_format)
        read_at = time.perf_counter()
        result, outputs = run_worker(
            "mask", [image_input], settings, pixels, output_dtypes={"mask": "uint16"}
        )
        del pixels
        if result["outputs"][0]["dtype"] != "uint16":
            raise SkyError("Sky Tools' engine is older than the plug-in: run install.py again.")
        worker_at = time.perf_counter()
        with one_undo_step(image):
            apply_output(image, layer, outputs["mask"], config)
        info = result["info"]
        log_timing(
            "mask",
            info,
            read_s=read_at - started,
            worker_s=worker_at - read_at,
            write_s=time.perf_counter() - worker_at,
        )
        if run_mode == Gimp.RunMode.INTERACTIVE and info["sky_fraction"] < 0.001:
            Gimp.message("Select Sky found no sky in this layer.")
        return []

    return run_task(procedure, run_mode, image, drawables, config, SELECT_SKY, "Select Sky", work)


PERCEPTUAL = Gimp.LayerColorSpace.RGB_PERCEPTUAL


#: Image files the sky gallery offers (install.py copies the bundled skies into its folder).
SKY_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
SKY_SOURCES = (
    ("file", "Image file (below)", "The image file chosen below"),
    ("layer", "Layer (below)", "The layer of an open image chosen below"),
)


def gallery_skies():
    """``[(nick, label, path), ...]``: the sky photos in the installed sky folder, by name."""
    try:
        folder = read_config().get("sky_dir", "")
        names = sorted(os.listdir(folder)) if folder else []
    except (SkyError, OSError):
        return []
    skies = []
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() not in SKY_SUFFIXES or stem.startswith("."):
            continue
        nick = "sky-" + "".join(c if c.isalnum() else "-" for c in stem.lower())
        label = stem.replace("_", " ").replace("-", " ").strip().capitalize()
        skies.append((nick, label, os.path.join(folder, name)))
    return skies


@contextlib.contextmanager
def chosen_sky(config):
    """The drawable of the sky chosen in *New sky*: the chosen layer, or the gallery sky or
    file loaded and flattened (deleted again when the block ends)."""
    source = config.get_property("sky")
    if source == "layer":
        drawable = config.get_property("sky-layer")
        if drawable is None:
            raise SkyError("Choose the layer to use as the new sky, or a sky from the list.")
        yield drawable
        return
    if source == "file":
        sky_file = config.get_property("sky-file")
        if sky_file is None:
            raise SkyError("Choose the image file of the new sky, or a sky from the list.")
    else:
        paths = {nick: path for nick, _, path in gallery_skies()}
        if source not in paths:
            raise SkyError(f"The sky {source!r} is no longer in the sky folder.")
        sky_file = Gio.File.new_for_path(paths[source])
    try:
        sky_image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, sky_file)
    except GLib.Error as exc:
        name = sky_file.get_parse_name()
        raise SkyError(f"Cannot open the sky image {name}: {exc.message}") from None
    if sky_image is None:
        raise SkyError(f"Cannot open the sky image {sky_file.get_parse_name()}.")
    try:
        yield sky_image.flatten()
    finally:
        sky_image.delete()


def sky_pixels(config):
    """The new sky's pixels (float R'G'B') and size, from the sky chosen in *New sky*."""
    with chosen_sky(config) as drawable:
        return layer_pixels(drawable, RGB_FLOAT), drawable.get_width(), drawable.get_height()


def new_layer(image, name, layer, pixels, babl_format):
    """A layer of ``layer``'s size and place holding R'G'B' ``pixels`` in ``babl_format``."""
    kind = Gimp.ImageType.GRAY_IMAGE
    if image.get_base_type() == Gimp.ImageBaseType.RGB:
        kind = Gimp.ImageType.RGB_IMAGE
    width, height = layer.get_width(), layer.get_height()
    created = Gimp.Layer.new(image, name, width, height, kind, 100.0, Gimp.LayerMode.NORMAL)
    buffer = created.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, width, height), babl_format, pixels)
    buffer.flush()
    return created


def perceptual(item):
    # skycore mixes sRGB values; blending in the same space makes the stack equal its composite.
    item.set_blend_space(PERCEPTUAL)
    item.set_composite_space(PERCEPTUAL)
    return item


def build_replacement(image, layer, outputs, babl_format):
    """The editable layer stack of a sky replacement, above ``layer``; returns the group.

    Sky Replacement (group)
        Foreground (group)
            Foreground adjustment (clipped to the backdrop: colour only where Original shows)
            Original (a copy of the layer, its mask = the foreground alpha)
        Sky
    """
    _, offset_x, offset_y = layer.get_offsets()
    group = perceptual(Gimp.GroupLayer.new(image, "Sky Replacement"))
    image.insert_layer(group, layer.get_parent(), image.get_item_position(layer))
    sky = perceptual(new_layer(image, "Sky", layer, outputs["sky"], babl_format))
    image.insert_layer(sky, group, 0)
    foreground = perceptual(Gimp.GroupLayer.new(image, "Foreground"))
    image.insert_layer(foreground, group, 0)
    original = perceptual(layer.copy())
    original.set_name("Original")
    if original.get_mask() is not None:
        original.remove_mask(Gimp.MaskApplyMode.DISCARD)
    alpha = original.create_mask(Gimp.AddMaskType.WHITE)
    write_mask(alpha, 0, 0, layer.get_width(), layer.get_height(), outputs["alpha"])
    original.add_mask(alpha)
    image.insert_layer(original, foreground, 0)
    adjustment = perceptual(
        new_layer(image, "Foreground adjustment", layer, outputs["foreground"], babl_format)
    )
    adjustment.set_composite_mode(Gimp.LayerCompositeMode.CLIP_TO_BACKDROP)
    image.insert_layer(adjustment, foreground, 0)
    for item in (sky, original, adjustment):
        item.set_offsets(offset_x, offset_y)
    return group


def run_replace_sky(procedure, run_mode, image, drawables, config, data):
    def work(layer):
        started = time.perf_counter()
        sky, sky_width, sky_height = sky_pixels(config)
        sky_at = time.perf_counter()
        width, height = layer.get_width(), layer.get_height()
        babl_format, dtype = pixel_format(image)
        inputs = [
            protocol.buffer_spec("image", width, height, 3, dtype),
            protocol.buffer_spec("sky", sky_width, sky_height, 3, "float32"),
        ]
        settings = task_settings(config, options.REPLACE_SKY)
        # The new layers come back in the image's own depth (8-bit: a quarter of the bytes).
        pixels = layer_pixels(layer, babl_format)
        read_at = time.perf_counter()
        layers = {"sky": dtype, "foreground": dtype}
        result, outputs = run_worker("replace", inputs, settings, pixels, sky, output_dtypes=layers)
        del pixels
        worker_at = time.perf_counter()
        if any(o["dtype"] != layers.get(o["name"], "float32") for o in result["outputs"]):
            raise SkyError("Sky Tools' engine is older than the plug-in: run install.py again.")
        with one_undo_step(image):
            group = build_replacement(image, layer, outputs, babl_format)
        log_timing(
            "replace",
            result["info"],
            sky_s=sky_at - started,
            read_s=read_at - sky_at,
            worker_s=worker_at - read_at,
            write_s=time.perf_counter() - worker_at,
        )
        return [GObject.Value(Gimp.Layer, group)]

    return run_task(procedure, run_mode, image, drawables, config, REPLACE_SKY, "Replace Sky", work)


def build_enhancement(image, layer, outputs, babl_format):
    """The editable result of Enhance Sky, above ``layer``; returns the group.

    Sky Enhancement (group: its opacity sets how much of the enhancement shows)
        Enhanced sky (the layer's pixels with the sky enhanced, its mask = where it applies)
    """
    _, offset_x, offset_y = layer.get_offsets()
    group = perceptual(Gimp.GroupLayer.new(image, "Sky Enhancement"))
    image.insert_layer(group, layer.get_parent(), image.get_item_position(layer))
    enhanced = perceptual(new_layer(image, "Enhanced sky", layer, outputs["sky"], babl_format))
    mask = enhanced.create_mask(Gimp.AddMaskType.WHITE)
    write_mask(mask, 0, 0, layer.get_width(), layer.get_height(), outputs["alpha"])
    enhanced.add_mask(mask)
    image.insert_layer(enhanced, group, 0)
    enhanced.set_offsets(offset_x, offset_y)
    return group


def run_enhance_sky(procedure, run_mode, image, drawables, config, data):
    def work(layer):
        started = time.perf_counter()
        width, height = layer.get_width(), layer.get_height()
        babl_format, dtype = pixel_format(image)
        inputs = [protocol.buffer_spec("image", width, height, 3, dtype)]
        settings = task_settings(config, options.ENHANCE_SKY)
        pixels = layer_pixels(layer, babl_format)
        read_at = time.perf_counter()
        layers = {"sky": dtype}
        result, outputs = run_worker("enhance", inputs, settings, pixels, output_dtypes=layers)
        del pixels
        worker_at = time.perf_counter()
        with one_undo_step(image):
            group = build_enhancement(image, layer, outputs, babl_format)
        log_timing(
            "enhance",
            result["info"],
            read_s=read_at - started,
            worker_s=worker_at - read_at,
            write_s=time.perf_counter() - worker_at,
        )
        return [GObject.Value(Gimp.Layer, group)]

    return run_task(procedure, run_mode, image, drawables, config, ENHANCE_SKY, "Enhance Sky", work)


def choice(entries):
    options = Gimp.Choice.new()
    for index, (nick, label, help_text) in enumerate(entries):
        options.add(nick, index, label, help_text)
    return options


def add_option_arguments(procedure, table, flags):
    """One procedure argument per option of the task's table (:mod:`skycore.options`)."""
    for entry in table:
        if entry.kind == "model":
            models = [("default", "Default model", "The model install.py marked as default")]
            models += [(model_id, model_id, "") for model_id in installed_model_ids()]
            procedure.add_choice_argument(
                entry.flag, entry.label, entry.help, choice(models), "default", flags
            )
        elif entry.kind == "choice":
            procedure.add_choice_argument(
                entry.flag, entry.label, entry.help, choice(entry.choices), entry.default, flags
            )
        elif entry.kind == "bool":
            procedure.add_boolean_argument(
                entry.flag, entry.label, entry.help, entry.default, flags
            )
        elif entry.kind == "int":
            procedure.add_int_argument(
                entry.flag, entry.label, entry.help, entry.low, entry.high, entry.default, flags
            )
        else:
            procedure.add_double_argument(
                entry.flag, entry.label, entry.help, entry.low, entry.high, entry.default, flags
            )


def define_select_sky(procedure, flags):
    procedure.set_menu_label("Sk_y...")
    procedure.add_menu_path("<Image>/Select")
    procedure.set_documentation(
        "Select the sky",
        "Finds the sky in the selected layer with a segmentation model, refines the edge "
        "at full resolution, and makes it a selection, a layer mask or a channel. The "
        "preview tints the sky it found and follows every option. Shift edge grows or "
        "shrinks the sky, Feather softens its edge, Invert selects everything else. The "
        "layer's pixels are not changed, and one undo step undoes it all.",
        SELECT_SKY,
    )
    procedure.add_choice_argument(
        "output", "O_utput", "Where the sky mask goes", choice(OUTPUTS), "selection", flags
    )
    procedure.add_choice_argument(
        "operation",
        "Selection _mode",
        "How the sky combines with the current selection",
        choice([(nick, label, "") for nick, label, _ in OPERATIONS]),
        "replace",
        flags,
    )
    procedure.add_boolean_argument(
        "replace-mask",
        "Replace e_xisting mask",
        "For the layer-mask output: replace a mask the layer already has",
        False,
        flags,
    )
    add_option_arguments(procedure, options.SELECT_SKY, flags)


def define_replace_sky(procedure, flags):
    procedure.set_menu_label("Replace _Sky...")
    procedure.add_menu_path("<Image>/Filters/Light and Shadow")
    procedure.set_documentation(
        "Replace the sky with another sky image",
        "Finds the sky in the selected layer and puts a new sky behind the foreground, as "
        'editable layers in a "Sky Replacement" group: the placed sky, a copy of the layer '
        "with a layer mask, and the foreground colour adjustment. New sky picks a sky from "
        "the sky folder (the bundled ones and any photo you put there), or the image file or "
        "layer chosen below it. The preview shows the result as options change. The layer "
        "itself is not changed, and one undo step undoes it all.",
        REPLACE_SKY,
    )
    gallery = [(nick, label, f"The sky {label}") for nick, label, _ in gallery_skies()]
    procedure.add_choice_argument(
        "sky",
        "_New sky",
        "The new sky: one of the sky folder's (drop your own sky photos there), or the image "
        "file or layer chosen below",
        choice(gallery + list(SKY_SOURCES)),
        (gallery or SKY_SOURCES)[0][0],
        flags,
    )
    procedure.add_file_argument(
        "sky-file", "Sky image _file", "Image file of the new sky, when Sky is set to it",
        Gimp.FileChooserAction.OPEN, True, None, flags,
    )  # fmt: skip
    procedure.add_drawable_argument(
        "sky-layer", "Sky from a la_yer", "A layer to use as the new sky, when Sky is set to it",
        True, flags,
    )  # fmt: skip
    add_option_arguments(procedure, options.REPLACE_SKY, flags)
    procedure.add_layer_return_value(
        "group", "Group", 'The new "Sky Replacement" layer group', False, flags
    )


def define_enhance_sky(procedure, flags):
    procedure.set_menu_label("Enhance S_ky...")
    procedure.add_menu_path("<Image>/Filters/Enhance")
    procedure.set_documentation(
        "Enhance the sky of a low-light photo",
        "Finds the sky in the selected layer and processes it on its own, as the camera "
        "pipeline of Liba et al. (2020) does: noise reduction set by the noise measured in "
        "the sky, the colour cast of city light removed, and at night a sky brighter than "
        "the scene toned down and a flat one given contrast. Each correction is measured "
        '(1 = as measured, 0 = off). The result is an editable "Sky Enhancement" group '
        "above the layer: the enhanced layer with a layer mask of the sky; lower the group's "
        "opacity for less. The preview follows every option. The layer itself is not "
        "changed, and one undo step undoes it all.",
        ENHANCE_SKY,
    )
    add_option_arguments(procedure, options.ENHANCE_SKY, flags)
    procedure.add_layer_return_value(
        "group", "Group", 'The new "Sky Enhancement" layer group', False, flags
    )


class SkyTools(Gimp.PlugIn):
    def do_query_procedures(self):
        return [SELECT_SKY, REPLACE_SKY, ENHANCE_SKY]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        run, define = {
            SELECT_SKY: (run_select_sky, define_select_sky),
            REPLACE_SKY: (run_replace_sky, define_replace_sky),
            ENHANCE_SKY: (run_enhance_sky, define_enhance_sky),
        }[name]
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_attribution("skycore authors", "skycore authors", "2026")
        define(procedure, GObject.ParamFlags.READWRITE)
        return procedure


Gimp.main(SkyTools.__gtype__, sys.argv)

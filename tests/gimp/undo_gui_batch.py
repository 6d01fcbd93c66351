# Batch code for undo_gui.sh, run by the GIMP 3 GUI after it opened the photo (python-fu-eval
# has imported Gimp, Gegl, Gio, GLib and GObject: hence the noqa). For each output mode it
# records the image's state, runs plug-in-select-sky (then plug-in-replace-sky and
# plug-in-enhance-sky), records it
# again, asks the driver for one Ctrl+Z and records the state after it.
# ruff: noqa: F821
import hashlib
import json
import os
import time

W = os.environ["UNDO_WORK"]
TIMEOUT = float(os.environ["UNDO_TIMEOUT"])
image = Gimp.get_images()[0]
layer = image.get_layers()[0]
SKY_FILE = Gio.File.new_for_path(os.environ["UNDO_SKY"])


def state():
    selection = image.get_selection()
    width, height = image.get_width(), image.get_height()
    pixels = selection.get_buffer().get(
        Gegl.Rectangle.new(0, 0, width, height), 1.0, "Y u8", Gegl.AbyssPolicy.NONE
    )
    return {
        "layers": [item.get_name() for item in image.get_layers()],
        "channels": [item.get_name() for item in image.get_channels()],
        "layer_mask": layer.get_mask() is not None,
        "selection_sha256": hashlib.sha256(pixels).hexdigest(),
        "layer_sha256": hashlib.sha256(
            layer.get_buffer().get(
                Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height()),
                1.0,
                "R'G'B'A u8",
                Gegl.AbyssPolicy.NONE,
            )
        ).hexdigest(),
    }


def undo_once(number):
    open(os.path.join(W, f"undo-{number}"), "w").close()
    started = time.time()
    while not os.path.exists(os.path.join(W, f"undone-{number}")):
        if time.time() - started > TIMEOUT:
            raise RuntimeError("the driver did not press Ctrl+Z")
        time.sleep(0.1)


results = {}
image.select_rectangle(Gimp.ChannelOps.REPLACE, 40, 30, 200, 120)
for number, (name, procedure, options) in enumerate(
    [
        ("selection_add", "plug-in-select-sky", {"operation": "add", "feather": 3.0}),
        ("layer_mask", "plug-in-select-sky", {"output": "layer-mask", "shift-edge": 4}),
        ("channel", "plug-in-select-sky", {"output": "channel", "invert": True}),
        ("replace_sky", "plug-in-replace-sky", {"sky-file": SKY_FILE}),
        ("enhance_sky", "plug-in-enhance-sky", {"feather": 2.0}),
    ],
    start=1,
):
    before = state()
    proc = Gimp.get_pdb().lookup_procedure(procedure)
    config = proc.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for key, value in options.items():
        config.set_property(key, value)
    status = proc.run(config).index(0).value_nick
    after = state()
    undo_once(number)
    results[name] = {"status": status, "before": before, "after": after, "undone": state()}

with open(os.path.join(W, "results.json.part"), "w") as fh:
    json.dump(results, fh, indent=1)
os.rename(os.path.join(W, "results.json.part"), os.path.join(W, "results.json"))
quit_proc = Gimp.get_pdb().lookup_procedure("gimp-quit")
quit_config = quit_proc.create_config()
quit_config.set_property("force", True)
quit_proc.run(quit_config)

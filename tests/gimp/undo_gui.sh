#!/usr/bin/env bash
# Runs inside the GUI rootfs of gimp-gui-shot (through gimp3-env run): the GIMP 3 GUI on Xvfb
# with openbox, with undo_gui_batch.py as its batch command. Each time the batch code asks
# (a file "undo-N" in $UNDO_WORK), this presses Ctrl+Z once in the image window, the way a
# user undoes, and answers with "undone-N". GIMP's PDB has no undo procedure, so batch mode
# alone cannot check that one undo restores the image.
set -euo pipefail
W=$UNDO_WORK
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait' EXIT
Xvfb -displayfd 3 -noreset -nolisten tcp -screen 0 1280x800x24 3>"$W/display" >"$W/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$W/display" ] && break; sleep 0.1; done
export DISPLAY=":$(head -1 "$W/display")" GDK_BACKEND=x11 NO_AT_BRIDGE=1
openbox >"$W/openbox.log" 2>&1 &
pids+=($!)
# No welcome dialog: GIMP shows it whenever config-version is older than itself.
version=$(gimp-console-3.0 --version | awk '{print $NF}')
printf '%s\n' "(plug-in-path \"\${gimp_dir}/plug-ins:\${gimp_plug_in_dir}/plug-ins\")" \
  '(show-welcome-dialog no)' '(check-updates no)' '(color-profile-policy keep)' \
  "(config-version \"$version\")" >"$W/gimprc"
gimp-3.0 -n --no-splash --gimprc="$W/gimprc" --batch-interpreter=python-fu-eval \
  -b "exec(open('$UNDO_BATCH').read())" "$UNDO_IMAGE" >"$W/gimp.log" 2>&1 &
gimp=$!
pids+=($gimp)
answered=0
for _ in $(seq $((UNDO_TIMEOUT * 10))); do
  kill -0 "$gimp" 2>/dev/null || break
  next=$((answered + 1))
  if [ -e "$W/undo-$next" ]; then
    window=$(xdotool search --onlyvisible --name ' GIMP$' | head -1)
    xdotool windowactivate --sync "$window" key --clearmodifiers ctrl+z
    sleep 0.5
    touch "$W/undone-$next"
    answered=$next
  fi
  sleep 0.1
done
wait "$gimp" || true
[ -s "$W/results.json" ]

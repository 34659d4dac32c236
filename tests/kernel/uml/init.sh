#!/bin/bash
# PID 1 of the user-mode-linux guest that runs the real-kernel test suite.
#
# Stage "boot" (the kernel starts us with no arguments): the root is the host's "/" through hostfs, read-only.
# Build an overlay (lower: that root, upper: tmpfs) so the guest may write anywhere without touching the host,
# bind the UML modules, the shared results folder and the folders listed in <results>/share (the project)
# into it, then re-exec this script inside it as stage "run".
# Stage "run": load the IPsec modules in one modprobe, bring up lo, run <results>/command.sh with its output on
# /dev/tty1 (host: the suite's stdout) and /dev/tty2 (host: stderr), write its exit status to <results>/rc,
# then power off.  The results folder comes from the kernel command line: setkeytui.results=/host/path.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

note() { echo "setkey-tui-uml: $*" >/dev/console; }
now_ms() { local up; read -r up _ </proc/uptime; echo "${up/./}0"; }

halt_now() {
    sync
    if command -v busybox >/dev/null; then busybox poweroff -f; fi
    echo o >/proc/sysrq-trigger
    sleep 60
}

results_from_cmdline() {
    local word
    for word in $(cat /proc/cmdline); do
        case "$word" in setkeytui.results=*) echo "${word#setkeytui.results=}" ;; esac
    done
}

stage_boot() {
    mount -t proc proc /proc
    mount -t tmpfs -o mode=0755 tmpfs /run
    local results kver mods ov
    results=$(results_from_cmdline)
    kver=$(uname -r)
    mods=/usr/lib/uml/modules/$kver
    ov=/run/ov
    if [ -z "$results" ]; then note "no setkeytui.results= on the kernel command line"; halt_now; fi
    mkdir -p "$ov/upper" "$ov/work" "$ov/root"
    insmod "$mods/kernel/fs/overlayfs/overlay.ko" || { note "cannot load overlay.ko"; halt_now; }
    mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$ov/root" \
        || { note "cannot mount the overlay"; halt_now; }
    mkdir -p "$ov/root/lib/modules/$kver" "$ov/root/proc" "$ov/root/sys" "$ov/root/dev" "$ov/root/tmp"
    mount --bind "$mods" "$ov/root/lib/modules/$kver"
    mount -t proc proc "$ov/root/proc"
    mount -t sysfs sysfs "$ov/root/sys"
    mount -t devtmpfs devtmpfs "$ov/root/dev"
    mkdir -p "$ov/root/dev/pts" "$ov/root/dev/shm"
    mount -t devpts devpts "$ov/root/dev/pts"
    mount -t tmpfs tmpfs "$ov/root/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$ov/root/tmp"
    mkdir -p "$ov/root$results"
    mount -t hostfs -o "$results" hostfs "$ov/root$results" || { note "cannot mount $results"; halt_now; }
    local dir
    while IFS= read -r dir; do
        [ -n "$dir" ] || continue
        mkdir -p "$ov/root$dir"
        mount -t hostfs -o "$dir" hostfs "$ov/root$dir" || { note "cannot mount $dir"; halt_now; }
    done <"$results/share"
    now_ms >"$ov/root$results/t_init"
    exec chroot "$ov/root" /bin/bash "$results/init.sh" run "$results"
}

stage_run() {
    local results=$1 status
    # One modprobe for everything: on-demand module loading makes every later process start slower.
    local crypto
    # jitterentropy_rng is left out of the one load: its start-up health test measures timer jitter and fails
    # ("Bad address") when the host is busy. Nothing here needs it (drbg falls back to the kernel's own
    # entropy outside FIPS mode); it is loaded after, best effort. A module that did not load is tried again
    # (modprobe skips what is loaded), three times at most.
    crypto=$(cd "/lib/modules/$(uname -r)/kernel/crypto" && find . -name '*.ko' ! -name 'tcrypt.ko' \
        ! -name 'jitterentropy_rng.ko' -printf '%f\n' | sed 's/\.ko$//' | sort)
    local try rc
    for try in 1 2 3; do
        # shellcheck disable=SC2086
        modprobe -a ipv6 af_key esp4 esp6 ah4 ah6 ipcomp ipcomp6 xfrm_ipcomp xfrm_user xfrm4_tunnel xfrm6_tunnel \
            $crypto >>"$results/modprobe.log" 2>&1
        rc=$?
        [ "$rc" = 0 ] && break
        echo "modprobe try $try failed ($rc)" >>"$results/modprobe.log"
    done
    echo "$rc" >"$results/modprobe.rc"
    modprobe jitterentropy_rng >>"$results/modprobe.log" 2>&1 || echo "jitterentropy_rng not loaded (optional)" >>"$results/modprobe.log"
    echo >/proc/sys/kernel/modprobe
    ip link set lo up
    now_ms >"$results/t_ready"
    stty -F /dev/tty1 raw -echo 2>/dev/null
    stty -F /dev/tty2 raw -echo 2>/dev/null
    SETKEY_TUI_UML_RESULTS=$results /bin/bash "$results/command.sh" >/dev/tty1 2>/dev/tty2 </dev/null
    status=$?
    now_ms >"$results/t_done"
    echo "$status" >"$results/rc"
    halt_now
}

case "${1:-boot}" in
    run) stage_run "$2" ;;
    *) stage_boot ;;
esac

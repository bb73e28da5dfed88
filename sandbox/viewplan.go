package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// Operation kinds of ViewOp, as the flags name them.
const (
	OpBind    = "bind"
	OpROBind  = "ro-bind"
	OpDevBind = "dev-bind"
	OpTmpfs   = "tmpfs"
	OpDir     = "dir"
	OpSymlink = "symlink"
	OpOverlay = "overlay"
	OpHide    = "hide"
	// OpShareSocket passes one unix socket of the host through, read-only
	// (connect(2) works on a read-only mount).
	OpShareSocket = "share-socket"
	// The -try forms (bwrap's names) do nothing where the source (the
	// path, for hide-try) does not exist: for profiles that name
	// optional paths.
	OpBindTry    = "bind-try"
	OpROBindTry  = "ro-bind-try"
	OpDevBindTry = "dev-bind-try"
	OpHideTry    = "hide-try"
)

// tryForms are the operations the -try forms stand for.
var tryForms = map[string]string{
	OpBindTry: OpBind, OpROBindTry: OpROBind, OpDevBindTry: OpDevBind, OpHideTry: OpHide,
}

// errMissingTry is what viewMount returns for a -try operation whose
// source is missing: the operation is left out.
var errMissingTry = errors.New("missing source of a -try operation")

// ViewOp is one filesystem operation from the command line, with its
// argument as the user typed it. Operations apply in command-line order.
type ViewOp struct {
	Kind string
	Arg  string
}

// CwdMode says what happens to the caller's working directory.
type CwdMode string

const (
	CwdDefault  CwdMode = ""   // read-write with the host root, left out with --rootfs
	CwdReadOnly CwdMode = "ro" // bound read-only
	CwdNone     CwdMode = "none"
)

// maskedPaths and readonlyPaths are the OCI runtime defaults for /proc and
// /sys: kernel memory, keys and debug interfaces hidden, kernel knobs frozen.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// viewMount turns one operation into a view operation of the plan,
// checking its argument on the host first so that bad input fails before
// any process is started.
func viewMount(op ViewOp, ids sourceIDs) (plan.Mount, error) {
	if base, ok := tryForms[op.Kind]; ok {
		return viewMountTry(op, base, ids)
	}
	flag := "--" + op.Kind
	switch op.Kind {
	case OpBind, OpROBind, OpDevBind, OpShareSocket:
		src, dst, st, err := bindEnds(op, ids)
		if err != nil {
			return plan.Mount{}, err
		}
		m := plan.Mount{Kind: plan.Bind, Src: src, Dst: dst}
		switch op.Kind {
		case OpROBind:
			m.ReadOnly = true
		case OpDevBind:
			m.Dev = true
		case OpShareSocket:
			if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
				return plan.Mount{}, fmt.Errorf("%s %q: %s is not a unix socket", flag, op.Arg, src)
			}
			m.ReadOnly = true // connect(2) works on a read-only mount
		}
		return m, nil
	case OpTmpfs:
		dst, optstr, _ := strings.Cut(op.Arg, ":")
		dst, err := destination(flag, op.Arg, dst)
		if err != nil {
			return plan.Mount{}, err
		}
		m := plan.Mount{Kind: plan.Tmpfs, Dst: dst}
		if err := tmpfsOptions(&m, flag, op.Arg, optstr); err != nil {
			return plan.Mount{}, err
		}
		return m, nil
	case OpDir, OpHide:
		dst, err := destination(flag, op.Arg, op.Arg)
		if err != nil {
			return plan.Mount{}, err
		}
		if op.Kind == OpHide {
			return plan.Mount{Kind: plan.Hide, Dst: dst}, nil
		}
		return plan.Mount{Kind: plan.Dir, Dst: dst}, nil
	case OpSymlink:
		target, dst, ok := strings.Cut(op.Arg, ":")
		if !ok || target == "" {
			return plan.Mount{}, fmt.Errorf("%s %q: want TARGET:DST", flag, op.Arg)
		}
		dst, err := destination(flag, op.Arg, dst)
		if err != nil {
			return plan.Mount{}, err
		}
		return plan.Mount{Kind: plan.Symlink, Src: target, Dst: dst}, nil
	case OpOverlay:
		parts := strings.Split(op.Arg, ":")
		if len(parts) < 2 {
			return plan.Mount{}, fmt.Errorf("%s %q: want LOWER[:LOWER...]:DST", flag, op.Arg)
		}
		dst, err := destination(flag, op.Arg, parts[len(parts)-1])
		if err != nil {
			return plan.Mount{}, err
		}
		m := plan.Mount{Kind: plan.Overlay, Dst: dst}
		for _, l := range parts[:len(parts)-1] {
			abs, err := absSource(flag, op.Arg, l)
			if err != nil {
				return plan.Mount{}, err
			}
			lower, st, err := ids.resolve(flag, op.Arg, abs)
			if err != nil {
				return plan.Mount{}, err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return plan.Mount{}, fmt.Errorf("%s %q: lower layer %s is not a directory", flag, op.Arg, abs)
			}
			m.Lowers = append(m.Lowers, lower)
		}
		return m, nil
	}
	return plan.Mount{}, fmt.Errorf("unknown view operation %q", op.Kind)
}

// viewMountTry is viewMount for a -try form of the operation base: a
// missing source leaves a bind out (errMissingTry), a missing path makes a
// hide nothing; anything else is as base, in the -try flag's words.
func viewMountTry(op ViewOp, base string, ids sourceIDs) (plan.Mount, error) {
	// A bind's source is the host's; a hide's path is the view's, which
	// the view checks (Optional).
	if base != OpHide {
		src, _ := splitSrcDst(op.Arg)
		if abs, err := filepath.Abs(src); err == nil {
			if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
				return plan.Mount{}, errMissingTry
			}
		}
	}
	m, err := viewMount(ViewOp{Kind: base, Arg: op.Arg}, ids)
	if err != nil {
		return plan.Mount{}, fmt.Errorf("%s", strings.Replace(err.Error(), "--"+base+" ", "--"+op.Kind+" ", 1))
	}
	if base == OpHide {
		// Gone by the time the view is built: still nothing to hide.
		m.Optional = true
	}
	return m, nil
}

// bindEnds reads SRC[:DST] of a bind: the source resolved (see sourceIDs)
// with what it found, and the destination, by default where the source is
// as the user named it.
func bindEnds(op ViewOp, ids sourceIDs) (string, string, *unix.Stat_t, error) {
	flag := "--" + op.Kind
	src, dst := splitSrcDst(op.Arg)
	abs, err := absSource(flag, op.Arg, src)
	if err != nil {
		return "", "", nil, err
	}
	src, st, err := ids.resolve(flag, op.Arg, abs)
	if err != nil {
		return "", "", nil, err
	}
	if dst == "" {
		dst = abs
	}
	if dst, err = destination(flag, op.Arg, dst); err != nil {
		return "", "", nil, err
	}
	return src, dst, st, nil
}

// splitSrcDst splits SRC[:DST] at the last colon, unless the whole
// argument names an existing path (a source with a colon in its name).
func splitSrcDst(arg string) (string, string) {
	i := strings.LastIndex(arg, ":")
	if i < 0 {
		return arg, ""
	}
	if _, err := os.Lstat(arg); err == nil {
		return arg, ""
	}
	return arg[:i], arg[i+1:]
}

// absSource makes a source absolute (see sourceIDs for how it is opened).
func absSource(flag, arg, src string) (string, error) {
	if src == "" {
		return "", fmt.Errorf("%s %q: the source is empty", flag, arg)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", flag, arg, err)
	}
	return abs, nil
}

// destination checks a path inside the sandbox: absolute, and not in /proc,
// which is the sandbox's own and masked as OCI runtimes do.
func destination(flag, arg, dst string) (string, error) {
	if dst == "" {
		return "", fmt.Errorf("%s %q: the destination is empty", flag, arg)
	}
	if !filepath.IsAbs(dst) {
		return "", fmt.Errorf("%s %q: destination %s must be an absolute path inside the sandbox", flag, arg, dst)
	}
	dst = filepath.Clean(dst)
	if dst == "/" {
		return "", fmt.Errorf("%s %q: cannot mount over / (use --rootfs)", flag, arg)
	}
	if dst == "/proc" || strings.HasPrefix(dst, "/proc/") {
		return "", fmt.Errorf("%s %q: destination %s is under /proc, which belongs to the sandbox", flag, arg, dst)
	}
	return dst, nil
}

// tmpfsOptions checks size= and mode= of a --tmpfs and sets them on m (the
// mode is 0755 unless given).
func tmpfsOptions(m *plan.Mount, flag, arg, optstr string) error {
	m.Mode = "0755"
	if optstr == "" {
		return nil
	}
	for _, o := range strings.Split(optstr, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "size":
			if !validSize(v) {
				return fmt.Errorf("%s %q: bad size %q: use bytes with an optional k, m or g suffix, or a percentage like 50%%", flag, arg, v)
			}
			m.Size = v
		case "mode":
			if _, err := strconv.ParseUint(v, 8, 32); err != nil || len(v) > 4 {
				return fmt.Errorf("%s %q: bad mode %q: use octal, e.g. 1777", flag, arg, v)
			}
			m.Mode = v
		default:
			return fmt.Errorf("%s %q: unknown option %q: only size= and mode= are supported", flag, arg, o)
		}
	}
	return nil
}

func validSize(v string) bool {
	if v == "" {
		return false
	}
	num := v
	switch v[len(v)-1] {
	case 'k', 'K', 'm', 'M', 'g', 'G', '%':
		num = v[:len(v)-1]
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return err == nil && n > 0 && (v[len(v)-1] != '%' || n <= 100)
}

// Command sbx is a rootless-first sandbox: it runs a command in new
// namespaces, started by an ordinary user, with no setuid binary of its own
// and no daemon.
//
// Go 1.25+ reads cgroup files at start to size GOMAXPROCS; sbx starts the
// Go runtime twice per sandbox and needs none of that.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/sandbox"
	"github.com/sbx-sandbox/sbx/usermap"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	Run     runCmd     `cmd:"" help:"Run a command in a new sandbox."`
	Version versionCmd `cmd:"" help:"Print the version of sbx."`
}

type runCmd struct {
	UID      *uint32  `name:"uid" placeholder:"N" help:"Run as user id N inside; the caller's uid is mapped to it (default: the caller's own)."`
	GID      *uint32  `name:"gid" placeholder:"N" help:"Run as group id N inside; the caller's gid is mapped to it (default: the caller's own)."`
	Map      string   `name:"map" default:"auto" enum:"auto,single" placeholder:"auto|single" help:"Id maps: auto maps 0..65535 from /etc/subuid and /etc/subgid via newuidmap/newgidmap when possible, else single; single maps only the caller's ids (setgroups denied)."`
	Hostname string   `name:"hostname" placeholder:"NAME" default:"sbx" help:"Hostname inside."`
	Env      []string `name:"env" short:"e" sep:"none" placeholder:"KEY=VAL" help:"Set an environment variable (KEY alone copies the caller's value). Repeatable."`
	ClearEnv bool     `name:"clearenv" help:"Start from an empty environment instead of the caller's."`
	Workdir  string   `name:"workdir" short:"w" placeholder:"DIR" help:"Working directory inside (default: the current directory, or / with --rootfs)."`

	Rootfs   string     `name:"rootfs" group:"view" placeholder:"DIR" help:"Use DIR as / instead of the read-only host root."`
	RootfsRW bool       `name:"rootfs-rw" group:"view" help:"Make the --rootfs writable."`
	Bind     []viewFlag `name:"bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-write at DST (default: the same path)."`
	ROBind   []viewFlag `name:"ro-bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-only, submounts included."`
	DevBind  []viewFlag `name:"dev-bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-write with device nodes usable."`
	Tmpfs    []viewFlag `name:"tmpfs" group:"view" sep:"none" placeholder:"DST[:size=64m,mode=1777]" help:"Mount a fresh tmpfs at DST."`
	Dir      []viewFlag `name:"dir" group:"view" sep:"none" placeholder:"DST" help:"Create directory DST (and its parents) where the view is writable."`
	Symlink  []viewFlag `name:"symlink" group:"view" sep:"none" placeholder:"TARGET:DST" help:"Create symlink DST pointing to TARGET."`
	Overlay  []viewFlag `name:"overlay" group:"view" sep:"none" placeholder:"LOWER[:LOWER...]:DST" help:"Overlay the LOWER directories (last on top) at DST; writes go to a throwaway layer."`
	Hide     []viewFlag `name:"hide" group:"view" sep:"none" placeholder:"PATH" help:"Cover PATH with an empty, unreadable file or directory."`
	NoCwd    bool       `name:"no-cwd" group:"view" help:"Do not bind the working directory."`
	ROCwd    bool       `name:"ro-cwd" group:"view" help:"Bind the working directory read-only (also with --rootfs)."`
	Command  []string   `arg:"" optional:"" passthrough:"" name:"command" help:"The command and its arguments, after --."`
}

func (r *runCmd) Run() error {
	args := r.Command
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		// kong hands an unknown flag over as the start of the command.
		return fmt.Errorf("unknown flag %s (see sbx run --help; put the command after --)", args[0])
	}
	if r.NoCwd && r.ROCwd {
		return errors.New("--no-cwd and --ro-cwd exclude each other: pick one")
	}
	cwdMode := sandbox.CwdDefault
	if r.NoCwd {
		cwdMode = sandbox.CwdNone
	} else if r.ROCwd {
		cwdMode = sandbox.CwdReadOnly
	}
	cfg, err := sandbox.NewConfig(sandbox.Options{
		Args:     args,
		UID:      r.UID,
		GID:      r.GID,
		MapMode:  usermap.Mode(r.Map),
		Hostname: r.Hostname,
		Env:      r.Env,
		ClearEnv: r.ClearEnv,
		Workdir:  r.Workdir,
		Rootfs:   r.Rootfs,
		RootfsRW: r.RootfsRW,
		View:     recordedView,
		Cwd:      cwdMode,
	})
	if err != nil {
		return err
	}
	code, err := sandbox.Run(cfg)
	if err != nil {
		return &sandbox.ExitError{Code: code, Err: err}
	}
	os.Exit(code)
	return nil
}

// viewFlag is a filesystem flag of sbx run. kong decodes flags in
// command-line order; each one records itself in recordedView so that the
// operations keep that order across different flags, as bwrap's do.
type viewFlag struct{}

var recordedView []sandbox.ViewOp

func (viewFlag) Decode(ctx *kong.DecodeContext) error {
	var arg string
	if err := ctx.Scan.PopValueInto(ctx.Value.Name, &arg); err != nil {
		return err
	}
	recordedView = append(recordedView, sandbox.ViewOp{Kind: ctx.Value.Name, Arg: arg})
	return nil
}

type versionCmd struct{}

func (versionCmd) Run() error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Printf("sbx %s\n", v)
	return nil
}

func main() {
	if nsexec.IsInit() {
		sandbox.Init()
		return
	}
	if os.Getenv(nsexec.InitPipeEnv) != "" {
		fail(sandbox.ExitSbxFailed, errors.New(nsexec.InitPipeEnv+" is internal to sbx: unset it"))
	}
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sbx"),
		kong.Description("A rootless sandbox: run a command in new namespaces as an ordinary user.\n\nExample: sbx run -- sh"),
		kong.Exit(func(code int) { os.Exit(code) }),
		kong.ExplicitGroups([]kong.Group{{
			Key:   "view",
			Title: "Filesystem view",
			Description: "These apply in command-line order, after the defaults (/, /proc, /dev, /tmp, the working directory), " +
				"so a later one covers an earlier one: --tmpfs /home --bind ~/src:/home/me/src.",
		}}),
	)
	if err != nil {
		fail(sandbox.ExitSbxFailed, err)
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		fail(sandbox.ExitSbxFailed, fmt.Errorf("%v (see sbx --help)", err))
	}
	if err := kctx.Run(); err != nil {
		code := sandbox.ExitSbxFailed
		var ee *sandbox.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		fail(code, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
	os.Exit(code)
}

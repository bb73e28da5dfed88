package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/oci"
	"github.com/sbx-sandbox/sbx/sandbox"
	"github.com/sbx-sandbox/sbx/state"
)

// sbx speaks the OCI runtime command line (runc's) on the same binary, for
// podman, containerd and CRI-O. Its commands have a grammar of their own
// (ociCLI), picked before parsing by isOCICall: global flags before the
// command (--root, --log, ... which clients like containerd always send),
// a command only the OCI runtime has (create, start, delete, spec,
// features, list), or a shared name in its OCI shape (run with --bundle;
// exec with --process; ps with --format or an id; state and kill of a
// container id the runtime's root holds, or of a name no sandbox has).

// ociCLI is the OCI runtime's command line.
type ociCLI struct {
	Root          string `name:"root" placeholder:"DIR" help:"Directory of the containers' records (default: $XDG_RUNTIME_DIR/sbx-oci, or /run/sbx-oci for root)."`
	Log           string `name:"log" placeholder:"FILE" help:"Also write errors to FILE."`
	LogFormat     string `name:"log-format" default:"text" enum:"text,json" help:"Format of --log: text or json."`
	SystemdCgroup bool   `name:"systemd-cgroup" help:"Make cgroups through systemd."`
	Debug         bool   `name:"debug" help:"Accepted for runc's sake (no effect)."`

	Create   ociCreateCmd   `cmd:"" help:"Create a container from a bundle; its process waits for start."`
	Start    ociStartCmd    `cmd:"" help:"Start the process of a created container."`
	State    ociStateCmd    `cmd:"" help:"Print the state of a container (OCI state JSON)."`
	Kill     ociKillCmd     `cmd:"" help:"Send a signal to a container's process (default TERM)."`
	Delete   ociDeleteCmd   `cmd:"" help:"Delete a container (--force: kill it first)."`
	Run      ociRunCmd      `cmd:"" help:"Create and start a container; wait for it unless --detach."`
	Exec     ociExecCmd     `cmd:"" help:"Run a process (--process FILE) in a running container."`
	List     ociListCmd     `cmd:"" help:"List containers."`
	Ps       ociPsCmd       `cmd:"" help:"List the host pids of a container's processes."`
	Spec     ociSpecCmd     `cmd:"" help:"Write a config.json for a container."`
	Features ociFeaturesCmd `cmd:"" help:"Print what this runtime supports (runtime-spec features JSON)."`
}

// ociOnlyCommands are the commands only the OCI grammar has.
var ociOnlyCommands = []string{"create", "start", "delete", "spec", "features", "list"}

// ociGlobalFlags are runc's global flags, with a value or not.
var ociGlobalFlags = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--systemd-cgroup": false, "--debug": false,
}

// isOCICall reports whether args are an OCI runtime call.
func isOCICall(args []string) bool {
	if len(args) == 0 {
		return false
	}
	name, _, _ := strings.Cut(args[0], "=")
	if _, ok := ociGlobalFlags[name]; ok {
		return true
	}
	cmd, rest := args[0], args[1:]
	if slices.Contains(ociOnlyCommands, cmd) {
		return true
	}
	before := rest
	if i := slices.Index(rest, "--"); i >= 0 {
		before = rest[:i]
	}
	has := func(flags ...string) bool {
		return slices.ContainsFunc(before, func(a string) bool {
			n, _, _ := strings.Cut(a, "=")
			return slices.Contains(flags, n)
		})
	}
	switch cmd {
	case "run":
		// Only with runc's own flags: sbx run takes a command, and a
		// config.json where it runs must never turn it into another
		// command (an untrusted checkout could hold one).
		return has("--bundle", "-b", "--pid-file", "--console-socket")
	case "exec":
		return has("--process", "-p", "--pid-file", "--console-socket")
	case "ps":
		return has("--format", "-f") || slices.ContainsFunc(rest, func(a string) bool { return !strings.HasPrefix(a, "-") })
	case "state", "kill":
		// A container of the OCI root, or a name that is no sandbox of
		// sbx run either (the OCI error says so in the words podman
		// looks for).
		for i, a := range rest {
			if i > 0 && cmd == "kill" && (rest[i-1] == "-s" || rest[i-1] == "--signal") {
				continue // the value of sbx kill's -s
			}
			if !strings.HasPrefix(a, "-") {
				_, err := os.Stat(filepath.Join(sandbox.DefaultOCIRoot(), a))
				if err == nil {
					return true
				}
				_, err = os.Stat(filepath.Join(state.RootPath(), a))
				return err != nil
			}
		}
	}
	return false
}

// runOCI parses and runs an OCI runtime call and exits: 0, the
// container's exit code (run, exec), or 125 with one line on stderr (and in
// --log).
func runOCI(args []string) {
	var c ociCLI
	parser, err := kong.New(&c, kong.Name("sbx"),
		kong.Description("sbx as an OCI runtime (runc's command line), for podman, containerd and CRI-O."),
		kong.Exit(func(code int) { os.Exit(code) }))
	if err != nil {
		fail(sandbox.ExitSbxFailed, err)
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		ociFail(&c, sandbox.ExitSbxFailed, fmt.Errorf("%v (see sbx --root DIR --help)", err))
	}
	rt, err := sandbox.NewOCIRuntime(c.Root, c.SystemdCgroup)
	if err != nil {
		ociFail(&c, sandbox.ExitSbxFailed, err)
	}
	code := 0
	err = kctx.Run(rt, &code)
	if err != nil {
		code = sandbox.ExitSbxFailed
		var ee *sandbox.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		ociFail(&c, code, err)
	}
	os.Exit(code)
}

// ociFail reports err on stderr and in --log, and exits with code.
func ociFail(c *ociCLI, code int, err error) {
	if c.Log != "" {
		if f, ferr := os.OpenFile(c.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); ferr == nil {
			now := time.Now().UTC().Format(time.RFC3339Nano)
			if c.LogFormat == "json" {
				line, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": now})
				fmt.Fprintf(f, "%s\n", line)
			} else {
				fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, err.Error())
			}
			f.Close()
		}
	}
	fail(code, err)
}

type ociCreateCmd struct {
	Bundle        string `name:"bundle" short:"b" placeholder:"DIR" help:"The bundle: config.json and the root it names (default: the current directory)."`
	PidFile       string `name:"pid-file" placeholder:"FILE" help:"Write the host pid of the container's init to FILE."`
	ConsoleSocket string `name:"console-socket" placeholder:"SOCK" help:"Pass the container's terminal (process.terminal) to the unix socket SOCK."`
	PreserveFDs   int    `name:"preserve-fds" placeholder:"N" help:"Pass descriptors 3 .. 3+N-1 on to the process."`
	NoPivot       bool   `name:"no-pivot" help:"Accepted for runc's sake (sbx always pivots)."`
	NoNewKeyring  bool   `name:"no-new-keyring" help:"Accepted for runc's sake."`
	ID            string `arg:"" name:"id" help:"The container's id."`
}

func (c *ociCreateCmd) options() sandbox.CreateOptions {
	return sandbox.CreateOptions{ID: c.ID, Bundle: c.Bundle, PidFile: c.PidFile, ConsoleSocket: c.ConsoleSocket, PreserveFDs: c.PreserveFDs}
}

func (c *ociCreateCmd) Run(rt *sandbox.OCIRuntime) error { return rt.Create(c.options()) }

type ociStartCmd struct {
	ID string `arg:"" name:"id"`
}

func (c *ociStartCmd) Run(rt *sandbox.OCIRuntime) error { return rt.Start(c.ID) }

type ociStateCmd struct {
	ID string `arg:"" name:"id"`
}

func (c *ociStateCmd) Run(rt *sandbox.OCIRuntime) error {
	s, err := rt.State(c.ID)
	if err != nil {
		return err
	}
	return printJSON(s)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type ociKillCmd struct {
	All    bool   `name:"all" short:"a" help:"Accepted for runc's sake (the signal reaches the container's init, which passes it on; KILL ends every process)."`
	ID     string `arg:"" name:"id"`
	Signal string `arg:"" optional:"" name:"signal" default:"TERM"`
}

func (c *ociKillCmd) Run(rt *sandbox.OCIRuntime) error {
	sig, err := sandbox.ParseSignal(c.Signal)
	if err != nil {
		return err
	}
	return rt.Kill(c.ID, sig)
}

type ociDeleteCmd struct {
	Force bool   `name:"force" short:"f" help:"Kill a running container first; no error for one that does not exist."`
	ID    string `arg:"" name:"id"`
}

func (c *ociDeleteCmd) Run(rt *sandbox.OCIRuntime) error { return rt.Delete(c.ID, c.Force) }

type ociRunCmd struct {
	ociCreateCmd `embed:""`
	Detach       bool `name:"detach" short:"d" help:"Return once the process runs."`
	Keep         bool `name:"keep" help:"Accepted for runc's sake."`
	NoSubreaper  bool `name:"no-subreaper" help:"Accepted for runc's sake."`
}

func (c *ociRunCmd) Run(rt *sandbox.OCIRuntime, code *int) error {
	var err error
	*code, err = rt.Run(c.options(), c.Detach)
	return err
}

type ociExecCmd struct {
	Process       string `name:"process" short:"p" required:"" placeholder:"FILE" help:"The process to run, as the spec's process JSON."`
	Detach        bool   `name:"detach" short:"d" help:"Return once the process runs; its pid goes to --pid-file."`
	PidFile       string `name:"pid-file" placeholder:"FILE" help:"Write the host pid of the process to FILE."`
	TTY           bool   `name:"tty" short:"t" help:"Accepted for runc's sake (process.terminal decides)."`
	ConsoleSocket string `name:"console-socket" placeholder:"SOCK" help:"Pass the process's terminal to the unix socket SOCK."`
	PreserveFDs   int    `name:"preserve-fds" placeholder:"N" help:"Pass descriptors 3 .. 3+N-1 on to the process."`
	ID            string `arg:"" name:"id"`
}

func (c *ociExecCmd) Run(rt *sandbox.OCIRuntime, code *int) error {
	var err error
	*code, err = rt.Exec(sandbox.OCIExecOptions{ID: c.ID, ProcessFile: c.Process, PidFile: c.PidFile,
		ConsoleSocket: c.ConsoleSocket, Detach: c.Detach, PreserveFDs: c.PreserveFDs})
	return err
}

type ociListCmd struct {
	Format string `name:"format" short:"f" default:"table" enum:"table,json"`
	Quiet  bool   `name:"quiet" short:"q" help:"Only the ids."`
}

func (c *ociListCmd) Run(rt *sandbox.OCIRuntime) error {
	list, err := rt.List()
	if err != nil {
		return err
	}
	switch {
	case c.Quiet:
		for _, s := range list {
			fmt.Println(s.ID)
		}
	case c.Format == "json":
		return json.NewEncoder(os.Stdout).Encode(list)
	default:
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339))
		}
		return w.Flush()
	}
	return nil
}

type ociPsCmd struct {
	Format string   `name:"format" short:"f" default:"table" enum:"table,json"`
	ID     string   `arg:"" name:"id"`
	Args   []string `arg:"" optional:"" passthrough:"" help:"Accepted for runc's sake (ps options)."`
}

func (c *ociPsCmd) Run(rt *sandbox.OCIRuntime) error {
	pids, err := rt.Pids(c.ID)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		return json.NewEncoder(os.Stdout).Encode(pids)
	}
	fmt.Println("PID")
	for _, p := range pids {
		fmt.Println(p)
	}
	return nil
}

type ociSpecCmd struct {
	Bundle   string `name:"bundle" short:"b" placeholder:"DIR" help:"Where to write config.json (default: the current directory)."`
	Rootless bool   `name:"rootless" help:"A config for an ordinary user: a user namespace mapping the caller's ids to root."`
}

func (c *ociSpecCmd) Run() error {
	return oci.WriteSpec(c.Bundle, c.Rootless)
}

type ociFeaturesCmd struct{}

func (ociFeaturesCmd) Run() error { return printJSON(oci.Features()) }

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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/desktop"
	"github.com/sbx-sandbox/sbx/hostcheck"
	"github.com/sbx-sandbox/sbx/network"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/sandbox"
	"github.com/sbx-sandbox/sbx/sandbox/inside"
	"github.com/sbx-sandbox/sbx/stamp"
	"github.com/sbx-sandbox/sbx/state"
	"github.com/sbx-sandbox/sbx/usermap"
)

type cli struct {
	Run     runCmd     `cmd:"" help:"Run a command in a new sandbox."`
	Exec    execCmd    `cmd:"" help:"Run a command in a running sandbox."`
	Ps      psCmd      `cmd:"" help:"List sandboxes."`
	Stats   statsCmd   `cmd:"" help:"Print what running sandboxes use: memory, pids, CPU time, OOM kills."`
	State   stateCmd   `cmd:"" help:"Print the state of a sandbox as JSON."`
	Kill    killCmd    `cmd:"" help:"Send a signal to sandboxes (default TERM)."`
	Rm      rmCmd      `cmd:"" help:"Remove exited sandboxes (-f: kill running ones first; --all: every exited one)."`
	Logs    logsCmd    `cmd:"" help:"Print the log of a detached sandbox (-f: follow it until the sandbox ends)."`
	Wait    waitCmd    `cmd:"" help:"Wait for detached sandboxes to end and print their exit codes."`
	Check   checkCmd   `cmd:"" help:"Check whether sbx can run here, and name the fix for what is missing."`
	Profile profileCmd `cmd:"" help:"Show the profiles of sbx run --profile: sbx profile list, sbx profile show NAME."`
	Version versionCmd `cmd:"" help:"Print the version of sbx, its commit, its Go version and the kernel facilities found."`

	Help       helpCmd       `cmd:"" help:"Print the help of sbx, or of a command (sbx help run)."`
	Completion completionCmd `cmd:"" help:"Print a shell completion script: sbx completion bash|zsh|fish."`
	Man        manCmd        `cmd:"" name:"__man" hidden:"" help:"Print sbx's man page (roff), made from the same model as --help."`

	VersionFlag versionFlag `name:"version" short:"V" help:"Print the version of sbx (as sbx version) and exit."`
}

type runCmd struct {
	UID      *uint32  `name:"uid" placeholder:"N" help:"Run as user id N inside; the caller's uid is mapped to it (default: the caller's own), but in a --rootfs tree of the caller's first subordinate id, where N is the tree's own."`
	GID      *uint32  `name:"gid" placeholder:"N" help:"Run as group id N inside; the caller's gid is mapped to it (default: the caller's own), but in a --rootfs tree of the caller's first subordinate id, where N is the tree's own."`
	Map      *string  `name:"map" placeholder:"auto|single" help:"Id maps: auto maps 0..65535 from /etc/subuid and /etc/subgid via newuidmap/newgidmap (an error without them); single maps only the caller's ids (setgroups denied). Default: auto where it can, else single."`
	Profiles []string `name:"profile" sep:"none" placeholder:"NAME" help:"Start from the flags of profile NAME (see sbx profile list; a path with a /): those given here come after them and win. Repeatable."`
	Hostname string   `name:"hostname" placeholder:"NAME" default:"sbx" help:"Hostname inside."`
	Env      []string `name:"env" short:"e" sep:"none" placeholder:"KEY=VAL" help:"Set an environment variable (KEY alone copies the caller's value). Repeatable."`
	ClearEnv bool     `name:"clearenv" help:"Start from an empty environment instead of the caller's."`
	Workdir  string   `name:"workdir" short:"w" placeholder:"DIR" help:"Working directory inside (default: the current directory, or / with --rootfs)."`
	Name     string   `name:"name" placeholder:"NAME" help:"Name of the sandbox, for sbx exec, ps, kill and rm (default: generated)."`
	Detach   bool     `name:"detach" short:"d" help:"Start the sandbox, print its name and return; its output goes to a log in its state directory (sbx logs)."`
	Replace  bool     `name:"replace" help:"Remove the sandbox of the same --name first, if there is one (killing it if it runs)."`
	TTY      bool     `name:"tty" short:"t" help:"Give the command a new terminal (raw mode, window size kept in sync, job control); stdin must be a terminal."`
	LogMax   string   `name:"log-size-max" placeholder:"SIZE" help:"Cap of a detached sandbox's log (default 10m; k, m, g suffixes; -1: no cap); past it, the log starts again."`

	Rootfs      string     `name:"rootfs" group:"view" placeholder:"DIR" help:"Use DIR as / instead of the read-only host root."`
	RootfsRW    bool       `name:"rootfs-rw" group:"view" help:"Make the --rootfs writable."`
	OverlayRoot bool       `name:"overlay-root" group:"view" help:"Make the --rootfs writable through a throwaway overlay layer: the tree stays as it is."`
	Bind        []viewFlag `name:"bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-write at DST (default: the same path)."`
	ROBind      []viewFlag `name:"ro-bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-only, submounts included."`
	DevBind     []viewFlag `name:"dev-bind" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"Bind SRC read-write with device nodes usable."`
	Tmpfs       []viewFlag `name:"tmpfs" group:"view" sep:"none" placeholder:"DST[:size=64m,mode=1777]" help:"Mount a fresh tmpfs at DST."`
	Dir         []viewFlag `name:"dir" group:"view" sep:"none" placeholder:"DST" help:"Create directory DST (and its parents) where the view is writable."`
	Symlink     []viewFlag `name:"symlink" group:"view" sep:"none" placeholder:"TARGET:DST" help:"Create symlink DST pointing to TARGET."`
	Overlay     []viewFlag `name:"overlay" group:"view" sep:"none" placeholder:"LOWER[:LOWER...]:DST" help:"Overlay the LOWER directories (last on top) at DST; writes go to a throwaway layer."`
	Hide        []viewFlag `name:"hide" group:"view" sep:"none" placeholder:"PATH" help:"Cover PATH with an empty, unreadable file or directory."`
	BindTry     []viewFlag `name:"bind-try" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"--bind, or nothing where SRC does not exist."`
	ROBindTry   []viewFlag `name:"ro-bind-try" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"--ro-bind, or nothing where SRC does not exist."`
	DevBindTry  []viewFlag `name:"dev-bind-try" group:"view" sep:"none" placeholder:"SRC[:DST]" help:"--dev-bind, or nothing where SRC does not exist."`
	HideTry     []viewFlag `name:"hide-try" group:"view" sep:"none" placeholder:"PATH" help:"--hide, or nothing where PATH does not exist in the view."`
	Shares      []string   `name:"share" group:"desktop" sep:"none" placeholder:"NAME[=VALUE]" help:"Lend the sandbox a part of your desktop session: wayland, x11, pulseaudio, pipewire, gpu, home[=DIR], session-bus[=POLICY] (a filtering proxy; POLICY: talk:NAME,own:NAME,see:NAME, default talk:org.freedesktop.portal.*); see README, Desktop programs. Repeatable."`
	Share       []viewFlag `name:"share-socket" group:"view" sep:"none" placeholder:"PATH[:DST]" help:"Pass the host's unix socket PATH through at DST (default: the same path); the places where services listen are covered otherwise."`
	NoCwd       bool       `name:"no-cwd" group:"view" help:"Do not bind the working directory."`
	ROCwd       bool       `name:"ro-cwd" group:"view" help:"Bind the working directory read-only (also with --rootfs)."`
	GitWritable bool       `name:"git-writable" group:"view" help:"Leave .git/config, .git/hooks (and the gitdirs of worktrees and submodules) of a writable directory writable."`

	CapAdd        []string `name:"cap-add" group:"security" sep:"none" placeholder:"CAP" help:"Add a capability (NET_RAW or CAP_NET_RAW, or ALL); a non-root command holds it too. Repeatable."`
	CapDrop       []string `name:"cap-drop" group:"security" sep:"none" placeholder:"CAP" help:"Drop a capability from the default set (uid 0 only has one), or ALL. Repeatable."`
	Seccomp       string   `name:"seccomp" group:"security" placeholder:"unconfined|FILE" help:"Seccomp: the built-in profile (default), unconfined, or an OCI LinuxSeccomp JSON file."`
	Landlock      bool     `name:"landlock" group:"security" help:"Also restrict file access with Landlock to the view's mounts and their modes (best effort by kernel)."`
	AllowUserns   bool     `name:"allow-userns" group:"security" help:"Let the command create user namespaces (and, in them, other namespaces); off by default."`
	DisableUserns bool     `name:"disable-userns" group:"security" help:"No effect: new user namespaces are refused by default (kept for bwrap's flag of that name; see --allow-userns)."`
	SeccompAllow  []string `name:"seccomp-allow" group:"security" sep:"," placeholder:"NAME,..." help:"Allow calls the built-in seccomp profile refuses: io_uring (io_uring_setup, _enter, _register), vsock (AF_VSOCK sockets)."`
	Ulimit        []string `name:"ulimit" group:"security" sep:"none" placeholder:"NAME=SOFT[:HARD]" help:"Set a resource limit (nofile, nproc, core, ...; a number or unlimited; sizes such as as=512m take k, m, g suffixes). Repeatable."`
	Sysctl        []string `name:"sysctl" group:"security" sep:"none" placeholder:"KEY=VALUE" help:"Set a sysctl of the sandbox's own network namespace (net.*, e.g. net.ipv4.ping_group_range=\"0 2147483647\"). Repeatable."`
	PreserveFDs   int      `name:"preserve-fds" group:"security" placeholder:"N" help:"Pass descriptors 3 .. 3+N-1 on to the command (all others are closed)."`

	Net     string   `name:"net" group:"network" placeholder:"MODE" help:"Network: none (default: only lo), host (the host's), pasta[:OPTS] or slirp4netns[:OPTS] (a user-mode network through that helper: NAT, the host's loopback out of reach), user[:OPTS] (pasta, else slirp4netns), sandbox:NAME (the network of running sandbox NAME). OPTS: allow_host_loopback=true (the host's 127.0.0.1 as 10.0.2.2), mtu=N, enable_ipv6=true, comma-separated."`
	Publish []string `name:"publish" short:"p" group:"network" sep:"none" placeholder:"[HOSTIP:]HOSTPORT:PORT[/tcp|udp]" help:"Forward a host port to the sandbox's PORT (default: every host address, tcp); implies --net user. Repeatable."`
	DNS     []string `name:"dns" group:"network" sep:"none" placeholder:"IP" help:"Name server of the sandbox's /etc/resolv.conf (default with a user-mode network: the helper's forwarder, 10.0.2.3). Repeatable."`
	AddHost []string `name:"add-host" group:"network" sep:"none" placeholder:"NAME:IP" help:"Add NAME IP to the sandbox's /etc/hosts. Repeatable."`

	CgroupManager     string    `name:"cgroup-manager" group:"resources" default:"auto" placeholder:"auto|systemd|cgroupfs|none" help:"Who makes the sandbox's cgroup: a delegated cgroup sbx runs in (cgroupfs), a scope of your systemd user manager (systemd), whichever is there (auto), or no cgroup (none)."`
	Memory            string    `name:"memory" short:"m" group:"resources" placeholder:"SIZE" help:"Memory limit (memory.max; k, m, g suffixes): past it the kernel kills processes of the sandbox."`
	MemorySwap        signedArg `name:"memory-swap" group:"resources" placeholder:"SIZE" help:"Memory and swap together (memory.swap.max is SIZE minus --memory); -1: no limit on swap."`
	MemoryReservation string    `name:"memory-reservation" group:"resources" placeholder:"SIZE" help:"Memory the sandbox keeps under pressure (memory.low)."`
	PidsLimit         signedArg `name:"pids-limit" group:"resources" placeholder:"N" help:"Most tasks (processes and threads) the sandbox may have at once (pids.max); -1: no limit."`
	CPUs              string    `name:"cpus" group:"resources" placeholder:"N.N" help:"CPU time, in CPUs (cpu.max): 0.5 is half of one CPU."`
	CPUWeight         string    `name:"cpu-weight" group:"resources" placeholder:"N" help:"Share of CPU under contention, 1 to 10000 (cpu.weight; default 100)."`
	CpusetCpus        string    `name:"cpuset-cpus" group:"resources" placeholder:"LIST" help:"CPUs the sandbox may run on, such as 0-3,6 (cpuset.cpus)."`
	IOWeight          string    `name:"io-weight" group:"resources" placeholder:"N" help:"Share of disk I/O under contention, 1 to 10000 (io.weight; default 100)."`
	Command           []string  `arg:"" optional:"" passthrough:"" name:"command" help:"The command and its arguments, after --."`
}

func (r *runCmd) Run() error {
	sandbox.CatchSignals()
	if len(r.Profiles) > 0 {
		// expandProfiles takes them out of a command line that starts
		// with run: this one did not.
		return fmt.Errorf("--profile %s: put --profile right after sbx run", r.Profiles[0])
	}
	args, err := commandArgs(r.Command)
	if err != nil {
		return err
	}
	logMax, err := sandbox.ParseLogMax(r.LogMax, r.Detach)
	if err != nil {
		return err
	}
	if r.NoCwd && r.ROCwd {
		return errors.New("--no-cwd and --ro-cwd exclude each other: pick one")
	}
	manager, err := cgroupv2.ParseManager(r.CgroupManager)
	if err != nil {
		return err
	}
	resources, err := cgroupv2.ParseFlags(cgroupv2.Flags{
		Memory: r.Memory, MemorySwap: string(r.MemorySwap), MemoryReservation: r.MemoryReservation,
		PidsLimit: string(r.PidsLimit), CPUs: r.CPUs, CPUWeight: r.CPUWeight, CpusetCpus: r.CpusetCpus,
		IOWeight: r.IOWeight,
	})
	if err != nil {
		return err
	}
	netw, err := network.Parse(network.Options{Mode: r.Net, Publish: r.Publish, DNS: r.DNS, Hosts: r.AddHost})
	if err != nil {
		return err
	}
	shares := make([]desktop.Share, 0, len(r.Shares))
	for _, v := range r.Shares {
		sh, err := desktop.Parse(v)
		if err != nil {
			return err
		}
		shares = append(shares, sh)
	}
	// --map not given is usermap.Default, which falls back silently.
	mapMode := usermap.Default
	if r.Map != nil {
		if mapMode, err = usermap.ParseMode(*r.Map); err != nil {
			return err
		}
	}
	cwdMode := sandbox.CwdDefault
	if r.NoCwd {
		cwdMode = sandbox.CwdNone
	} else if r.ROCwd {
		cwdMode = sandbox.CwdReadOnly
	}
	cfg := sandbox.Config{
		Args:          args,
		UID:           r.UID,
		GID:           r.GID,
		MapMode:       mapMode,
		Hostname:      r.Hostname,
		Env:           r.Env,
		ClearEnv:      r.ClearEnv,
		Workdir:       r.Workdir,
		Rootfs:        r.Rootfs,
		RootfsRW:      r.RootfsRW,
		OverlayRoot:   r.OverlayRoot,
		View:          recordedView,
		Cwd:           cwdMode,
		GitWritable:   r.GitWritable,
		TTY:           r.TTY,
		Resources:     resources,
		CgroupManager: manager,
		Network:       netw,
		Sysctls:       r.Sysctl,
		Shares:        shares,
		Name:          r.Name,
		Hardening: sandbox.Hardening{
			CapAdd:       r.CapAdd,
			CapDrop:      r.CapDrop,
			Seccomp:      r.Seccomp,
			Landlock:     r.Landlock,
			AllowUserns:  r.AllowUserns,
			SeccompAllow: r.SeccompAllow,
			Ulimits:      r.Ulimit,
			PreserveFDs:  r.PreserveFDs,
		},
	}
	name := r.Name
	if r.Replace {
		if name == "" {
			return errors.New("--replace needs --name: it replaces the sandbox of that name")
		}
		// Checked before anything is removed: a bad name is refused.
		if err := state.CheckName(name); err != nil {
			return err
		}
		if err := sandbox.Replace(name); err != nil {
			return err
		}
	}
	if name == "" {
		name = sandbox.NewName()
	}
	code, err := sandbox.Run(cfg, sandbox.RunOptions{Name: name, Detach: r.Detach, LogMax: logMax, Unnamed: r.Name == ""})
	if err == nil && r.Detach {
		fmt.Println(name)
	}
	return exitWith(code, err)
}

// exitWith ends sbx with the command's exit code, or hands the error (and
// the code to use) to main, which prints it.
func exitWith(code int, err error) error {
	if err != nil {
		return &sandbox.ExitError{Code: code, Err: err}
	}
	stamp.Mark("parent.exit")
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

// signedArg is a flag value that may be a negative number ("-1" for no
// limit, as podman takes it), which kong would otherwise take for a flag.
type signedArg string

func (a *signedArg) Decode(ctx *kong.DecodeContext) error {
	if t := ctx.Scan.Peek(); t.Type == kong.UntypedToken && len(t.String()) > 1 && t.String()[0] == '-' &&
		t.String()[1] >= '0' && t.String()[1] <= '9' {
		ctx.Scan.Pop()
		*a = signedArg(t.String())
		return nil
	}
	var s string
	if err := ctx.Scan.PopValueInto(ctx.Value.Name, &s); err != nil {
		return err
	}
	*a = signedArg(s)
	return nil
}

type execCmd struct {
	Env      []string `name:"env" short:"e" sep:"none" placeholder:"KEY=VAL" help:"Set an environment variable over the sandbox's. Repeatable."`
	Workdir  string   `name:"workdir" short:"w" placeholder:"DIR" help:"Working directory inside (default: the sandbox's)."`
	UID      *uint32  `name:"uid" placeholder:"N" help:"Run as user id N inside (default: the sandbox's)."`
	GID      *uint32  `name:"gid" placeholder:"N" help:"Run as group id N inside (default: the group of --uid's entry in the sandbox's /etc/passwd, else the sandbox's)."`
	TTY      bool     `name:"tty" short:"t" help:"Give the command a new terminal; stdin must be a terminal."`
	Preserve int      `name:"preserve-fds" placeholder:"N" help:"Pass descriptors 3 .. 3+N-1 on to the command."`
	Name     string   `arg:"" name:"name" help:"The sandbox."`
	Command  []string `arg:"" optional:"" passthrough:"" name:"command" help:"The command and its arguments, after --."`
}

func (e *execCmd) Run() error {
	sandbox.CatchSignals()
	args, err := commandArgs(e.Command)
	if err != nil {
		return err
	}
	code, err := sandbox.Exec(sandbox.ExecOptions{
		Name: e.Name, Args: args, Env: e.Env, Workdir: e.Workdir, UID: e.UID, GID: e.GID, TTY: e.TTY,
		PreserveFDs: e.Preserve,
	})
	return exitWith(code, err)
}

// commandArgs strips the leading "--" kong keeps, and refuses an unknown
// flag that kong handed over as the start of the command.
func commandArgs(cmd []string) ([]string, error) {
	if len(cmd) > 0 && cmd[0] == "--" {
		return cmd[1:], nil
	}
	if len(cmd) > 0 && strings.HasPrefix(cmd[0], "-") {
		return nil, fmt.Errorf("unknown flag %s (see --help; put the command after --)", cmd[0])
	}
	return cmd, nil
}

type psCmd struct {
	JSON bool `name:"json" help:"Print a JSON array."`
}

func (p *psCmd) Run() error {
	list, err := state.List()
	if err != nil {
		return err
	}
	// What sbx could not clean up when it was killed goes now.
	list = sandbox.CleanStale(list)
	usage := make([]*cgroupv2.Usage, len(list))
	for i, s := range list {
		if cg := sandbox.CgroupOf(s); cg != nil && s.Status == state.Running {
			if u, err := cg.Usage(); err == nil {
				usage[i] = &u
			}
		}
	}
	if p.JSON {
		type entry struct {
			Name     string   `json:"name"`
			Pid      int      `json:"pid"`
			Status   string   `json:"status"`
			ExitCode *int     `json:"exit_code,omitempty"`
			Created  string   `json:"created"`
			Command  []string `json:"command"`
			Memory   *int64   `json:"memory_bytes,omitempty"`
			Pids     *int64   `json:"pids,omitempty"`
			Network  string   `json:"network,omitempty"`
			Ports    []string `json:"ports,omitempty"`
		}
		out := []entry{}
		for i, s := range list {
			e := entry{Name: s.Name, Pid: s.Pid, Status: s.Status, ExitCode: s.ExitCode, Created: s.Created.Format(time.RFC3339), Command: s.Command()}
			e.Network, e.Ports = netMode(s), netPorts(s)
			if u := usage[i]; u != nil {
				e.Memory, e.Pids = cgroupv2.Known(u.Memory), cgroupv2.Known(u.Pids)
			}
			out = append(out, e)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPID\tSTATUS\tCREATED\tMEM\tPIDS\tNET\tPORTS\tCOMMAND")
	for i, s := range list {
		mem, pids := "-", "-"
		if u := usage[i]; u != nil {
			mem, pids = humanBytes(u.Memory), count(u.Pids)
		}
		ports := strings.Join(netPorts(s), ",")
		if ports == "" {
			ports = "-"
		}
		status := s.Status
		if s.ExitCode != nil {
			status = fmt.Sprintf("%s (%d)", status, *s.ExitCode)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Pid, status, s.Created.Local().Format(time.DateTime), mem, pids,
			netMode(s), ports, strings.Join(s.Command(), " "))
	}
	return w.Flush()
}

// netMode is a sandbox's network as --net names it ("" for a record
// without a plan).
func netMode(s *state.State) string {
	if s.Plan == nil {
		return ""
	}
	n := s.Plan.Network
	switch n.Mode {
	case "":
		return "none"
	case "sandbox":
		return "sandbox:" + n.Sandbox
	}
	return n.Mode
}

// netPorts are a sandbox's published ports, as podman shows them.
func netPorts(s *state.State) []string {
	if s.Plan == nil {
		return nil
	}
	var ports []string
	for _, p := range s.Plan.Network.Ports {
		ports = append(ports, p.String())
	}
	return ports
}

// humanBytes renders a size for a table (1.5MiB), "-" for unknown.
func humanBytes(n int64) string {
	switch {
	case n < 0:
		return "-"
	case n < 1<<10:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
}

// count renders a number for a table, "-" for unknown.
func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

type statsCmd struct {
	JSON bool   `name:"json" help:"Print a JSON array."`
	Name string `arg:"" optional:"" name:"name" help:"The sandbox (default: every running one)."`
}

func (c *statsCmd) Run() error {
	var list []*state.State
	if c.Name != "" {
		s, err := state.Load(c.Name)
		if err != nil {
			return err
		}
		if s.Status != state.Running {
			return fmt.Errorf("sandbox %s is not running", c.Name)
		}
		if s.Cgroup == "" {
			return fmt.Errorf("sandbox %s has no cgroup, so sbx cannot tell what it uses (it started where sbx could make none: run `sbx check`)", c.Name)
		}
		list = []*state.State{s}
	} else {
		all, err := state.List()
		if err != nil {
			return err
		}
		for _, s := range sandbox.CleanStale(all) {
			if s.Status == state.Running {
				list = append(list, s)
			}
		}
	}
	type entry struct {
		Name   string `json:"name"`
		Cgroup string `json:"cgroup,omitempty"`
		*cgroupv2.UsageReport
	}
	out := []entry{}
	for _, s := range list {
		e := entry{Name: s.Name}
		if cg := sandbox.CgroupOf(s); cg != nil {
			if u, err := cg.Usage(); err == nil {
				e.Cgroup = strings.TrimPrefix(cg.Dir, cgroupv2.Mount)
				e.UsageReport = u.Report()
			}
		}
		out = append(out, e)
	}
	if c.JSON {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	val := func(p *int64, f func(int64) string) string {
		if p == nil {
			return "-"
		}
		return f(*p)
	}
	limit := func(p *int64, f func(int64) string) string {
		if p == nil {
			return "max"
		}
		return f(*p)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCPU\tMEM\tMEM PEAK\tMEM LIMIT\tPIDS\tPIDS LIMIT\tOOM KILLS")
	for _, e := range out {
		if e.UsageReport == nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\t-\t-\n", e.Name)
			continue
		}
		cpu := val(e.CPU, func(us int64) string { return (time.Duration(us) * time.Microsecond).Round(time.Millisecond).String() })
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, cpu, val(e.Memory, humanBytes), val(e.MemoryPeak, humanBytes),
			limit(e.MemoryLimit, humanBytes), val(e.Pids, count), limit(e.PidsLimit, count), val(e.OOMKills, count))
	}
	return w.Flush()
}

type stateCmd struct {
	Name string `arg:"" name:"name" help:"The sandbox."`
}

func (c *stateCmd) Run() error {
	s, err := sandbox.Lookup(c.Name)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(sandbox.Describe(s), "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

type killCmd struct {
	Signal string   `name:"signal" short:"s" placeholder:"SIGNAL" help:"Signal name or number (default TERM)."`
	Args   []string `arg:"" name:"name" help:"The sandboxes; without -s, a last argument that is a signal and no sandbox's name is the signal (sbx kill NAME KILL)."`
}

func (k *killCmd) Run() error {
	names, sigArg := killArgs(k.Args, k.Signal)
	sig, err := sandbox.ParseSignal(sigArg)
	if err != nil {
		return err
	}
	return sandbox.Kill(names, sig)
}

// killArgs splits sbx kill's arguments into names and the signal: -s, or
// else (the form of older sbx, NAME SIGNAL) a last argument of several
// that names no sandbox, or else TERM.
func killArgs(args []string, flag string) ([]string, string) {
	if flag != "" {
		return args, flag
	}
	if n := len(args); n >= 2 {
		if _, err := state.Load(args[n-1]); err != nil {
			return args[:n-1], args[n-1]
		}
	}
	return args, "TERM"
}

type rmCmd struct {
	Force bool     `name:"force" short:"f" help:"Kill running sandboxes first."`
	All   bool     `name:"all" short:"a" help:"Remove every exited sandbox (with -f, every sandbox)."`
	Names []string `arg:"" optional:"" name:"name" help:"The sandboxes."`
}

func (r *rmCmd) Run() error {
	switch {
	case r.All && len(r.Names) > 0:
		return fmt.Errorf("sbx rm --all takes no names (got %s): give names, or --all", r.Names[0])
	case r.All:
		_, err := sandbox.RemoveAll(r.Force)
		return err
	case len(r.Names) == 0:
		return errors.New("sbx rm needs a sandbox's name, or --all for every exited one")
	}
	return sandbox.Remove(r.Names, r.Force)
}

type logsCmd struct {
	Follow bool   `name:"follow" short:"f" help:"Go on printing what the sandbox writes until it ends."`
	Name   string `arg:"" name:"name" help:"The sandbox (run with -d)."`
}

func (l *logsCmd) Run() error {
	return sandbox.Logs(l.Name, l.Follow, os.Stdout)
}

type waitCmd struct {
	Names []string `arg:"" name:"name" help:"The sandboxes (run with -d)."`
}

// Run prints one exit code per name, in order, as each sandbox ends, and
// exits with the last one's, as the shell's wait does; 125 if one is not
// known.
func (c *waitCmd) Run() error {
	list := make([]*state.State, len(c.Names))
	for i, name := range c.Names {
		st, err := sandbox.CheckWait(name)
		if err != nil {
			return err
		}
		list[i] = st
	}
	code := 0
	var failed error
	for _, st := range list {
		ec, err := sandbox.Wait(st)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
			failed = err
			continue
		}
		fmt.Println(ec)
		code = ec
	}
	if failed != nil {
		os.Exit(sandbox.ExitSbxFailed)
	}
	os.Exit(code)
	return nil
}

type checkCmd struct {
	JSON bool `name:"json" help:"Print a JSON array of facts."`
}

func (c *checkCmd) Run() error {
	facts := hostcheck.Default().Run()
	if c.JSON {
		b, err := json.MarshalIndent(facts, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	} else {
		for _, f := range facts {
			line := fmt.Sprintf("%-4s  %s: %s", f.Status, f.Name, f.Detail)
			if f.Fix != "" {
				line += " (fix: " + f.Fix + ")"
			}
			fmt.Println(line)
		}
	}
	if !hostcheck.Usable(facts) {
		os.Exit(1)
	}
	return nil
}

// The main goroutine stays on the main thread: the sandbox's pid 1 is the
// child of the thread that starts it, and an attached sbx hands it over to
// the monitor by an exec on that same thread (see sandbox.handOver).
func init() { runtime.LockOSThread() }

func main() {
	switch {
	case nsexec.IsInit():
		inside.Init()
		return
	case nsexec.IsExecInit():
		inside.ExecInit()
		return
	}
	stamp.Open()
	stamp.Mark("parent.main")
	if os.Getenv(nsexec.InitPipeEnv) != "" {
		fail(sandbox.ExitSbxFailed, errors.New(nsexec.InitPipeEnv+" is internal to sbx: unset it"))
	}
	if isOCICall(os.Args[1:]) {
		runOCI(os.Args[1:])
	}
	args, err := expandProfiles(os.Args[1:])
	if err != nil {
		fail(sandbox.ExitSbxFailed, err)
	}
	kctx, err := parse(args)
	if err != nil {
		fail(sandbox.ExitSbxFailed, fmt.Errorf("%v (see sbx --help)", err))
	}
	stamp.Mark("parent.parsed")
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

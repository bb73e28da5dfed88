package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/hostcheck"
)

// version and commit are set at build time with -ldflags "-X
// main.version=... -X main.commit=..." (the Makefile passes `git describe
// --tags --always --dirty` and the commit's hash); without them, Go's own
// record of the build says what it can.
var (
	version = "dev"
	commit  = ""
)

type versionCmd struct{}

func (versionCmd) Run() error {
	printVersion(os.Stdout)
	return nil
}

// versionFlag is sbx --version and -V: sbx version's output.
type versionFlag bool

// BeforeReset runs when the flag is given, before anything else is
// checked, as kong's own --help.
func (versionFlag) BeforeReset(app *kong.Kong) error {
	printVersion(app.Stdout)
	app.Exit(0)
	return nil
}

// buildInfo is what sbx knows of its own build.
type buildInfo struct {
	Version  string // the Makefile's, the module's, or the commit's
	Revision string // the VCS commit, "" if unknown
	Time     string // the commit's time
	Modified bool   // the tree had changes not committed
	Go       string // the Go version and platform
}

// readBuildInfo gathers the version: the one the Makefile set; else the
// module's version (go install module@version); else the commit Go
// recorded (go build in a checkout); else "dev".
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if commit != "" {
		b.Revision, b.Modified = commit, strings.HasSuffix(version, "-dirty")
	}
	if b.Version != "dev" {
		return b
	}
	switch {
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		b.Version = bi.Main.Version
	case b.Revision != "":
		b.Version = b.Revision[:min(12, len(b.Revision))]
		if b.Modified {
			b.Version += "-dirty"
		}
	}
	return b
}

// printVersion writes sbx version's lines: the version first, alone on
// its line after "sbx ", then the commit, the Go version and what the
// kernel has of the facilities sbx uses (one cheap call each).
func printVersion(w io.Writer) {
	b := readBuildInfo()
	fmt.Fprintf(w, "sbx %s\n", b.Version)
	if b.Revision != "" {
		commit := b.Revision
		if b.Modified {
			commit += " (modified)"
		}
		if b.Time != "" {
			commit += ", " + b.Time
		}
		fmt.Fprintf(w, "commit:  %s\n", commit)
	}
	fmt.Fprintf(w, "go:      %s\n", b.Go)
	have, lack := hostcheck.KernelFacilities()
	kernel := "Linux " + hostcheck.KernelRelease() + ", has " + strings.Join(have, ", ")
	if len(have) == 0 {
		kernel = "Linux " + hostcheck.KernelRelease() + ", has none of them"
	}
	if len(lack) > 0 {
		kernel += "; lacks " + strings.Join(lack, ", ") + " (see sbx check)"
	}
	fmt.Fprintf(w, "kernel:  %s\n", kernel)
}

// helpCmd is sbx help [CMD...]: what sbx [CMD...] --help prints.
type helpCmd struct {
	Command []string `arg:"" optional:"" name:"command" help:"The command to describe (default: sbx itself)."`
}

func (h *helpCmd) Run() error {
	for _, a := range h.Command {
		if strings.HasPrefix(a, "-") {
			return fmt.Errorf("sbx help %s: name a command, such as sbx help run", a)
		}
	}
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		return err
	}
	// --help prints and exits 0; an unknown command is an error first.
	_, err = parser.Parse(append(append([]string{}, h.Command...), "--help"))
	if err != nil {
		return fmt.Errorf("sbx help %s: %w", strings.Join(h.Command, " "), err)
	}
	return nil
}

// fullModel is kong's model of the whole command line, for the commands
// that describe it (completion, the man page).
func fullModel() (*kong.Application, error) {
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		return nil, err
	}
	return parser.Model, nil
}

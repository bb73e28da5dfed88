package test

// The test binary doubles as a toolbox for what a shell cannot do from
// inside a sandbox (raw syscalls, ioctls): run with SBX_TEST_TOOL=NAME it
// runs tools[NAME] with its arguments instead of the tests, and exits with
// its return value. Tests run it inside sandboxes through toolArgs.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const toolEnv = "SBX_TEST_TOOL"

// tools are the subcommands of the toolbox. A tool prints what it saw, one
// fact per line, and returns its exit code. Files register theirs in init.
var tools = map[string]func(args []string) int{}

func runTool(name string, args []string) int {
	tool, ok := tools[name]
	if !ok {
		var names []string
		for n := range tools {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "unknown tool %q (have: %s)\n", name, strings.Join(names, ", "))
		return 2
	}
	return tool(args)
}

// toolArgs returns the sbx arguments that run a tool inside the sandbox:
// "--env SBX_TEST_TOOL=NAME -- /path/to/test-binary ARGS...". Put sbx's
// own flags before it.
func toolArgs(t *testing.T, name string, args ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"--env", toolEnv + "=" + name, "--", self}, args...)
}

// errnoName is "ok" for no error, else the errno's name (EPERM, ...).
func errnoName(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return fmt.Sprintf("errno%d", int(errno))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

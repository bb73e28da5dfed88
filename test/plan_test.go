package test

import (
	"strings"
	"testing"
)

// TestPlanLargeCommandLine: the plan carries the command line and the
// environment to every stage; one near the kernel's limit (here 1.2 MB of
// arguments and 0.12 MB of environment) starts as it would without sbx.
func TestPlanLargeCommandLine(t *testing.T) {
	t.Parallel()
	arg := strings.Repeat("x", 100000)
	args := []string{"run", "-e", "BIG=" + strings.Repeat("y", 120000), "--", "sh", "-c", `echo $# ${#1} ${#BIG}`, "sh"}
	for range 12 {
		args = append(args, arg)
	}
	r := sbx(t, args...)
	if out := r.ok(t); out != "12 100000 120000\n" {
		t.Errorf("want 12 arguments of 100000 bytes and BIG of 120000, got %q", out)
	}
}

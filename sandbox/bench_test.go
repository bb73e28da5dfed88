package sandbox

import "testing"

// BenchmarkNewPlan turns the configuration of a typical sbx run (a few
// binds, a tmpfs, an env setting) into a plan with the built-in seccomp
// profile compiled, and encodes it: the Go work of sbx run before any
// process starts.
func BenchmarkNewPlan(b *testing.B) {
	dir := b.TempDir()
	o := Config{
		Args: []string{"make", "test"},
		Env:  []string{"CI=1"},
		View: []ViewOp{{Kind: OpTmpfs, Arg: "/home"}, {Kind: OpROBind, Arg: "/usr:/opt/usr"}, {Kind: OpBind, Arg: dir}},
	}
	for b.Loop() {
		p, _, err := NewPlan(o)
		if err != nil {
			b.Fatal(err)
		}
		p.Encode()
	}
}

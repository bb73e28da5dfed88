package sandbox

import "testing"

// BenchmarkNewConfig turns the options of a typical sbx run (a few binds, a
// tmpfs, an env setting) into a configuration with the built-in seccomp
// profile compiled: the Go work of sbx run before any process starts.
func BenchmarkNewConfig(b *testing.B) {
	dir := b.TempDir()
	o := Options{
		Args: []string{"make", "test"},
		Env:  []string{"CI=1"},
		View: []ViewOp{{Kind: OpTmpfs, Arg: "/home"}, {Kind: OpROBind, Arg: "/usr:/opt/usr"}, {Kind: OpBind, Arg: dir}},
	}
	for b.Loop() {
		if _, err := NewConfig(o); err != nil {
			b.Fatal(err)
		}
	}
}

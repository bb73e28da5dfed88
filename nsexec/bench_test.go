package nsexec

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkBootstrapEncode encodes the bootstrap of a sandbox with a
// multi-range map: the frame every sbx run sends to stage 0.
func BenchmarkBootstrapEncode(b *testing.B) {
	boot := Bootstrap{
		CloneFlags:   0x7e020000,
		UIDMappings:  []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 1001, HostID: 101000, Size: 64535}},
		GIDMappings:  []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 1001, HostID: 101000, Size: 64535}},
		UIDMapHelper: "/usr/bin/newuidmap", GIDMapHelper: "/usr/bin/newgidmap",
		Pdeathsig: 9, CloneMethod: 1,
	}
	for b.Loop() {
		if _, err := boot.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

package test

// sbx's fallbacks for kernel facilities that some long-term kernels lack,
// forced on this kernel: the "older-kernel" tool runs a command under a
// seccomp filter that answers as a kernel without them would, so that both
// paths stay tested wherever the suite runs (Debian 12's 6.1 in the VM
// takes the MFD_EXEC one for real).

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func init() { tools["older-kernel"] = olderKernelTool }

// olderKernelTool runs CMD... under a seccomp filter that answers clone3
// with ENOSYS (as before Linux 5.3) and memfd_create with MFD_EXEC with
// EINVAL (as before 6.3).
func olderKernelTool(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: older-kernel CMD [ARGS...]")
		return 2
	}
	if runtime.GOARCH != "amd64" {
		fmt.Fprintln(os.Stderr, "older-kernel: the filter is written for x86-64")
		return 2
	}
	const (
		auditArchX8664 = 0xc000003e
		offNr          = 0
		offArch        = 4
		offArg1        = 16 + 8 // low half of args[1] on a little-endian machine
	)
	errno := func(e unix.Errno) bpf.Instruction {
		return bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(e)}
	}
	allow := bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArchX8664, SkipFalse: 6},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE3, SkipFalse: 1},
		errno(unix.ENOSYS),
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_MEMFD_CREATE, SkipFalse: 2},
		bpf.LoadAbsolute{Off: offArg1, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.MFD_EXEC, SkipTrue: 1},
		allow,
		errno(unix.EINVAL),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "older-kernel:", err)
		return 2
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "older-kernel: no_new_privs:", err)
		return 2
	}
	// All threads: the Go runtime may exec from any.
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		fmt.Fprintln(os.Stderr, "older-kernel: seccomp:", e)
		return 2
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "older-kernel:", err)
		return 127
	}
	err = unix.Exec(path, args, os.Environ())
	fmt.Fprintln(os.Stderr, "older-kernel: exec:", err)
	return 126
}

// TestKernelFallbacks starts sandboxes as a kernel without clone3 (stages
// use clone) and without MFD_EXEC (the memfd copy of the binary is made
// without it) would have sbx do, both clone methods. no_new_privs, which a
// filter needs, keeps newuidmap from being setuid: single maps.
func TestKernelFallbacks(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The filter works: the tool itself sees it.
	probe := exec.Command(self, "sh", "-c", "true")
	probe.Env = append(os.Environ(), toolEnv+"=older-kernel")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("older-kernel: %v\n%s", err, out)
	}
	for _, clone := range []string{"bind", "memfd"} {
		t.Run(clone, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			env := append(h.env, toolEnv+"=older-kernel", "SBX_CLONE="+clone)
			args := []string{sbxBinary(t), "run", "--map", "single", "--name", sandboxName("old"), "--", "sh", "-c", "echo started"}
			cmd := exec.Command(self, args...)
			cmd.Env, cmd.Dir = env, h.dir
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "started" {
				t.Errorf("SBX_CLONE=%s under a kernel without clone3 and MFD_EXEC: %v\n%s", clone, err, out)
			}
		})
	}
}

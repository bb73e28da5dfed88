package seccomp

/*
// Static: see nsexec. libseccomp's static archive comes with Debian's
// libseccomp-dev.
#cgo LDFLAGS: -static
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter: an array of struct sock_filter in native
// byte order, ready for Install.
type Program []byte

// Len is the number of BPF instructions.
func (p Program) Len() int { return len(p) / 8 }

// Compile turns a profile into a BPF program for the native architecture.
// Syscall names libseccomp does not know are skipped, as runc does, so that
// one profile serves kernels old and new. With builtin set (sbx's own
// profile), guards go in front of libseccomp's program: personality(2) may
// only set the safe personas, syscalls newer than libseccomp's table get
// ENOSYS, and 32-bit or x32 entry points get EPERM. A profile whose default
// action is not "allow" gets the ENOSYS guard too, so that the C library
// falls back from a syscall the profile could not know.
func Compile(p *specs.LinuxSeccomp, builtin bool) (Program, error) {
	defaultAction, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(defaultAction)
	if err != nil {
		return nil, fmt.Errorf("create filter: %w", err)
	}
	defer filter.Release()
	// Other architectures (i386 through int 0x80, x32) are refused unless
	// the profile lists them.
	if err := filter.SetBadArchAction(libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))); err != nil {
		return nil, fmt.Errorf("set bad-architecture action: %w", err)
	}
	for _, a := range p.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(a))
		if err != nil {
			return nil, fmt.Errorf("architecture %q: %w", a, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("add architecture %q: %w", a, err)
		}
	}
	for i, rule := range p.Syscalls {
		if err := addRule(filter, rule); err != nil {
			return nil, fmt.Errorf("syscalls[%d] (%v): %w", i, rule.Names, err)
		}
	}
	prog, err := export(filter)
	if err != nil {
		return nil, err
	}
	if !builtin && p.DefaultAction == specs.ActAllow {
		return prog, nil
	}
	guard, err := guards(builtin)
	if err != nil {
		return nil, err
	}
	return append(guard, prog...), nil
}

func addRule(filter *libseccomp.ScmpFilter, rule specs.LinuxSyscall) error {
	act, err := action(rule.Action, rule.ErrnoRet)
	if err != nil {
		return err
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(rule.Args))
	for _, a := range rule.Args {
		op, err := compareOp(a.Op)
		if err != nil {
			return err
		}
		values := []uint64{a.Value}
		if a.Op == specs.OpMaskedEqual {
			values = append(values, a.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, values...)
		if err != nil {
			return fmt.Errorf("argument %d: %w", a.Index, err)
		}
		conds = append(conds, c)
	}
	for _, name := range rule.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue // unknown to this libseccomp: nothing to filter
		}
		if len(conds) == 0 {
			err = filter.AddRule(call, act)
		} else {
			err = filter.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// export returns libseccomp's BPF program. It goes through a memfd:
// libseccomp 2.5 can only write it to a descriptor.
func export(filter *libseccomp.ScmpFilter) (Program, error) {
	fd, err := unix.MemfdCreate("sbx-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("export filter: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sbx-seccomp")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, fmt.Errorf("export filter: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("export filter: %w", err)
	}
	prog := make([]byte, st.Size())
	if _, err := f.ReadAt(prog, 0); err != nil {
		return nil, fmt.Errorf("export filter: read back: %w", err)
	}
	if len(prog)%8 != 0 || len(prog) == 0 {
		return nil, fmt.Errorf("export filter: libseccomp wrote %d bytes, not whole instructions", len(prog))
	}
	return prog, nil
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// offArg0 is the offset of the low 32 bits of the first argument.
var offArg0 uint32 = func() uint32 {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 16
	}
	return 20
}()

// x32SyscallBit marks the x32 ABI's syscall numbers on x86_64.
const x32SyscallBit = 0x40000000

// safePersonas are the personality(2) arguments allowed by the built-in
// profile, as in Docker's: PER_LINUX, PER_LINUX32, UNAME26 with either, and
// 0xffffffff, which only queries. ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC and
// friends weaken the sandboxed process's own exploit mitigations.
var safePersonas = []uint32{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

var (
	maxKnownOnce sync.Once
	maxKnown     uint32
	nativeArch   uint32
	personality  uint32
	guardErr     error
)

// tableFacts reads, once, what the guards need from libseccomp: the native
// audit architecture, the number of personality(2), and the highest syscall
// number its table knows.
func tableFacts() error {
	maxKnownOnce.Do(func() {
		arch, ok := auditArch[hostArch()]
		if !ok {
			guardErr = errors.New("no seccomp guard for this architecture")
			return
		}
		nativeArch = arch
		call, err := libseccomp.GetSyscallFromName("personality")
		if err != nil {
			guardErr = fmt.Errorf("look up personality: %w", err)
			return
		}
		personality = uint32(call)
		maxKnown = highestKnown()
		if maxKnown == 0 {
			guardErr = errors.New("libseccomp knows no syscall of this architecture")
		}
	})
	return guardErr
}

// recentSyscalls are syscalls of the last kernel releases, newest first.
// Since Linux 5.1 every architecture numbers new syscalls alike (424 on).
var recentSyscalls = []string{
	"lsm_list_modules", "listmount", "statmount", "futex_requeue", "map_shadow_stack",
	"fchmodat2", "cachestat", "set_mempolicy_home_node", "futex_waitv", "memfd_secret",
	"landlock_restrict_self", "openat2", "clone3", "pidfd_send_signal",
}

// highestKnown returns the highest syscall number in libseccomp's table for
// this architecture: from the newest syscall it can name, on upwards until
// a run of numbers it does not know. Asking for every number from the top
// down would look each up in its table hundreds of times.
func highestKnown() uint32 {
	var high int
	for _, name := range recentSyscalls {
		if call, err := libseccomp.GetSyscallFromName(name); err == nil && call > 0 {
			high = int(call)
			break
		}
	}
	for n, misses := high+1, 0; misses < 32; n++ {
		if _, err := libseccomp.ScmpSyscall(n).GetName(); err == nil {
			high, misses = n, 0
		} else {
			misses++
		}
	}
	return uint32(high)
}

// guards assembles the instructions that go in front of libseccomp's
// program. Falling through (or jumping to "next") reaches that program.
func guards(builtin bool) (Program, error) {
	if err := tableFacts(); err != nil {
		return nil, err
	}
	errnoRet := func(e unix.Errno) bpf.Instruction {
		return bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(e)}
	}
	var insns []bpf.Instruction
	if builtin {
		// Layout: [0] arch, [1] foreign arch: to prog, [2] nr, [3] x32: to
		// prog, [4] newer than the table: to ENOSYS, [5] not personality: to
		// prog, [6] arg0, [7..7+n) a safe persona: to prog, then EPERM,
		// ENOSYS, and prog (libseccomp's program) right after.
		n := len(safePersonas)
		eperm := 7 + n
		enosys := eperm + 1
		prog := enosys + 1
		skip := func(from, to int) uint8 { return uint8(to - from - 1) }
		insns = []bpf.Instruction{
			bpf.LoadAbsolute{Off: offArch, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: nativeArch, SkipFalse: skip(1, prog)},
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipTrue: skip(3, prog)},
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: maxKnown, SkipTrue: skip(4, enosys)},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: personality, SkipFalse: skip(5, prog)},
			bpf.LoadAbsolute{Off: offArg0, Size: 4},
		}
		for i, v := range safePersonas {
			insns = append(insns, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipTrue: skip(7+i, prog)})
		}
		insns = append(insns, errnoRet(unix.EPERM), errnoRet(unix.ENOSYS))
	} else {
		insns = []bpf.Instruction{
			bpf.LoadAbsolute{Off: offArch, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: nativeArch, SkipFalse: 4},
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipTrue: 2},
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: maxKnown, SkipFalse: 1},
			errnoRet(unix.ENOSYS),
		}
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp guards: %w", err)
	}
	out := make(Program, 0, 8*len(raw))
	for _, r := range raw {
		var b [8]byte
		binary.NativeEndian.PutUint16(b[0:2], r.Op)
		b[2], b[3] = r.Jt, r.Jf
		binary.NativeEndian.PutUint32(b[4:8], r.K)
		out = append(out, b[:]...)
	}
	return out, nil
}

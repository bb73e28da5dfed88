package seccomp

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// action turns an OCI action into libseccomp's.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	errno := int16(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 4095 {
			return 0, fmt.Errorf("errnoRet %d is not an errno", *errnoRet)
		}
		errno = int16(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(errno), nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s is not supported by sbx (no seccomp agent)", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

func compareOp(op specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual, nil
	case specs.OpLessThan:
		return libseccomp.CompareLess, nil
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual, nil
	case specs.OpEqualTo:
		return libseccomp.CompareEqual, nil
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, nil
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater, nil
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, nil
	}
	return 0, fmt.Errorf("unknown operator %q", op)
}

// archName turns "SCMP_ARCH_X86_64" into libseccomp's "x86_64".
func archName(a specs.Arch) string {
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}

// hostArch is the Go name of the architecture sbx was built for.
func hostArch() string { return runtime.GOARCH }

// auditArch holds the AUDIT_ARCH_* value of the architectures sbx builds
// guards for.
var auditArch = map[string]uint32{
	"amd64":   unix.AUDIT_ARCH_X86_64,
	"arm64":   unix.AUDIT_ARCH_AARCH64,
	"riscv64": unix.AUDIT_ARCH_RISCV64,
	"ppc64le": unix.AUDIT_ARCH_PPC64LE,
	"s390x":   unix.AUDIT_ARCH_S390X,
}

#include "textflag.h"

// func int80(nr uintptr) uintptr
//
// A system call with no arguments through the i386 entry point, int 0x80,
// from this 64-bit process: the kernel (with CONFIG_IA32_EMULATION) runs
// the 32-bit syscall nr, and seccomp sees it with AUDIT_ARCH_I386. Used by
// the escape tests only.
TEXT ·int80(SB), NOSPLIT, $0-16
	MOVQ	nr+0(FP), AX
	INT	$0x80
	MOVQ	AX, ret+8(FP)
	RET

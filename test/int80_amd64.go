package test

// haveInt80 says whether int80 exists: x86-64 has a 32-bit entry point.
const haveInt80 = true

// int80 makes the 32-bit system call nr (no arguments) through int 0x80 and
// returns the raw value of EAX: a result, or a negated errno. See
// int80_amd64.s; the escape tests use it.
func int80(nr uintptr) uintptr

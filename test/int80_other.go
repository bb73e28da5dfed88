//go:build !amd64

package test

// haveInt80 says whether int80 exists: only x86-64 has int 0x80.
const haveInt80 = false

// int80 is not available on this architecture.
func int80(nr uintptr) uintptr { panic("int 0x80 exists on x86-64 only") }

package hostcheck

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// facility is a kernel interface sbx uses that is newer than some of the
// kernels people run, with what sbx does without it.
type facility struct {
	name    string
	since   string // the Linux version that has it
	missing string // what sbx does without it; "" when it cannot work
	present func() bool
}

// facilities are probed with one cheap call each, where a call tells: one
// with arguments the kernel refuses answers ENOSYS (or EINVAL for a new
// flag) when it is not there. setns on a pidfd is read off the version.
var facilities = []facility{
	{"clone3", "5.3", "clone is used instead", func() bool {
		_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
		return e != unix.ENOSYS
	}},
	{"openat2", "5.6", "", func() bool {
		_, err := unix.Openat2(-1, "", &unix.OpenHow{})
		return err != unix.ENOSYS
	}},
	{"pidfd setns", "5.8", "", func() bool {
		// No call tells it apart cheaply (setns on a pidfd without
		// flags is EINVAL before 5.8 and after): pidfds must exist,
		// and the version must be 5.8.
		fd, err := unix.PidfdOpen(unix.Getpid(), 0)
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		return kernelAtLeast(5, 8)
	}},
	{"close_range", "5.9", "", func() bool {
		return unix.CloseRange(^uint(0), ^uint(0), 0) != unix.ENOSYS
	}},
	{"mount_setattr", "5.12", "", func() bool {
		attr := unix.MountAttr{}
		_, _, e := unix.Syscall6(unix.SYS_MOUNT_SETATTR, ^uintptr(0), uintptr(unsafe.Pointer(&[1]byte{})), 0, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
		return e != unix.ENOSYS
	}},
	{"memfd MFD_EXEC", "6.3", "the memfd copy of the binary is made without the flag", func() bool {
		fd, err := unix.MemfdCreate("sbx-check", unix.MFD_CLOEXEC|unix.MFD_EXEC)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}},
}

// KernelFacilities probes the kernel interfaces sbx uses that older
// kernels lack (one cheap call each, what sbx version prints): the names
// of those the running kernel has, and of those it lacks.
func KernelFacilities() (have, lack []string) {
	for _, fa := range facilities {
		if fa.present() {
			have = append(have, fa.name)
		} else {
			lack = append(lack, fa.name)
		}
	}
	return have, lack
}

// KernelRelease is the running kernel's release (uname -r).
func KernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelFacilities lists which facilities the running kernel has, and what
// degrades without the ones it lacks.
func kernelFacilities() Fact {
	f := Fact{Name: "kernel facilities", Status: OK}
	var have, lack, degrade []string
	for _, fa := range facilities {
		label := fmt.Sprintf("%s (%s)", fa.name, fa.since)
		switch {
		case fa.present():
			have = append(have, label)
		case fa.missing == "":
			lack = append(lack, label)
		default:
			degrade = append(degrade, label+": "+fa.missing)
		}
	}
	f.Detail = "has " + strings.Join(have, ", ")
	if len(degrade) > 0 {
		f.Status = Warn
		f.Detail += "; lacks " + strings.Join(degrade, "; ")
		f.Fix = "nothing is needed: sbx works without them (a newer kernel has them)"
	}
	if len(lack) > 0 {
		f.Status = Fail
		f.Detail += "; lacks " + strings.Join(lack, ", ") + ", which sbx needs"
		f.Fix = "upgrade the kernel to 5.12 or newer"
	}
	return f
}

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

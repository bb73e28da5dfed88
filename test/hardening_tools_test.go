package test

// Toolbox tools of the hardening tests: raw syscalls whose errno tells
// which protection refused them.

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func init() {
	tools["harden-syscall"] = hardenSyscallTool
	tools["harden-remount-rw"] = hardenRemountTool
}

// hardenSyscallTool makes each syscall named in args and prints one line
// per call: "NAME RESULT", RESULT being ok or the errno's name.
//
//   - add_key: adds a user key to the process keyring;
//   - keyctl: asks for the id of the session keyring;
//   - rawsock: opens a raw ICMP socket (needs CAP_NET_RAW);
//   - landlock-abi: landlock_create_ruleset(NULL, 0, VERSION), printed as
//     "landlock-abi N" when Landlock is available.
func hardenSyscallTool(args []string) int {
	for _, name := range args {
		var err error
		switch name {
		case "add_key":
			_, err = unix.AddKey("user", "sbx-hardening-test", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		case "keyctl":
			_, err = unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		case "rawsock":
			var fd int
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
			if err == nil {
				unix.Close(fd)
			}
		case "landlock-abi":
			abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
			if e == 0 {
				fmt.Printf("%s %d\n", name, abi)
				continue
			}
			err = e
		default:
			fmt.Fprintf(os.Stderr, "harden-syscall: unknown call %q\n", name)
			return 2
		}
		fmt.Printf("%s %s\n", name, errnoName(err))
	}
	return 0
}

// hardenRemountTool remounts the mount at args[0] read-write (a bind
// remount: only the mount's own flags change, the others are kept), then
// creates a file in it. It prints "remount RESULT" and "write RESULT".
func hardenRemountTool(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: harden-remount-rw DIR")
		return 2
	}
	dir := args[0]
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		fmt.Fprintf(os.Stderr, "statfs %s: %v\n", dir, err)
		return 2
	}
	// Keep the flags the mount has (a locked nosuid or nodev cannot be
	// cleared), all but read-only.
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND)
	for _, f := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= uintptr(f.ms)
		}
	}
	err := unix.Mount("", dir, "", flags, "")
	fmt.Printf("remount %s\n", errnoName(err))
	f, err := os.OpenFile(filepath.Join(dir, "written"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		f.Close()
	}
	fmt.Printf("write %s\n", errnoName(err))
	return 0
}

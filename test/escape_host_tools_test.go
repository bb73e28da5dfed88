package test

// Subcommands of the escape tool for the attacks of escape_host_test.go:
// the host's services, pid 1's working directory, sbx's records and the
// files the host runs later (git hooks, shell startup files).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	escapeCommands["ask"] = escapeAsk
	escapeCommands["ls"] = escapeLs
	escapeCommands["rename"] = escapeRename
	escapeCommands["mkdir"] = escapeMkdir
	escapeCommands["readlink"] = escapeReadlink
	escapeCommands["capeff"] = escapeCapEff
}

// escapeAsk connects to the unix socket PATH and asks the service there to
// run something ("run\n"), as `systemd-run --user` asks systemd over the
// session bus. It prints "connect RESULT" and, once sent, "asked ok".
func escapeAsk(args []string) error {
	if err := escapeArgs(args, 1, "ask PATH"); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: args[0]})
	fmt.Printf("connect %s\n", errnoName(err))
	if err != nil {
		return nil
	}
	if _, err := unix.Write(fd, []byte("run\n")); err != nil {
		return err
	}
	// Wait for the service's answer, so that it has acted when we exit.
	buf := make([]byte, 16)
	unix.Read(fd, buf)
	fmt.Println("asked ok")
	return nil
}

// escapeLs prints "ls DIR RESULT" and "entry DIR NAME" for each entry.
func escapeLs(args []string) error {
	for _, dir := range args {
		entries, err := os.ReadDir(dir)
		fmt.Printf("ls %s %s\n", dir, errnoName(err))
		for _, e := range entries {
			fmt.Printf("entry %s %s\n", dir, e.Name())
		}
	}
	return nil
}

// escapeRename renames OLD to NEW and prints "rename OLD RESULT".
func escapeRename(args []string) error {
	if err := escapeArgs(args, 2, "rename OLD NEW"); err != nil {
		return err
	}
	fmt.Printf("rename %s %s\n", args[0], errnoName(unix.Rename(args[0], args[1])))
	return nil
}

// escapeMkdir creates each directory and prints "mkdir PATH RESULT".
func escapeMkdir(args []string) error {
	for _, p := range args {
		fmt.Printf("mkdir %s %s\n", p, errnoName(unix.Mkdir(p, 0o755)))
	}
	return nil
}

// escapeReadlink prints "readlink PATH RESULT TARGET".
func escapeReadlink(args []string) error {
	for _, p := range args {
		target, err := os.Readlink(p)
		fmt.Printf("readlink %s %s %s\n", p, errnoName(err), target)
	}
	return nil
}

// escapeCapEff prints "capeff PID MASK": the effective capabilities of PID
// from its status file.
func escapeCapEff(args []string) error {
	for _, pid := range args {
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
				fmt.Printf("capeff %s %s\n", pid, strings.TrimSpace(v))
			}
		}
	}
	return nil
}

func init() { escapeCommands["scan-tty"] = escapeScanTTY }

// escapeScanTTY looks, for SECONDS, through the descriptors 0, 1 and 2 of
// every process it can see for a terminal of another devpts than the
// sandbox's own (the caller's, outside), and prints "found PATH TARGET"
// for the first, having written MARK into it, or "found none".
func escapeScanTTY(args []string) error {
	if err := escapeArgs(args, 2, "scan-tty SECONDS MARK"); err != nil {
		return err
	}
	secs, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	var own unix.Stat_t
	if err := unix.Stat("/dev/pts/ptmx", &own); err != nil {
		return err
	}
	for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); {
		paths, _ := filepath.Glob("/proc/[0-9]*/fd/[012]")
		for _, p := range paths {
			// What is judged is what was opened: a descriptor can
			// change between two looks at its path.
			fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Dev == own.Dev || !isTerminal(fd) {
				unix.Close(fd)
				continue
			}
			unix.Write(fd, []byte(args[1]))
			unix.Close(fd)
			target, _ := os.Readlink(p)
			pid := strings.Split(p, "/")[2]
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			fmt.Printf("found %s %s (device %d, the sandbox's %d; process %q)\n", p, target, st.Dev, own.Dev,
				strings.ReplaceAll(string(cmdline), "\x00", " "))
			return nil
		}
	}
	fmt.Println("found none")
	return nil
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

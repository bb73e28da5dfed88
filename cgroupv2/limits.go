package cgroupv2

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/sbx-sandbox/sbx/plan"
)

// Flags are the resource flags of sbx run as typed, in podman's names and
// units; "" is not given.
type Flags struct {
	Memory, MemorySwap, MemoryReservation string
	PidsLimit                             string
	CPUs, CPUWeight, CpusetCpus           string
	IOWeight                              string
}

// MinMemory is the smallest --memory taken (as docker and podman): below
// it, the sandbox's own setup would not fit.
const MinMemory = 6 << 20

// cpuPeriod is the cpu.max period --cpus is given in (the kernel's
// default, as podman's).
const cpuPeriod = 100000

// ParseFlags checks the resource flags and turns them into plan.Resources.
// An error is one line that names the flag and what it takes.
func ParseFlags(f Flags) (plan.Resources, error) {
	var r plan.Resources
	var err error
	if f.Memory != "" {
		if r.Memory, err = parseBytes("--memory", f.Memory); err != nil {
			return r, err
		}
		if r.Memory < MinMemory {
			return r, fmt.Errorf("--memory %s: the minimum is 6m", f.Memory)
		}
	}
	if f.MemorySwap != "" {
		if f.MemorySwap == "-1" {
			r.MemorySwap = -1
		} else if r.MemorySwap, err = parseBytes("--memory-swap", f.MemorySwap); err != nil {
			return r, err
		}
		switch {
		case r.Memory == 0:
			return r, fmt.Errorf("--memory-swap %s: it is memory and swap together, so it needs --memory", f.MemorySwap)
		case r.MemorySwap != -1 && r.MemorySwap < r.Memory:
			return r, fmt.Errorf("--memory-swap %s: it is memory and swap together, so it cannot be less than --memory %s (-1: no limit on swap)", f.MemorySwap, f.Memory)
		}
	}
	if f.MemoryReservation != "" {
		if r.MemoryReservation, err = parseBytes("--memory-reservation", f.MemoryReservation); err != nil {
			return r, err
		}
		if r.Memory != 0 && r.MemoryReservation > r.Memory {
			return r, fmt.Errorf("--memory-reservation %s: more than --memory %s", f.MemoryReservation, f.Memory)
		}
	}
	if f.PidsLimit != "" {
		n, err := strconv.ParseInt(f.PidsLimit, 10, 64)
		switch {
		case err != nil || n == 0 || n < -1:
			return r, fmt.Errorf("--pids-limit %q: want a number of processes of at least 1, or -1 for no limit", f.PidsLimit)
		}
		r.PidsLimit = n
	}
	if f.CPUs != "" {
		n, err := strconv.ParseFloat(f.CPUs, 64)
		max := float64(onlineCPUs())
		if err != nil || math.IsNaN(n) || n < 0.01 || n > max {
			return r, fmt.Errorf("--cpus %q: want a number of CPUs from 0.01 to %.2f (this machine has %d)", f.CPUs, max, int(max))
		}
		r.CPUQuota, r.CPUPeriod = uint64(math.Round(n*cpuPeriod)), cpuPeriod
	}
	if f.CPUWeight != "" {
		if r.CPUWeight, err = parseWeight("--cpu-weight", f.CPUWeight); err != nil {
			return r, err
		}
	}
	if f.CpusetCpus != "" {
		if err := checkCPUList(f.CpusetCpus); err != nil {
			return r, fmt.Errorf("--cpuset-cpus %q: %v", f.CpusetCpus, err)
		}
		r.CpusetCpus = f.CpusetCpus
	}
	if f.IOWeight != "" {
		if r.IOWeight, err = parseWeight("--io-weight", f.IOWeight); err != nil {
			return r, err
		}
	}
	return r, nil
}

// parseBytes reads a size as podman takes it: a number of bytes with an
// optional b, k, m or g suffix (powers of 1024).
func parseBytes(flag, v string) (int64, error) {
	s := strings.ToLower(v)
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'b':
			s = s[:len(s)-1]
		case 'k':
			mult, s = 1<<10, s[:len(s)-1]
		case 'm':
			mult, s = 1<<20, s[:len(s)-1]
		case 'g':
			mult, s = 1<<30, s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%s %q: want a size in bytes with an optional k, m or g suffix (such as 512m)", flag, v)
	}
	return n * mult, nil
}

// parseWeight reads a cgroup v2 weight, 1 to 10000.
func parseWeight(flag, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%s %q: want a weight from 1 to 10000 (100 is the default)", flag, v)
	}
	return n, nil
}

// onlineCPUs is how many CPUs the machine has online.
func onlineCPUs() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n, err := cpuCount(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return runtime.NumCPU()
}

// cpuCount returns how many CPUs a list ("0-3,6") names.
func cpuCount(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a CPU number", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return 0, fmt.Errorf("%q is not a CPU number", hi)
			}
			if b < a {
				return 0, fmt.Errorf("range %s runs backwards", part)
			}
		}
		n += int(b-a) + 1
	}
	return n, nil
}

// checkCPUList checks a cpuset list ("0-3,6") against the CPUs online.
func checkCPUList(list string) error {
	if _, err := cpuCount(list); err != nil {
		return fmt.Errorf("want a list of CPUs such as 0-3,6: %v", err)
	}
	online := onlineCPUs()
	for _, part := range strings.Split(list, ",") {
		lo, hi, _ := strings.Cut(part, "-")
		for _, s := range []string{lo, hi} {
			if s == "" {
				continue
			}
			if n, _ := strconv.Atoi(s); n >= online {
				return fmt.Errorf("CPU %d does not exist here (CPUs 0 to %d)", n, online-1)
			}
		}
	}
	return nil
}

// file is one interface file of a cgroup and what is written to it.
type file struct {
	name, value string
	// controller is what must be enabled for the file to exist.
	controller string
}

// files are the interface files that set r, in the order they are written
// (memory.max before memory.swap.max, which the kernel checks against
// nothing, but people reading a trace do).
func files(r plan.Resources) []file {
	var fs []file
	if r.Memory != 0 {
		fs = append(fs, file{"memory.max", strconv.FormatInt(r.Memory, 10), "memory"})
	}
	switch {
	case r.MemorySwap == -1:
		fs = append(fs, file{"memory.swap.max", "max", "memory"})
	case r.MemorySwap > 0:
		fs = append(fs, file{"memory.swap.max", strconv.FormatInt(r.MemorySwap-r.Memory, 10), "memory"})
	case r.Memory != 0:
		// As docker and podman: as much swap as memory, not all of
		// the host's.
		fs = append(fs, file{"memory.swap.max", strconv.FormatInt(r.Memory, 10), "memory"})
	}
	if r.MemoryReservation != 0 {
		fs = append(fs, file{"memory.low", strconv.FormatInt(r.MemoryReservation, 10), "memory"})
	}
	switch {
	case r.PidsLimit == -1:
		fs = append(fs, file{"pids.max", "max", "pids"})
	case r.PidsLimit > 0:
		fs = append(fs, file{"pids.max", strconv.FormatInt(r.PidsLimit, 10), "pids"})
	}
	if r.CPUQuota != 0 {
		fs = append(fs, file{"cpu.max", fmt.Sprintf("%d %d", r.CPUQuota, r.CPUPeriod), "cpu"})
	}
	if r.CPUWeight != 0 {
		fs = append(fs, file{"cpu.weight", strconv.FormatUint(r.CPUWeight, 10), "cpu"})
	}
	if r.CpusetCpus != "" {
		fs = append(fs, file{"cpuset.cpus", r.CpusetCpus, "cpuset"})
	}
	if r.IOWeight != 0 {
		fs = append(fs, file{"io.weight", "default " + strconv.FormatUint(r.IOWeight, 10), "io"})
	}
	return fs
}

// flagOf names the flag that sets an interface file, for messages.
func flagOf(name string) string {
	switch name {
	case "memory.max":
		return "--memory"
	case "memory.swap.max":
		return "--memory-swap"
	case "memory.low":
		return "--memory-reservation"
	case "pids.max":
		return "--pids-limit"
	case "cpu.max":
		return "--cpus"
	case "cpu.weight":
		return "--cpu-weight"
	case "cpuset.cpus":
		return "--cpuset-cpus"
	case "io.weight":
		return "--io-weight"
	}
	return name
}

// FirstFlag names the first limit r asks for, for messages.
func FirstFlag(r plan.Resources) string {
	if fs := files(r); len(fs) > 0 {
		return flagOf(fs[0].name)
	}
	return ""
}

// FormatBytes renders a size as the flags take it (32m, 1g, 1536k).
func FormatBytes(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "g"}, {20, "m"}, {10, "k"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

package cgroupv2

import (
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		flags Flags
		want  plan.Resources
		err   string // a prefix of the error; "" for none
	}{
		{Flags{}, plan.Resources{}, ""},
		{Flags{Memory: "32m"}, plan.Resources{Memory: 32 << 20}, ""},
		{Flags{Memory: "1G"}, plan.Resources{Memory: 1 << 30}, ""},
		{Flags{Memory: "8388608"}, plan.Resources{Memory: 8 << 20}, ""},
		{Flags{Memory: "8388608b"}, plan.Resources{Memory: 8 << 20}, ""},
		{Flags{Memory: "5m"}, plan.Resources{}, "--memory 5m: the minimum is 6m"},
		{Flags{Memory: "m"}, plan.Resources{}, `--memory "m"`},
		{Flags{Memory: "9999999999g"}, plan.Resources{}, `--memory "9999999999g"`},
		{Flags{Memory: "32m", MemorySwap: "64m"}, plan.Resources{Memory: 32 << 20, MemorySwap: 64 << 20}, ""},
		{Flags{Memory: "32m", MemorySwap: "-1"}, plan.Resources{Memory: 32 << 20, MemorySwap: -1}, ""},
		{Flags{MemorySwap: "64m"}, plan.Resources{}, "--memory-swap 64m: it is memory and swap together, so it needs --memory"},
		{Flags{Memory: "64m", MemorySwap: "32m"}, plan.Resources{}, "--memory-swap 32m: it is memory and swap together, so it cannot be less"},
		{Flags{MemoryReservation: "16m"}, plan.Resources{MemoryReservation: 16 << 20}, ""},
		{Flags{Memory: "16m", MemoryReservation: "32m"}, plan.Resources{}, "--memory-reservation 32m: more than --memory"},
		{Flags{PidsLimit: "20"}, plan.Resources{PidsLimit: 20}, ""},
		{Flags{PidsLimit: "-1"}, plan.Resources{PidsLimit: -1}, ""},
		{Flags{PidsLimit: "0"}, plan.Resources{}, `--pids-limit "0"`},
		{Flags{PidsLimit: "-2"}, plan.Resources{}, `--pids-limit "-2"`},
		{Flags{CPUs: "0.5"}, plan.Resources{CPUQuota: 50000, CPUPeriod: 100000}, ""},
		{Flags{CPUs: "0.01"}, plan.Resources{CPUQuota: 1000, CPUPeriod: 100000}, ""},
		{Flags{CPUs: "0.001"}, plan.Resources{}, `--cpus "0.001"`},
		{Flags{CPUs: "Inf"}, plan.Resources{}, `--cpus "Inf"`},
		{Flags{CPUWeight: "1"}, plan.Resources{CPUWeight: 1}, ""},
		{Flags{CPUWeight: "10000"}, plan.Resources{CPUWeight: 10000}, ""},
		{Flags{CPUWeight: "10001"}, plan.Resources{}, `--cpu-weight "10001"`},
		{Flags{CpusetCpus: "0"}, plan.Resources{CpusetCpus: "0"}, ""},
		{Flags{CpusetCpus: "0-0,0"}, plan.Resources{CpusetCpus: "0-0,0"}, ""},
		{Flags{CpusetCpus: "1-0"}, plan.Resources{}, `--cpuset-cpus "1-0"`},
		{Flags{CpusetCpus: ","}, plan.Resources{}, `--cpuset-cpus ","`},
		{Flags{CpusetCpus: "65535"}, plan.Resources{}, `--cpuset-cpus "65535": CPU 65535 does not exist here`},
		{Flags{IOWeight: "100"}, plan.Resources{IOWeight: 100}, ""},
		{Flags{IOWeight: "x"}, plan.Resources{}, `--io-weight "x"`},
	}
	for _, tt := range tests {
		got, err := ParseFlags(tt.flags)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%+v: %v", tt.flags, err)
		case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
			t.Errorf("%+v: want an error starting %q, got %v", tt.flags, tt.err, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("%+v: got %+v, want %+v", tt.flags, got, tt.want)
		}
	}
}

func TestFiles(t *testing.T) {
	r := plan.Resources{Memory: 32 << 20, MemorySwap: 96 << 20, MemoryReservation: 8 << 20, PidsLimit: -1,
		CPUQuota: 20000, CPUPeriod: 100000, CPUWeight: 50, CpusetCpus: "1", IOWeight: 500}
	var got []string
	for _, f := range files(r) {
		got = append(got, f.controller+":"+f.name+"="+f.value)
	}
	want := []string{
		"memory:memory.max=33554432", "memory:memory.swap.max=67108864", "memory:memory.low=8388608",
		"pids:pids.max=max", "cpu:cpu.max=20000 100000", "cpu:cpu.weight=50", "cpuset:cpuset.cpus=1",
		"io:io.weight=default 500",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var swap []string
	for _, f := range files(plan.Resources{Memory: 32 << 20}) {
		swap = append(swap, f.name+"="+f.value)
	}
	if strings.Join(swap, " ") != "memory.max=33554432 memory.swap.max=33554432" {
		t.Errorf("--memory alone: %v, want as much swap as memory", swap)
	}
	if FirstFlag(plan.Resources{CPUWeight: 3}) != "--cpu-weight" || FirstFlag(plan.Resources{}) != "" {
		t.Errorf("FirstFlag names the wrong flag")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{32 << 20: "32m", 1 << 30: "1g", 1536 << 10: "1536k", 1000: "1000", 3 << 30: "3g"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseManager(t *testing.T) {
	for in, want := range map[string]Manager{"": Auto, "auto": Auto, "systemd": Systemd, "cgroupfs": Cgroupfs, "none": None} {
		if got, err := ParseManager(in); err != nil || got != want {
			t.Errorf("ParseManager(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseManager("lxc"); err == nil {
		t.Errorf("ParseManager(lxc): want an error")
	}
}

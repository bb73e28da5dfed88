package nsexec

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The values that sbxwire.h gives the Go side, checked against the
// kernel's (through golang.org/x/sys/unix) and against the numbers that
// are on the wire and on disk already.

func TestWireNamespaces(t *testing.T) {
	want := []Namespace{
		{"user", unix.CLONE_NEWUSER}, {"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID},
		{"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"net", unix.CLONE_NEWNET},
		{"cgroup", unix.CLONE_NEWCGROUP},
	}
	if !slices.Equal(Namespaces, want) {
		t.Errorf("Namespaces = %v, want %v", Namespaces, want)
	}
}

func TestWireForwardedSignals(t *testing.T) {
	want := []unix.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}
	if !slices.Equal(ForwardedSignals, want) {
		t.Errorf("ForwardedSignals = %v, want %v", ForwardedSignals, want)
	}
}

func TestWireNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"MsgBootstrap", uint64(MsgBootstrap), 1}, {"MsgError", uint64(MsgError), 2},
		{"MsgStage1PID", uint64(MsgStage1PID), 3}, {"MsgStage2PID", uint64(MsgStage2PID), 4},
		{"MsgContinue", uint64(MsgContinue), 5}, {"MsgPlan", uint64(MsgPlan), 6},
		{"MsgInitError", uint64(MsgInitError), 7},
		{"MsgConsole", uint64(MsgConsole), 8},
		{"MsgParked", uint64(MsgParked), 9},
		{"AttrHeaderSize", AttrHeaderSize, 8},
		{"AttrCloneFlags", uint64(AttrCloneFlags), 1}, {"AttrUIDMap", uint64(AttrUIDMap), 2},
		{"AttrGIDMap", uint64(AttrGIDMap), 3}, {"AttrUIDMapHelper", uint64(AttrUIDMapHelper), 4},
		{"AttrGIDMapHelper", uint64(AttrGIDMapHelper), 5}, {"AttrSetgroupsDeny", uint64(AttrSetgroupsDeny), 6},
		{"AttrPdeathsig", uint64(AttrPdeathsig), 7}, {"AttrCloneMethod", uint64(AttrCloneMethod), 8},
		{"AttrJoinPidfd", uint64(AttrJoinPidfd), 9}, {"AttrJoinFlags", uint64(AttrJoinFlags), 10},
		{"AttrLogMax", uint64(AttrLogMax), 11}, {"AttrStampFD", uint64(AttrStampFD), 12},
		{"AttrRecordPID", uint64(AttrRecordPID), 13}, {"AttrRecordStart", uint64(AttrRecordStart), 14},
		{"AttrJoinNS", uint64(AttrJoinNS), 17}, {"AttrExitFD", uint64(AttrExitFD), 18},
		{"AttrHoldFD", uint64(AttrHoldFD), 19},
		{"AttrGoFirst", uint64(AttrGoFirst), 64},
		{"ExitSbxFailed", ExitSbxFailed, 125}, {"ExitCannotExecute", ExitCannotExecute, 126},
		{"ExitNotFound", ExitNotFound, 127},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestWireInternalEnv(t *testing.T) {
	want := []string{InitPipeEnv, MonitorEnv, ResumeEnv, ClonedEnv, PdeathsigEnv, LogMaxEnv, StampFDEnv, ExitFDEnv, HoldFDEnv, KeeperEnv}
	if !slices.Equal(InternalEnv, want) {
		t.Errorf("InternalEnv = %q, want %q", InternalEnv, want)
	}
	for _, v := range InternalEnv {
		if !strings.HasPrefix(v, "_SBX_") || strings.ContainsAny(v, "= ") {
			t.Errorf("internal variable %q: want _SBX_ and a name", v)
		}
	}
	if InitPipeEnv != "_SBX_INITPIPE" || MonitorEnv != "_SBX_MONITOR" {
		t.Errorf("InitPipeEnv %q, MonitorEnv %q: sbx of other versions uses _SBX_INITPIPE and _SBX_MONITOR", InitPipeEnv, MonitorEnv)
	}
}

package plan

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/nsexec"
)

func fullPlan() *Plan {
	return &Plan{
		Stages: Stages{
			CloneFlags:   0x7e020000,
			UIDMap:       []IDMap{{0, 100000, 1000}, {1000, 1000, 1}},
			GIDMap:       []IDMap{{1000, 1000, 1}},
			UIDMapHelper: "/usr/bin/newuidmap", GIDMapHelper: "/usr/bin/newgidmap",
			SetgroupsDeny: true, Pdeathsig: 9, CloneMethod: 1, JoinPidfd: 5, JoinFlags: 0x10000000,
			LogMax: 4096, StampFD: 7, ExitFD: 8, HoldFD: 11, Join: []NamespaceJoin{{FD: 9, Flags: 0x50000000}, {FD: 10, Flags: 0x40000000}},
		},
		Root: Root{Path: "/", ReadOnly: true, Suid: true, Dev: true, ReadOnlyLate: true, Overlay: true},
		Mounts: []Mount{
			{Kind: Proc, Dst: "/proc"},
			{Kind: Bind, Src: "/home/u/src", Dst: "/src", ReadOnly: true, Dev: true},
			{Kind: Tmpfs, Dst: "/tmp", Size: "25%", Mode: "1777"},
			{Kind: Hide, Dst: "/run/user/1000", Optional: true},
			{Kind: Overlay, Dst: "/opt", Lowers: []string{"/a", "/b"}},
			{Kind: Symlink, Src: "target", Dst: "/l"},
			{Kind: File, Dst: "/etc/resolv.conf", Data: "nameserver 10.0.2.3\n"},
			{Kind: Bind, Src: "/x", Dst: "/x", Suid: true, NoExec: true, Flat: true},
			{Kind: Sysfs, Dst: "/sys", ReadOnly: true},
			{Kind: Mqueue, Dst: "/dev/mqueue", NoExec: true},
			{Kind: Tmpfs, Dst: "/run", CopyUp: true, Data: "uid=0"},
			{Kind: Dev, Dst: "/dev", Data: "gid=5"},
		},
		Masked:     []string{"/proc/kcore"},
		ReadOnly:   []string{"/proc/sys"},
		Sources:    []Source{{Path: "/home/u/src", Dev: 64769, Ino: 1 << 40}},
		Hostname:   "sbx",
		StartHooks: []Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "true"}, Env: []string{"A=1"}, TimeoutSec: 5}, {Path: "/bin/true"}},
		HookState:  `{"id":"x"}`,
		Sysctls:    []string{"net.ipv4.ping_group_range=0 0"},
		Process: Process{
			Args: []string{"sh", "-c", ""}, Env: []string{"A=1", "EMPTY="}, Cwd: "/src",
			UID: 1000, GID: 1000, GIDFromPasswd: true, Terminal: true, PreserveFDs: 2,
			Rlimits:        []Rlimit{{Resource: 7, Soft: 64, Hard: ^uint64(0)}},
			AdditionalGids: []uint32{0, 10}, Umask: 0o22, SetUmask: true, StartGate: 6, ConsoleRows: 33, ConsoleCols: 101,
		},
		Security: Security{
			Caps:        Caps{Bounding: 1<<0 | 1<<13, Effective: 1 << 13, Permitted: 1 << 13, Inheritable: 1 << 13, Ambient: 1 << 13},
			CapAdd:      []string{"NET_RAW"},
			CapDrop:     []string{"ALL"},
			NoNewPrivs:  true,
			Seccomp:     []byte{1, 2, 3, 4, 5, 6, 7, 8},
			Landlock:    []LandlockRule{{Path: "/", Writable: false}, {Path: "/tmp", Writable: true, IfExists: true, Dev: true}},
			AllowUserns: true,
		},
		Resources: Resources{
			Memory: 32 << 20, MemorySwap: -1, MemoryReservation: 16 << 20, PidsLimit: -1,
			CPUQuota: 50000, CPUPeriod: 100000, CPUWeight: 200, CpusetCpus: "0-1", IOWeight: 300,
		},
		Network: Network{
			Mode: NetPasta, AllowHostLoopback: true, MTU: 1500, IPv6: true,
			Ports: []Port{{HostIP: "127.0.0.1", HostPort: 8080, Port: 80, Proto: "tcp"}, {HostPort: 53, Port: 53, Proto: "udp"}},
			DNS:   []string{"192.0.2.53"}, Hosts: []string{"db:192.0.2.10"},
		},
	}
}

func TestPlanRoundTrip(t *testing.T) {
	for _, p := range []*Plan{fullPlan(), {Process: Process{Args: []string{"true"}}}, {Process: Process{Args: []string{"true"}, AdditionalGids: []uint32{}}}} {
		got, err := Decode(p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
		}
	}
	// An empty, non-nil Landlock list is "on, the root only": kept apart
	// from nil ("off").
	p := &Plan{Security: Security{Landlock: []LandlockRule{}}}
	if got, err := Decode(p.Encode()); err != nil || got.Security.Landlock == nil {
		t.Errorf("an empty Landlock list came back as %v, %v", got.Security.Landlock, err)
	}
}

func TestRecordAndReportRoundTrip(t *testing.T) {
	r := &Record{Name: "box", Pid: 4242, StartTime: 123456789, Created: 1700000000123456789, Detached: true,
		Cgroup: "/sys/fs/cgroup/x/sbx-box", CgroupUnit: "sbx-box.scope", Plan: *fullPlan()}
	got, err := DecodeRecord(r.Encode())
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("record round trip: %v\n got %+v\nwant %+v", err, got, r)
	}
	rep := &Report{Code: 127, Message: "true: not found"}
	if got, err := DecodeReport(rep.Encode()); err != nil || *got != *rep {
		t.Errorf("report round trip: %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := fullPlan().Encode()
	var unknown Encoder
	unknown.U32(200, 1)
	var badKind Encoder
	badKind.Nested(attrMount, func(e *Encoder) { e.U32(mountKind, 99) })
	var noKind Encoder
	noKind.Nested(attrMount, func(e *Encoder) { e.String(mountDst, "/x") })
	var shortNumber Encoder
	shortNumber.Raw(attrUID, []byte{1, 2})
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"truncated header", good[:5], "truncated"},
		{"truncated value", good[:len(good)-1], "overruns"},
		{"unknown attribute", append(append([]byte{}, good...), unknown.Bytes()...), "unknown attribute 200"},
		{"unknown mount kind", badKind.Bytes(), "mount kind"},
		{"a mount without a kind", noKind.Bytes(), "a mount with a kind"},
		{"short number", shortNumber.Bytes(), "4-byte"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := DecodeRecord(fullPlan().Encode()); err == nil {
		t.Error("a plan was taken for a record")
	}
	// A record of another version, and a header with a pad.
	var other Encoder
	other.U32(attrRecordVersion, recordVersion+1)
	other.U32(attrRecordPid, 1)
	other.Nested(attrRecordPlan, fullPlan().encode)
	if _, err := DecodeRecord(other.Bytes()); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("a record of another version: %v", err)
	}
	padded := fullPlan().Encode()
	padded[2] = 1
	if _, err := Decode(padded); err == nil || !strings.Contains(err.Error(), "pad") {
		t.Errorf("a non-zero pad: %v", err)
	}
}

func TestIDMapText(t *testing.T) {
	m := []IDMap{{0, 100000, 65536}, {65536, 1000, 1}}
	if s := FormatIDMap(m); s != "0 100000 65536\n65536 1000 1\n" {
		t.Errorf("FormatIDMap = %q", s)
	}
	if got, err := ParseIDMap(FormatIDMap(m)); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("ParseIDMap = %v, %v", got, err)
	}
}

func BenchmarkPlanEncodeDecode(b *testing.B) {
	p := fullPlan()
	for b.Loop() {
		if _, err := Decode(p.Encode()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStagesReadTheirPart: the stages' attributes carry the numbers of
// nsexec/sbxwire.h and come below AttrGoFirst; every other top-level
// attribute of a plan is at or above it, where the C parser skips them.
func TestStagesReadTheirPart(t *testing.T) {
	p := fullPlan()
	d := NewDecoder(p.Encode())
	stage := map[uint16]bool{}
	for d.Next() {
		if d.Type() < nsexec.AttrGoFirst {
			stage[d.Type()] = true
			continue
		}
		if d.Type() > 127 {
			t.Errorf("attribute %d is out of the plan's range", d.Type())
		}
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	for _, a := range []uint16{nsexec.AttrCloneFlags, nsexec.AttrUIDMap, nsexec.AttrGIDMap, nsexec.AttrUIDMapHelper,
		nsexec.AttrGIDMapHelper, nsexec.AttrSetgroupsDeny, nsexec.AttrPdeathsig, nsexec.AttrCloneMethod,
		nsexec.AttrJoinPidfd, nsexec.AttrJoinFlags, nsexec.AttrLogMax, nsexec.AttrStampFD,
		nsexec.AttrJoinNS, nsexec.AttrExitFD, nsexec.AttrHoldFD} {
		if !stage[a] {
			t.Errorf("stage attribute %d missing from the encoded plan", a)
		}
	}
	if len(stage) != 15 {
		t.Errorf("%d stage attributes, want 15: %v", len(stage), stage)
	}
}

// FuzzDecode: no input makes a decoder panic, and whatever decodes encodes
// to bytes that decode again and encode to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(fullPlan().Encode())
	f.Add((&Record{Name: "x", Pid: 1, Plan: *fullPlan()}).Encode())
	f.Add((&Report{Code: 125, Message: "m"}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeRecord(data)
		DecodeReport(data)
		p, err := Decode(data)
		if err != nil {
			return
		}
		b := p.Encode()
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("a decoded plan, encoded, does not decode: %v\n%+v", err, p)
		}
		if b2 := again.Encode(); !bytes.Equal(b, b2) {
			t.Errorf("encoding is not stable:\n%+v\n%+v", p, again)
		}
	})
}

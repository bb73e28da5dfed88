package nsexec

import (
	"fmt"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Bootstrap is what the C stages need to know. On the wire it is a list of
// attributes (the Attr* types of wire.go), each a native-endian uint16
// type, a uint16 zero, a uint32 length and the value: uint32 numbers, or
// strings without terminator.
type Bootstrap struct {
	// CloneFlags are the CLONE_NEW* namespaces to create.
	CloneFlags uint32
	// UIDMappings and GIDMappings are written for stage 1.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	// UIDMapHelper and GIDMapHelper, if set, are the paths of newuidmap and
	// newgidmap; otherwise stage 0 writes the maps itself.
	UIDMapHelper, GIDMapHelper string
	// SetgroupsDeny writes "deny" to /proc/PID/setgroups before the gid map.
	SetgroupsDeny bool
	// Pdeathsig is the signal the sandbox's pid 1 gets when the sbx parent
	// dies; 0 lets the sandbox outlive it.
	Pdeathsig uint32
	// CloneMethod is how stage 2 makes its unwritable copy of the binary
	// (clonedbinary.Auto, Bind or Memfd).
	CloneMethod uint32
	// JoinPidfd, if not 0, is the descriptor number (in stage 0) of a pidfd
	// of the sandbox's pid 1: stage 0 joins its namespaces in JoinFlags
	// instead of creating any (sbx exec).
	JoinPidfd uint32
	JoinFlags uint32
	// LogMax, if not 0, has the sandbox's pid 1 relay the command's
	// stdout and stderr (the log of a detached sandbox) to its own
	// stdout, keeping the log under LogMax bytes.
	LogMax uint32
	// StampFD, if not 0, is the descriptor number (in stage 0) of the
	// file that time stamps go to (see package stamp): the stages, pid 1
	// and the Go init append theirs to it.
	StampFD uint32
}

// Encode returns the payload of a MsgBootstrap frame.
func (b *Bootstrap) Encode() ([]byte, error) {
	var buf []byte
	put := func(typ uint16, val []byte) {
		var hdr [8]byte
		nativeEndian.PutUint16(hdr[0:2], typ)
		nativeEndian.PutUint32(hdr[4:8], uint32(len(val)))
		buf = append(buf, hdr[:]...)
		buf = append(buf, val...)
	}
	putU32 := func(typ uint16, v uint32) {
		var val [4]byte
		nativeEndian.PutUint32(val[:], v)
		put(typ, val[:])
	}
	putU32(AttrCloneFlags, b.CloneFlags)
	if len(b.UIDMappings) > 0 {
		put(AttrUIDMap, []byte(FormatIDMap(b.UIDMappings)))
	}
	if len(b.GIDMappings) > 0 {
		put(AttrGIDMap, []byte(FormatIDMap(b.GIDMappings)))
	}
	for _, h := range []struct {
		typ  uint16
		path string
	}{{AttrUIDMapHelper, b.UIDMapHelper}, {AttrGIDMapHelper, b.GIDMapHelper}} {
		if h.path == "" {
			continue
		}
		if !strings.HasPrefix(h.path, "/") {
			return nil, fmt.Errorf("id map helper %q: the path must be absolute", h.path)
		}
		put(h.typ, []byte(h.path))
	}
	if b.SetgroupsDeny {
		putU32(AttrSetgroupsDeny, 1)
	}
	if b.Pdeathsig != 0 {
		putU32(AttrPdeathsig, b.Pdeathsig)
	}
	if b.CloneMethod != 0 {
		putU32(AttrCloneMethod, b.CloneMethod)
	}
	if b.JoinPidfd != 0 {
		putU32(AttrJoinPidfd, b.JoinPidfd)
		putU32(AttrJoinFlags, b.JoinFlags)
	}
	if b.LogMax != 0 {
		putU32(AttrLogMax, b.LogMax)
	}
	if b.StampFD != 0 {
		putU32(AttrStampFD, b.StampFD)
	}
	return buf, nil
}

// FormatIDMap renders mappings in the format of /proc/PID/uid_map.
func FormatIDMap(m []specs.LinuxIDMapping) string {
	var sb strings.Builder
	for _, e := range m {
		fmt.Fprintf(&sb, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return sb.String()
}

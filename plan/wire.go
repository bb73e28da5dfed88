package plan

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sbx-sandbox/sbx/nsexec"
)

// The wire format, the one sbx uses across every process boundary: a list
// of attributes, each a native-endian uint16 type, a uint16 zero, a uint32
// length and the value: a uint32 or uint64 number, a string without
// terminator, raw bytes, or a nested list of attributes. A list attribute
// (args, mounts, ...) is the same type repeated, in order.
//
// Numbers below 64 are read by the C stages too and are defined once, in
// nsexec/sbxwire.h; the C parser skips 64 and up. The Go side's numbers
// are below. A decoder refuses a type it does not know: a plan is written
// and read by the same sbx, and one it cannot read fully must not run.

// Attribute types read by the C stages, from nsexec/sbxwire.h.
const (
	attrCloneFlags    = nsexec.AttrCloneFlags
	attrUIDMap        = nsexec.AttrUIDMap
	attrGIDMap        = nsexec.AttrGIDMap
	attrUIDMapHelper  = nsexec.AttrUIDMapHelper
	attrGIDMapHelper  = nsexec.AttrGIDMapHelper
	attrSetgroupsDeny = nsexec.AttrSetgroupsDeny
	attrPdeathsig     = nsexec.AttrPdeathsig
	attrCloneMethod   = nsexec.AttrCloneMethod
	attrJoinPidfd     = nsexec.AttrJoinPidfd
	attrJoinFlags     = nsexec.AttrJoinFlags
	attrLogMax        = nsexec.AttrLogMax
	attrStampFD       = nsexec.AttrStampFD
	attrRecordPid     = nsexec.AttrRecordPID
	attrRecordStart   = nsexec.AttrRecordStart
	attrRecordCgroup  = nsexec.AttrRecordCgroup
	attrJoinNS        = nsexec.AttrJoinNS
	attrExitFD        = nsexec.AttrExitFD
	attrHoldFD        = nsexec.AttrHoldFD
)

// Attribute types of the Go side, from nsexec.AttrGoFirst (64) on: the C
// stages skip them.
const (
	attrRoot         uint16 = 64 // nested: rootPath, rootReadOnly
	attrMount        uint16 = 65 // nested, repeated: mount*
	attrMasked       uint16 = 66 // repeated string
	attrReadOnlyPath uint16 = 67 // repeated string
	attrSource       uint16 = 68 // nested, repeated: source*
	attrHostname     uint16 = 69
	attrArg          uint16 = 70 // repeated string
	attrEnv          uint16 = 71 // repeated string
	attrCwd          uint16 = 72
	attrUID          uint16 = 73
	attrGID          uint16 = 74
	attrTerminal     uint16 = 75
	attrPreserveFDs  uint16 = 76
	attrRlimit       uint16 = 77 // nested, repeated: rlimit*
	attrCaps         uint16 = 78 // nested: caps*
	attrCapAdd       uint16 = 79 // repeated string
	attrCapDrop      uint16 = 80 // repeated string
	attrNoNewPrivs   uint16 = 81
	attrSeccomp      uint16 = 82 // bytes
	attrLandlock     uint16 = 83 // nested: landlockRule, repeated (present: on)
	attrAllowUserns  uint16 = 84
	attrSeccompFrom  uint16 = 85
	attrResources    uint16 = 86 // nested: resources*
	attrNetwork      uint16 = 87 // nested: net*
	attrSysctl       uint16 = 88 // repeated string: KEY=VALUE
	attrGroup        uint16 = 89 // repeated uint32: additional gids
	attrUmask        uint16 = 90 // uint32, present when set
	attrStartGate    uint16 = 91 // uint32
	attrGroupsSet    uint16 = 92 // flag: AdditionalGids set (maybe empty)
	attrConsoleSize  uint16 = 93 // uint32: rows<<16 | cols
	attrStartHook    uint16 = 94 // nested, repeated: hook*
	attrHookState    uint16 = 101
	attrGIDPasswd    uint16 = 102 // flag: Process.GIDFromPasswd

	// A record's own (package state).
	attrRecordVersion  uint16 = 95 // uint32: recordVersion
	attrRecordName     uint16 = 96
	attrRecordCreated  uint16 = 97 // uint64: Unix nanoseconds
	attrRecordDetached uint16 = 98
	attrRecordPlan     uint16 = 99 // nested: the plan
	attrRecordUnit     uint16 = 100

	// The Go init's report of a failure (instead of the exec).
	attrReportCode    uint16 = 112
	attrReportMessage uint16 = 113
)

// Attribute types inside nested attributes.
const (
	rootPath     uint16 = 1
	rootReadOnly uint16 = 2
	rootSuid     uint16 = 3
	rootDev      uint16 = 4
	rootROLate   uint16 = 5
	rootOverlay  uint16 = 6

	mountKind     uint16 = 1
	mountSrc      uint16 = 2
	mountDst      uint16 = 3
	mountReadOnly uint16 = 4
	mountDev      uint16 = 5
	mountOptional uint16 = 6
	mountSize     uint16 = 7
	mountMode     uint16 = 8
	mountLower    uint16 = 9 // repeated
	mountData     uint16 = 10
	mountSuid     uint16 = 11
	mountNoExec   uint16 = 12
	mountFlat     uint16 = 13
	mountCopyUp   uint16 = 14

	hookPath    uint16 = 1
	hookArg     uint16 = 2 // repeated
	hookEnv     uint16 = 3 // repeated
	hookTimeout uint16 = 4

	sourcePath uint16 = 1
	sourceDev  uint16 = 2
	sourceIno  uint16 = 3

	rlimitResource uint16 = 1
	rlimitSoft     uint16 = 2
	rlimitHard     uint16 = 3

	capsBounding    uint16 = 1
	capsEffective   uint16 = 2
	capsPermitted   uint16 = 3
	capsInheritable uint16 = 4
	capsAmbient     uint16 = 5

	landlockPath     uint16 = 1
	landlockWritable uint16 = 2
	landlockDev      uint16 = 3
	landlockIfExists uint16 = 4

	landlockRuleAttr uint16 = 1 // in attrLandlock: nested, repeated

	netMode              uint16 = 1
	netSandbox           uint16 = 2
	netAllowHostLoopback uint16 = 3
	netMTU               uint16 = 4
	netIPv6              uint16 = 5
	netPort              uint16 = 6 // nested, repeated: port*
	netDNS               uint16 = 7 // repeated
	netHost              uint16 = 8 // repeated

	portHostIP   uint16 = 1
	portHostPort uint16 = 2
	portPort     uint16 = 3
	portProto    uint16 = 4

	resMemory            uint16 = 1 // int64 as uint64
	resMemorySwap        uint16 = 2
	resMemoryReservation uint16 = 3
	resPidsLimit         uint16 = 4
	resCPUQuota          uint16 = 5
	resCPUPeriod         uint16 = 6
	resCPUWeight         uint16 = 7
	resCpusetCpus        uint16 = 8
	resIOWeight          uint16 = 9
)

var ne = binary.NativeEndian

// Encoder appends attributes to a buffer.
type Encoder struct{ buf []byte }

// Bytes returns what has been encoded.
func (e *Encoder) Bytes() []byte { return e.buf }

func (e *Encoder) header(typ uint16, n int) {
	var h [8]byte
	ne.PutUint16(h[0:2], typ)
	ne.PutUint32(h[4:8], uint32(n))
	e.buf = append(e.buf, h[:]...)
}

// Raw appends an attribute with the value val.
func (e *Encoder) Raw(typ uint16, val []byte) {
	e.header(typ, len(val))
	e.buf = append(e.buf, val...)
}

// String appends a string attribute.
func (e *Encoder) String(typ uint16, s string) {
	e.header(typ, len(s))
	e.buf = append(e.buf, s...)
}

// StringIf appends a string attribute unless s is empty.
func (e *Encoder) StringIf(typ uint16, s string) {
	if s != "" {
		e.String(typ, s)
	}
}

// Strings appends one string attribute per element.
func (e *Encoder) Strings(typ uint16, ss []string) {
	for _, s := range ss {
		e.String(typ, s)
	}
}

// U32 appends a uint32 attribute.
func (e *Encoder) U32(typ uint16, v uint32) {
	e.header(typ, 4)
	e.buf = ne.AppendUint32(e.buf, v)
}

// U32If appends a uint32 attribute unless v is 0.
func (e *Encoder) U32If(typ uint16, v uint32) {
	if v != 0 {
		e.U32(typ, v)
	}
}

// U64 appends a uint64 attribute.
func (e *Encoder) U64(typ uint16, v uint64) {
	e.header(typ, 8)
	e.buf = ne.AppendUint64(e.buf, v)
}

// Flag appends a uint32 1 if set.
func (e *Encoder) Flag(typ uint16, set bool) {
	if set {
		e.U32(typ, 1)
	}
}

// Nested appends an attribute whose value is the attributes fn encodes.
func (e *Encoder) Nested(typ uint16, fn func(*Encoder)) {
	at := len(e.buf)
	e.header(typ, 0)
	fn(e)
	ne.PutUint32(e.buf[at+4:at+8], uint32(len(e.buf)-at-8))
}

// Decoder reads attributes one at a time.
type Decoder struct {
	data []byte
	typ  uint16
	val  []byte
	err  error
}

// NewDecoder reads the attributes in data.
func NewDecoder(data []byte) *Decoder { return &Decoder{data: data} }

// Next moves to the next attribute; false at the end or on an error.
func (d *Decoder) Next() bool {
	if d.err != nil || len(d.data) == 0 {
		return false
	}
	if len(d.data) < 8 {
		d.err = fmt.Errorf("truncated attribute header (%d bytes)", len(d.data))
		return false
	}
	n := ne.Uint32(d.data[4:8])
	if ne.Uint16(d.data[2:4]) != 0 {
		d.err = fmt.Errorf("attribute %d has a non-zero pad", ne.Uint16(d.data[0:2]))
		return false
	}
	if uint64(n) > uint64(len(d.data)-8) {
		d.err = fmt.Errorf("attribute %d of %d bytes overruns its list", ne.Uint16(d.data[0:2]), n)
		return false
	}
	d.typ = ne.Uint16(d.data[0:2])
	d.val = d.data[8 : 8+n]
	d.data = d.data[8+n:]
	return true
}

// Type is the current attribute's type.
func (d *Decoder) Type() uint16 { return d.typ }

// Bytes is the current attribute's value (not a copy).
func (d *Decoder) Bytes() []byte { return d.val }

// String is the current attribute's value as a string.
func (d *Decoder) String() string { return string(d.val) }

// U32 is the current attribute's value as a uint32.
func (d *Decoder) U32() uint32 {
	if len(d.val) != 4 {
		d.fail("a 4-byte number")
		return 0
	}
	return ne.Uint32(d.val)
}

// U64 is the current attribute's value as a uint64.
func (d *Decoder) U64() uint64 {
	if len(d.val) != 8 {
		d.fail("an 8-byte number")
		return 0
	}
	return ne.Uint64(d.val)
}

// Bool is a Flag's value.
func (d *Decoder) Bool() bool { return d.U32() != 0 }

// Nested returns a decoder of the current attribute's value.
func (d *Decoder) Nested() *Decoder { return &Decoder{data: d.val} }

// Each decodes the current attribute's value, a nested list: fn takes in
// each of its attributes and reports whether it knew it; the nested list's
// errors become this decoder's.
func (d *Decoder) Each(fn func(n *Decoder) bool) {
	n := d.Nested()
	for n.Next() {
		if !fn(n) {
			n.Unknown()
		}
	}
	d.Join(n)
}

// Unknown records that the current attribute is not known here.
func (d *Decoder) Unknown() {
	if d.err == nil {
		d.err = fmt.Errorf("unknown attribute %d", d.typ)
	}
}

// Err is the first error met, including one of a nested decoder passed
// to Join.
func (d *Decoder) Err() error { return d.err }

// Join takes on the error of a nested decoder.
func (d *Decoder) Join(n *Decoder) {
	if d.err == nil && n.err != nil {
		d.err = fmt.Errorf("in attribute %d: %w", d.typ, n.err)
	}
}

func (d *Decoder) fail(want string) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %d: want %s, got %d bytes", d.typ, want, len(d.val))
	}
}

// errEmpty is a plan without any attribute.
var errEmpty = errors.New("empty plan")

package plan

import (
	"errors"
	"fmt"
)

// Record is what sbx keeps of a sandbox while it runs (and, detached, after
// it ends): which process its pid 1 is, and the plan it was started with,
// from which sbx exec starts its commands. Package state stores it, in the
// wire format; the monitor (C) reads RecordPid and RecordStart from it to
// remove the record only while it is still its sandbox's.
type Record struct {
	Name string
	// Pid is the host pid of the sandbox's pid 1, and StartTime its start
	// time in clock ticks since boot: together they name the process.
	Pid       uint32
	StartTime uint64
	// Created is when the sandbox started, in Unix nanoseconds.
	Created  int64
	Detached bool
	// Cgroup is the directory of the sandbox's cgroup (package cgroupv2),
	// "" for none; CgroupUnit the systemd scope around it, if any. The
	// monitor (C) reads Cgroup to remove it.
	Cgroup, CgroupUnit string
	Plan               Plan
}

// recordVersion is the version of the plan's attributes a record is in: it
// changes whenever an attribute changes meaning, so that a record written
// by another sbx is refused rather than misread.
const recordVersion = 1

// Encode returns the record in the wire format.
func (r *Record) Encode() []byte {
	var e Encoder
	e.U32(attrRecordVersion, recordVersion)
	e.U32(attrRecordPid, r.Pid)
	e.U64(attrRecordStart, r.StartTime)
	e.String(attrRecordName, r.Name)
	e.U64(attrRecordCreated, uint64(r.Created))
	e.Flag(attrRecordDetached, r.Detached)
	e.StringIf(attrRecordCgroup, r.Cgroup)
	e.StringIf(attrRecordUnit, r.CgroupUnit)
	e.Nested(attrRecordPlan, r.Plan.encode)
	return e.Bytes()
}

// DecodeRecord reads a record in the wire format.
func DecodeRecord(data []byte) (*Record, error) {
	r := &Record{}
	d := NewDecoder(data)
	hasPlan := false
	version := uint32(0)
	for d.Next() {
		switch d.Type() {
		case attrRecordVersion:
			version = d.U32()
		case attrRecordPid:
			r.Pid = d.U32()
		case attrRecordStart:
			r.StartTime = d.U64()
		case attrRecordName:
			r.Name = d.String()
		case attrRecordCreated:
			r.Created = int64(d.U64())
		case attrRecordDetached:
			r.Detached = d.Bool()
		case attrRecordCgroup:
			r.Cgroup = d.String()
		case attrRecordUnit:
			r.CgroupUnit = d.String()
		case attrRecordPlan:
			d.Each(func(n *Decoder) bool {
				r.Plan.decodeAttr(n)
				return true // decodeAttr says what it does not know
			})
			hasPlan = true
		default:
			d.Unknown()
		}
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if version != recordVersion {
		return nil, fmt.Errorf("decode record: version %d, this sbx reads version %d", version, recordVersion)
	}
	if !hasPlan || r.Pid == 0 {
		return nil, errors.New("decode record: no plan or no pid in it")
	}
	return r, nil
}

// Report is what the Go init sends instead of exec'ing the command: why,
// and the exit code sbx ends with.
type Report struct {
	Code    int
	Message string
}

func (r *Report) Error() string { return r.Message }

// Encode returns the report in the wire format.
func (r *Report) Encode() []byte {
	var e Encoder
	e.U32(attrReportCode, uint32(r.Code))
	e.String(attrReportMessage, r.Message)
	return e.Bytes()
}

// DecodeReport reads a report in the wire format.
func DecodeReport(data []byte) (*Report, error) {
	r := &Report{}
	d := NewDecoder(data)
	for d.Next() {
		switch d.Type() {
		case attrReportCode:
			r.Code = int(d.U32())
		case attrReportMessage:
			r.Message = d.String()
		default:
			d.Unknown()
		}
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return r, nil
}

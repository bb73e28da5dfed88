package main

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
)

// query builds a DNS query for name (with its final dot) of type qtype.
func query(id uint16, name string, qtype uint16) []byte {
	q := make([]byte, 12)
	binary.BigEndian.PutUint16(q[0:2], id)
	binary.BigEndian.PutUint16(q[2:4], 0x0100) // RD
	binary.BigEndian.PutUint16(q[4:6], 1)
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		q = append(q, byte(len(l)))
		q = append(q, l...)
	}
	q = append(q, 0, byte(qtype>>8), byte(qtype), 0, classIN)
	return q
}

func TestAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		qtype  uint16
		rcode  int
		answer net.IP
	}{
		{"ip-127-0-0-77.sbx.test.", typeA, rcodeOK, net.IPv4(127, 0, 0, 77)},
		{"IP-10-1-2-3.SBX.Test.", typeA, rcodeOK, net.IPv4(10, 1, 2, 3)},
		{"ip-127-0-0-77.sbx.test.", 28, rcodeOK, nil}, // AAAA: no data
		{"ip-127-0-0-256.sbx.test.", typeA, rcodeNX, nil},
		{"ip-127-0-0-077.sbx.test.", typeA, rcodeNX, nil},
		{"ip-1-2-3.sbx.test.", typeA, rcodeNX, nil},
		{"a.ip-1-2-3-4.sbx.test.", typeA, rcodeNX, nil},
		{"other.sbx.test.", typeA, rcodeNX, nil},
		{"example.com.", typeA, rcodeNX, nil},
	} {
		q := query(0x1234, tc.name, tc.qtype)
		r, note := Answer(q)
		if len(r) < 12 {
			t.Fatalf("%s: short response %x (%s)", tc.name, r, note)
		}
		if id := binary.BigEndian.Uint16(r[0:2]); id != 0x1234 {
			t.Errorf("%s: id %#x", tc.name, id)
		}
		flags := binary.BigEndian.Uint16(r[2:4])
		if flags&0x8000 == 0 || flags&0x0100 == 0 || flags&0x0080 == 0 {
			t.Errorf("%s: flags %#x: want QR, RD, RA", tc.name, flags)
		}
		if rc := int(flags & 0xf); rc != tc.rcode {
			t.Errorf("%s: rcode %d, want %d (%s)", tc.name, rc, tc.rcode, note)
		}
		if qd := binary.BigEndian.Uint16(r[4:6]); qd != 1 || string(r[12:len(q)]) != string(q[12:]) {
			t.Errorf("%s: question not echoed: %x", tc.name, r)
		}
		an := binary.BigEndian.Uint16(r[6:8])
		if tc.answer == nil {
			if an != 0 || len(r) != len(q) {
				t.Errorf("%s: want no answer, got %d: %x", tc.name, an, r)
			}
			continue
		}
		if an != 1 || len(r) != len(q)+16 {
			t.Fatalf("%s: want one answer, got %d: %x", tc.name, an, r)
		}
		rr := r[len(q):]
		if rr[0] != 0xc0 || rr[1] != 12 || binary.BigEndian.Uint16(rr[2:4]) != typeA ||
			binary.BigEndian.Uint16(rr[10:12]) != 4 || !net.IP(rr[12:16]).Equal(tc.answer) {
			t.Errorf("%s: bad answer record %x, want %s", tc.name, rr, tc.answer)
		}
	}
}

func TestAnswerMalformed(t *testing.T) {
	if r, _ := Answer([]byte{1, 2, 3}); r != nil {
		t.Errorf("a 3-byte message was answered: %x", r)
	}
	resp := query(1, "ip-1-2-3-4.sbx.test.", typeA)
	resp[2] |= 0x80 // QR: a response
	if r, _ := Answer(resp); r != nil {
		t.Errorf("a response was answered: %x", r)
	}
	trunc := query(2, "ip-1-2-3-4.sbx.test.", typeA)
	if r, _ := Answer(trunc[:len(trunc)-3]); r == nil || r[3]&0xf != rcodeFmt {
		t.Errorf("a truncated question: want a format error, got %x", r)
	}
}

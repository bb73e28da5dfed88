// Command dnsstub is a tiny DNS server for the integration tests of sbx's
// networking: the upstream of the DNS forwarder (10.0.2.3) of a sandbox's
// user-mode network. scripts/test.sh (and the VM's scripts/vm-guest.sh)
// start it as root on 127.0.0.153:53 (UDP), name it in a private
// /etc/resolv.conf that the tests and the network helpers they start see,
// and stop it afterwards; the tests learn its address from SBX_TEST_DNS.
//
// It serves only the zone sbx.test., with answers made from the name alone,
// so that a test can tell that an answer came from it:
//
//   - A of ip-A-B-C-D.sbx.test (A, B, C, D decimal octets): A.B.C.D, TTL 0;
//   - any other query for an existing name (AAAA of an ip- name): no data;
//   - every other name, in sbx.test. or not: NXDOMAIN.
//
// It never forwards a query anywhere. It prints "listening on ADDR" once it
// is bound, and one line per query.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// Zone is the only zone the stub answers for.
	Zone = "sbx.test."

	typeA    = 1
	classIN  = 1
	rcodeOK  = 0
	rcodeFmt = 1
	rcodeNX  = 3
	rcodeNot = 4 // not implemented (an opcode other than QUERY)
)

func main() {
	addr := flag.String("addr", "127.0.0.153:53", "UDP address to listen on")
	dieWithParent := flag.Bool("die-with-parent", false, "exit when the parent process dies")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("dnsstub: ")

	if *dieWithParent {
		parent := os.Getppid()
		// PR_SET_PDEATHSIG: SIGTERM when the parent ends.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
			log.Fatalf("prctl(PR_SET_PDEATHSIG): %v", err)
		}
		if os.Getppid() != parent {
			log.Fatal("the parent ended before the stub started")
		}
	}

	conn, err := net.ListenPacket("udp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", conn.LocalAddr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Printf("stopped by %v\n", s)
		os.Exit(0)
	}()

	buf := make([]byte, 4096)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("read: %v", err)
			continue
		}
		resp, note := Answer(buf[:n])
		fmt.Printf("%s: %s\n", from, note)
		if resp != nil {
			if _, err := conn.WriteTo(resp, from); err != nil {
				log.Printf("reply to %s: %v", from, err)
			}
		}
	}
}

// Answer returns the response to the DNS message query (nil: none, for a
// message too short to answer) and a line saying what it was.
func Answer(query []byte) ([]byte, string) {
	if len(query) < 12 {
		return nil, fmt.Sprintf("ignored a message of %d bytes", len(query))
	}
	flags := binary.BigEndian.Uint16(query[2:4])
	if flags&0x8000 != 0 {
		return nil, "ignored a response"
	}
	opcode := (flags >> 11) & 0xf
	qdcount := binary.BigEndian.Uint16(query[4:6])
	if opcode != 0 {
		return header(query, rcodeNot, 0), fmt.Sprintf("opcode %d: not implemented", opcode)
	}
	if qdcount != 1 {
		return header(query, rcodeFmt, 0), fmt.Sprintf("%d questions: format error", qdcount)
	}
	name, end, err := readName(query, 12)
	if err != nil || end+4 > len(query) {
		return header(query, rcodeFmt, 0), "bad question: format error"
	}
	question := query[12 : end+4]
	qtype := binary.BigEndian.Uint16(query[end : end+2])
	qclass := binary.BigEndian.Uint16(query[end+2 : end+4])

	ip, exists := Lookup(name)
	var resp []byte
	var note string
	switch {
	case !exists:
		resp = withQuestion(header(query, rcodeNX, 0), question)
		note = fmt.Sprintf("%s type %d: NXDOMAIN", name, qtype)
	case qtype == typeA && qclass == classIN:
		resp = withQuestion(header(query, rcodeOK, 1), question)
		// The answer: the name by a pointer to the question (offset 12),
		// type A, class IN, TTL 0, 4 bytes of address.
		resp = append(resp, 0xc0, 12, 0, typeA, 0, classIN, 0, 0, 0, 0, 0, 4)
		resp = append(resp, ip.To4()...)
		note = fmt.Sprintf("%s A: %s", name, ip)
	default:
		resp = withQuestion(header(query, rcodeOK, 0), question)
		note = fmt.Sprintf("%s type %d: no data", name, qtype)
	}
	return resp, note
}

// Lookup tells whether name (lower case, with the final dot) exists, and its
// address: ip-A-B-C-D.sbx.test. is A.B.C.D.
func Lookup(name string) (net.IP, bool) {
	label, ok := strings.CutSuffix(name, "."+Zone)
	if !ok || strings.Contains(label, ".") {
		return nil, false
	}
	octets, ok := strings.CutPrefix(label, "ip-")
	if !ok {
		return nil, false
	}
	parts := strings.Split(octets, "-")
	if len(parts) != 4 {
		return nil, false
	}
	ip := make(net.IP, 4)
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil || strconv.FormatUint(n, 10) != p {
			return nil, false
		}
		ip[i] = byte(n)
	}
	return ip, true
}

// header returns the header of the response to query: its id, QR and AA
// set, its opcode and RD kept, RA set, rcode, no question (withQuestion
// adds it) and ancount answers.
func header(query []byte, rcode int, ancount uint16) []byte {
	h := make([]byte, 12)
	copy(h[0:2], query[0:2])
	qflags := binary.BigEndian.Uint16(query[2:4])
	flags := uint16(0x8000) | qflags&0x7800 | 0x0400 | qflags&0x0100 | 0x0080 | uint16(rcode)
	binary.BigEndian.PutUint16(h[2:4], flags)
	binary.BigEndian.PutUint16(h[6:8], ancount)
	return h
}

// withQuestion appends the question section to a response header.
func withQuestion(h, question []byte) []byte {
	binary.BigEndian.PutUint16(h[4:6], 1)
	return append(h, question...)
}

// readName reads the uncompressed name at off of msg, lower-cased and with
// a final dot, and returns the offset after it.
func readName(msg []byte, off int) (string, int, error) {
	var b strings.Builder
	for {
		if off >= len(msg) {
			return "", 0, errors.New("name past the end")
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		if l&0xc0 != 0 {
			return "", 0, errors.New("compressed name in a question")
		}
		if off+l > len(msg) || b.Len()+l+1 > 255 {
			return "", 0, errors.New("label past the end")
		}
		b.WriteString(strings.ToLower(string(msg[off : off+l])))
		b.WriteByte('.')
		off += l
	}
	if b.Len() == 0 {
		return ".", off, nil
	}
	return b.String(), off, nil
}

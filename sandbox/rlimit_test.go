package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseUlimits(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		arg        string
		soft, hard uint64
		wantErr    bool
	}{
		{arg: "nofile=64", soft: 64, hard: 64},
		{arg: "NOFILE=64:128", soft: 64, hard: 128},
		{arg: "core=0:unlimited", soft: 0, hard: unix.RLIM_INFINITY},
		{arg: "core=-1", soft: unix.RLIM_INFINITY, hard: unix.RLIM_INFINITY},
		{arg: "nofile=128:64", wantErr: true},
		{arg: "files=1", wantErr: true},
		{arg: "nofile", wantErr: true},
		{arg: "nofile=lots", wantErr: true},
		{arg: "as=512m", soft: 512 << 20, hard: 512 << 20},
		{arg: "fsize=1g:unlimited", soft: 1 << 30, hard: unix.RLIM_INFINITY},
		{arg: "stack=8M:16m", soft: 8 << 20, hard: 16 << 20},
		{arg: "core=4k", soft: 4 << 10, hard: 4 << 10},
		{arg: "memlock=64K", soft: 64 << 10, hard: 64 << 10},
		{arg: "data=1024", soft: 1024, hard: 1024},
		{arg: "as=", wantErr: true},
		{arg: "as=m", wantErr: true},
		{arg: "as=1t", wantErr: true},
		{arg: "as=1.5g", wantErr: true},
		{arg: "as=99999999999g", wantErr: true},
		{arg: "nofile=1k", wantErr: true},
		{arg: "nproc=2m", wantErr: true},
	}
	if nofile.Max != unix.RLIM_INFINITY {
		cases = append(cases, struct {
			arg        string
			soft, hard uint64
			wantErr    bool
		}{arg: "nofile=1:unlimited", wantErr: true})
	}
	for _, c := range cases {
		t.Run(c.arg, func(t *testing.T) {
			got, err := parseUlimits([]string{c.arg})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			if len(got) != 1 || got[0].Soft != c.soft || got[0].Hard != c.hard {
				t.Errorf("got %+v, want soft %d hard %d", got, c.soft, c.hard)
			}
		})
	}
}

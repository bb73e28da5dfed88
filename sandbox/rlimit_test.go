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

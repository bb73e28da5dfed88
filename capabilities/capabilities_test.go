package capabilities

import (
	"slices"
	"testing"
)

func TestCompute(t *testing.T) {
	cases := []struct {
		name          string
		uid           uint32
		add, drop     []string
		wantBounding  []string
		wantEffective []string
		wantAmbient   []string
		wantErr       bool
	}{
		{name: "user has none", uid: 1000},
		{name: "root has the default set", uid: 0, wantBounding: RootDefault, wantEffective: RootDefault},
		{name: "user with an added cap holds it", uid: 1000, add: []string{"net_raw"},
			wantBounding: []string{"CAP_NET_RAW"}, wantEffective: []string{"CAP_NET_RAW"}, wantAmbient: []string{"CAP_NET_RAW"}},
		{name: "root drops one", uid: 0, drop: []string{"CAP_SETUID,setgid"},
			wantBounding: without(RootDefault, "CAP_SETUID", "CAP_SETGID"), wantEffective: without(RootDefault, "CAP_SETUID", "CAP_SETGID")},
		{name: "drop all then add one", uid: 0, drop: []string{"all"}, add: []string{"CHOWN"},
			wantBounding: []string{"CAP_CHOWN"}, wantEffective: []string{"CAP_CHOWN"}, wantAmbient: []string{"CAP_CHOWN"}},
		{name: "unknown name", uid: 0, add: []string{"CAP_FLY"}, wantErr: true},
		{name: "add and drop of the same", uid: 0, add: []string{"NET_RAW"}, drop: []string{"cap_net_raw"}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compute(c.uid, c.add, c.drop)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			for _, s := range []struct {
				name      string
				got, want []string
			}{
				{"bounding", Names(got.Bounding), c.wantBounding}, {"effective", Names(got.Effective), c.wantEffective},
				{"permitted", Names(got.Permitted), c.wantEffective}, {"inheritable", Names(got.Inheritable), c.wantAmbient},
				{"ambient", Names(got.Ambient), c.wantAmbient},
			} {
				if !sameSet(s.got, s.want) {
					t.Errorf("%s = %v, want %v", s.name, s.got, s.want)
				}
			}
		})
	}
}

func TestAddAllGivesEveryCapability(t *testing.T) {
	got, err := Compute(1000, []string{"ALL"}, []string{"SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	bounding, ambient := Names(got.Bounding), Names(got.Ambient)
	if slices.Contains(bounding, "CAP_SYS_ADMIN") || !slices.Contains(ambient, "CAP_NET_ADMIN") {
		t.Errorf("ALL minus SYS_ADMIN: bounding %v ambient %v", bounding, ambient)
	}
	if len(bounding) != len(allNames())-1 {
		t.Errorf("bounding has %d capabilities, want %d", len(bounding), len(allNames())-1)
	}
}

func without(s []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(c string) bool { return slices.Contains(drop, c) })
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

package network

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestParsePort(t *testing.T) {
	for _, c := range []struct {
		in   string
		want plan.Port
		err  string
	}{
		{in: "8080:80", want: plan.Port{HostPort: 8080, Port: 80, Proto: "tcp"}},
		{in: "127.0.0.1:8080:80", want: plan.Port{HostIP: "127.0.0.1", HostPort: 8080, Port: 80, Proto: "tcp"}},
		{in: "127.0.0.1:5353:53/udp", want: plan.Port{HostIP: "127.0.0.1", HostPort: 5353, Port: 53, Proto: "udp"}},
		{in: "[::1]:8080:80/tcp", want: plan.Port{HostIP: "::1", HostPort: 8080, Port: 80, Proto: "tcp"}},
		{in: "80", err: "HOSTPORT and PORT are both needed"},
		{in: "a:b", err: `"a" is not a port number`},
		{in: "70000:80", err: "port 70000 is out of range"},
		{in: "8080:0", err: "port 0 is out of range"},
		{in: "8080:80/sctp", err: "tcp or udp"},
		{in: "localhost:8080:80", err: `"localhost" is not an IP address`},
		{in: "1:2:3:4", err: "HOSTPORT and PORT are both needed"},
		{in: "[::1:8080:80", err: "in brackets"},
	} {
		got, err := ParsePort(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParsePort(%q) = %v, %v; want an error with %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		case err != nil && !strings.HasPrefix(err.Error(), "-p "+c.in+": "):
			t.Errorf("ParsePort(%q): error %q does not start with the flag", c.in, err)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Options
		want plan.Network
		err  string
	}{
		{name: "default", want: plan.Network{Mode: plan.NetNone}},
		{name: "host", in: Options{Mode: "host"}, want: plan.Network{Mode: plan.NetHost}},
		{name: "pasta", in: Options{Mode: "pasta"}, want: plan.Network{Mode: plan.NetPasta, MTU: DefaultMTU}},
		{name: "options", in: Options{Mode: "slirp4netns:allow_host_loopback=true,mtu=1500,enable_ipv6=true"},
			want: plan.Network{Mode: plan.NetSlirp4netns, MTU: 1500, AllowHostLoopback: true, IPv6: true}},
		{name: "sandbox", in: Options{Mode: "sandbox:web"}, want: plan.Network{Mode: plan.NetSandbox, Sandbox: "web"}},
		{name: "names", in: Options{Mode: "none", DNS: []string{"192.0.2.53"}, Hosts: []string{"db:192.0.2.10", "v6:[2001:db8::1]"}},
			want: plan.Network{Mode: plan.NetNone, DNS: []string{"192.0.2.53"}, Hosts: []string{"db:192.0.2.10", "v6:2001:db8::1"}}},
		{name: "publish", in: Options{Mode: "pasta", Publish: []string{"8080:80", "8080:80/udp"}},
			want: plan.Network{Mode: plan.NetPasta, MTU: DefaultMTU, Ports: []plan.Port{{HostPort: 8080, Port: 80, Proto: "tcp"}, {HostPort: 8080, Port: 80, Proto: "udp"}}}},
		{name: "unknown mode", in: Options{Mode: "bridge"}, err: "unknown network mode"},
		{name: "unknown option", in: Options{Mode: "pasta:foo=1"}, err: `unknown option "foo"`},
		{name: "option without value", in: Options{Mode: "pasta:mtu"}, err: "want KEY=VALUE"},
		{name: "bad bool", in: Options{Mode: "pasta:enable_ipv6=maybe"}, err: "want true or false"},
		{name: "small mtu", in: Options{Mode: "pasta:mtu=100"}, err: "from 1280"},
		{name: "host options", in: Options{Mode: "host:x=1"}, err: "takes no options"},
		{name: "sandbox without name", in: Options{Mode: "sandbox"}, err: "name the sandbox"},
		{name: "publish on host", in: Options{Mode: "host", Publish: []string{"80:80"}}, err: "needs a user-mode network"},
		{name: "publish on none", in: Options{Mode: "none", Publish: []string{"80:80"}}, err: "needs a user-mode network"},
		{name: "publish twice", in: Options{Mode: "pasta", Publish: []string{"8080:80", "127.0.0.1:8080:81"}}, err: "published twice"},
		{name: "bad dns", in: Options{DNS: []string{"ns1"}}, err: "--dns"},
		{name: "bad host", in: Options{Hosts: []string{"db"}}, err: "--add-host"},
		{name: "bad host name", in: Options{Hosts: []string{"a b:192.0.2.1"}}, err: "--add-host"},
		{name: "names on sandbox", in: Options{Mode: "sandbox:web", DNS: []string{"192.0.2.53"}}, err: "belong to the sandbox"},
	} {
		got, err := Parse(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: Parse(%+v) = %+v, %v; want an error with %q", c.name, c.in, got, err, c.err)
		case c.err == "" && (err != nil || !reflect.DeepEqual(got, c.want)):
			t.Errorf("%s: Parse(%+v) = %+v, %v; want %+v", c.name, c.in, got, err, c.want)
		}
	}
}

// TestParseUser: --net user and a bare -p pick pasta when it is installed,
// else slirp4netns.
func TestParseUser(t *testing.T) {
	want := plan.NetPasta
	if _, err := exec.LookPath("pasta"); err != nil {
		want = plan.NetSlirp4netns
		if _, err := exec.LookPath("slirp4netns"); err != nil {
			t.Fatal("neither pasta nor slirp4netns is installed: run `sudo apt-get install passt slirp4netns`, or `sudo make test`, which installs them")
		}
	}
	for _, o := range []Options{{Mode: "user"}, {Publish: []string{"8080:80"}}} {
		n, err := Parse(o)
		if err != nil || n.Mode != want {
			t.Errorf("Parse(%+v) = %+v, %v; want mode %s", o, n, err, want)
		}
	}
}

func TestFiles(t *testing.T) {
	user := plan.Network{Mode: plan.NetPasta, Hosts: []string{"db:192.0.2.10"}}
	files := Files(user, "box", "", "")
	if len(files) != 2 {
		t.Fatalf("user-mode network: %d files, want resolv.conf and hosts: %+v", len(files), files)
	}
	if f := files[0]; f.Kind != plan.File || f.Dst != "/etc/resolv.conf" || !strings.Contains(f.Data, "nameserver "+DNSForwarder+"\n") {
		t.Errorf("resolv.conf: %+v", f)
	}
	if f := files[1]; f.Dst != "/etc/hosts" || !strings.Contains(f.Data, Address+"\tbox\n") || !strings.Contains(f.Data, "192.0.2.10\tdb\n") ||
		!strings.Contains(f.Data, "127.0.0.1\tlocalhost") {
		t.Errorf("hosts: %+v", f)
	}
	if files := Files(plan.Network{Mode: plan.NetNone}, "box", "", ""); len(files) != 0 {
		t.Errorf("none: want the view's own files, got %+v", files)
	}
	dns := Files(plan.Network{Mode: plan.NetHost, DNS: []string{"192.0.2.53", "192.0.2.54"}}, "box", "", "")
	if len(dns) != 1 || !strings.Contains(dns[0].Data, "nameserver 192.0.2.53\nnameserver 192.0.2.54\n") || strings.Contains(dns[0].Data, DNSForwarder) {
		t.Errorf("--dns: %+v", dns)
	}
}

package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/network"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/state"
)

// netStart is what one start does for the sandbox's network, on the host:
// for a user-mode network, the host's sockets of its published UDP ports,
// bound before anything starts, and the helper, started in the launcher's
// slot once pid 1 exists; for sandbox:NAME, the pidfd of the sandbox whose
// network is joined.
type netStart struct {
	network plan.Network
	joinFD  int
	// udp are the host's sockets of the published UDP ports, until the
	// keeper has them.
	udp    *network.Reserved
	helper *network.Helper
}

// prepareNetwork checks the network of p before anything starts (the
// helper can run, the published ports are free, the sandbox to join runs)
// and adds to l the descriptors the stages need for it.
func prepareNetwork(p *plan.Plan, l *launch, allowUserns bool) (*netStart, error) {
	n := &netStart{network: p.Network, joinFD: -1}
	switch {
	case p.Network.UserMode():
		if err := network.CheckHost(p.Network.Mode); err != nil {
			return nil, err
		}
		var err error
		if n.udp, err = network.Reserve(p.Network.Ports, p.Network.IPv6); err != nil {
			return nil, err
		}
	case p.Network.Mode == plan.NetSandbox:
		if err := n.joinSandbox(p, l, allowUserns); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// joinSandbox opens the pid 1 of the sandbox whose network p joins, for
// stage 1 (its user namespace comes along: it owns the network namespace),
// and takes that sandbox's name servers and id maps.
func (n *netStart) joinSandbox(p *plan.Plan, l *launch, allowUserns bool) error {
	name := p.Network.Sandbox
	st, err := state.Load(name)
	if err != nil {
		return fmt.Errorf("--net sandbox:%s: %w", name, err)
	}
	if st.Status != state.Running || st.Plan == nil {
		return fmt.Errorf("--net sandbox:%s: sandbox %s is not running (start it first; `sbx ps` lists the running ones)", name, name)
	}
	other := st.Plan.Network
	if other.Mode == plan.NetHost {
		return fmt.Errorf("--net sandbox:%s: sandbox %s uses the host's network: use --net host", name, name)
	}
	// The user namespace is shared, and with it its max_user_namespaces,
	// which the Go init sets to 0 without --allow-userns: both sandboxes
	// must agree.
	if theirs := st.Plan.Security.AllowUserns; theirs != allowUserns {
		if theirs {
			return fmt.Errorf("--net sandbox:%s: sandbox %s allows user namespaces (--allow-userns) in the user namespace it would share with this one: add --allow-userns", name, name)
		}
		return fmt.Errorf("--net sandbox:%s: sandbox %s refuses user namespaces in the user namespace it would share with this one: drop --allow-userns, or start %s with it", name, name, name)
	}
	fd, err := openSandboxPid(st)
	if err != nil {
		return fmt.Errorf("--net sandbox:%s: %w", name, err)
	}
	n.joinFD = fd
	p.Stages.Join = append(p.Stages.Join, plan.NamespaceJoin{FD: extraFD(l.preserve, len(l.extra)), Flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET})
	l.extra = append(l.extra, uintptr(fd))
	// The same names as the other sandbox: its DNS forwarder is here too.
	p.Network.DNS, p.Network.Hosts = other.DNS, other.Hosts
	if len(p.Network.DNS) == 0 && other.UserMode() {
		p.Network.DNS = []string{network.DNSForwarder}
	}
	p.Stages.UIDMap, p.Stages.GIDMap = st.Plan.Stages.UIDMap, st.Plan.Stages.GIDMap
	p.Stages.UIDMapHelper, p.Stages.GIDMapHelper, p.Stages.SetgroupsDeny = "", "", false
	return nil
}

// started closes what stage 0 has its own copy of now.
func (n *netStart) started() {
	if n.joinFD >= 0 {
		unix.Close(n.joinFD)
		n.joinFD = -1
	}
}

// startHelper starts the user-mode network's helper for pid 1 pid: the
// launcher's slot between "pid 1 exists" and "pid 1 may go on".
func (n *netStart) startHelper(pid int) error {
	h, err := network.Start(n.network, pid, n.udp)
	n.udp.Close()
	n.helper = h
	return err
}

// close releases what is left. Once a sandbox that published ports has
// ended, it waits for the helper to be gone (it ends with the sandbox, in
// some 20 ms: the kernel takes that long to drop its tap device), so that
// the ports are free again when sbx exits; without ports nothing needs the
// wait, and sbx exits at once.
func (n *netStart) close(ended bool) {
	n.started()
	n.udp.Close()
	if ended && len(n.network.Ports) > 0 {
		n.helper.Wait()
	}
}

// files are the private /etc/resolv.conf and /etc/hosts of network nw
// (see network.Files): the host's own are read for what they keep, but for
// a --rootfs of its own, whose hosts are its own business.
func netFiles(nw plan.Network, hostname string, ownRoot bool) []plan.Mount {
	hosts := "/etc/hosts"
	if ownRoot {
		hosts = ""
	}
	return network.Files(nw, hostname, "/etc/resolv.conf", hosts)
}

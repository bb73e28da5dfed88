package desktop

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Missing is the error of a share whose piece the caller's session lacks:
// what is missing, and what to do about it.
type Missing struct {
	Problem, Fix string
}

func (m *Missing) Error() string { return m.Problem + ": " + m.Fix }

// checkSocket fails unless path is a unix socket.
func checkSocket(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s does not exist", path)
		}
		return err
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s is not a unix socket", path)
	}
	return nil
}

// Offer says whether the caller's session offers one share, for sbx check.
type Offer struct {
	Name string
	// Err is why the share cannot be given; nil when it can.
	Err error
	// Gives is what the share would give, when Err is nil.
	Gives string
}

// Offers resolves each share (with no value) as sbx run would, without
// changing anything (Session.Probe), and says what each would give or why
// it cannot.
func Offers(s Session) []Offer {
	s.Probe = true
	var offers []Offer
	for _, name := range Names() {
		g := &Grant{}
		o := Offer{Name: name}
		if o.Err = shares[name].resolve(Share{Name: name}, s, g); o.Err == nil {
			o.Gives = g.describe()
		}
		offers = append(offers, o)
	}
	return offers
}

// describe says in a line what g gives.
func (g *Grant) describe() string {
	var parts []string
	for _, op := range g.Ops {
		parts = append(parts, "--"+op.Kind+" "+op.Arg)
	}
	for _, f := range g.Files {
		parts = append(parts, "a file at "+f.Dst)
	}
	for _, e := range g.Env {
		parts = append(parts, e)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

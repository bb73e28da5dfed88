package hostcheck

import (
	"errors"
	"os"

	"github.com/sbx-sandbox/sbx/desktop"
)

// shares says, a fact per --share NAME, whether the caller's desktop
// session offers it: what sbx run --share NAME would give, or what is
// missing. A missing piece is a warning: sbx works without it.
func shares() []Fact {
	var facts []Fact
	for _, o := range desktop.Offers(desktop.Session{Getenv: os.Getenv, UID: os.Getuid()}) {
		f := Fact{Name: "share " + o.Name}
		var m *desktop.Missing
		switch {
		case o.Err == nil:
			f.Status, f.Detail = OK, o.Gives
		case errors.As(o.Err, &m):
			f.Status, f.Detail, f.Fix = Warn, "not offered: "+m.Problem, m.Fix
		default:
			f.Status, f.Detail, f.Fix = Warn, "not offered: "+o.Err.Error(), "see README, Desktop programs"
		}
		facts = append(facts, f)
	}
	return facts
}

package desktop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// homesDir is where the default private homes are, under the caller's
// home: ~/.local/share/sbx/homes/NAME.
const homesDir = ".local/share/sbx/homes"

// resolveHome gives the sandbox a persistent home of its own instead of
// the caller's: DIR (home=DIR), by default ~/.local/share/sbx/homes/NAME
// where NAME is the sandbox's --name or else the command's base name,
// bound read-write at the caller's $HOME, with HOME set to it. DIR is made
// (mode 0700) if missing, and must be a directory of the caller's. The
// working directory, where it lies below $HOME, is bound again over it
// (see sandbox.planRest): it stays shared as always.
func resolveHome(sh Share, s Session, g *Grant) error {
	home := s.Getenv("HOME")
	if !filepath.IsAbs(home) {
		return &Missing{"HOME is not set", "set HOME to your home directory: the private home goes there"}
	}
	home = filepath.Clean(home)
	if strings.Contains(home, ":") {
		return fmt.Errorf("HOME=%s has a colon, which a bind cannot take", home)
	}
	var dir string
	switch {
	case sh.HasValue && sh.Value == "":
		return errors.New("the directory is empty: write --share home=DIR, or --share home for " + filepath.Join("~", homesDir, "NAME"))
	case sh.HasValue:
		abs, err := filepath.Abs(sh.Value)
		if err != nil {
			return err
		}
		dir = abs
	default:
		name := s.Sandbox
		if name == "" && s.Command != "" {
			name = filepath.Base(s.Command)
		}
		if name == "" && s.Probe {
			name = "NAME"
		}
		if name == "" || name == "." || name == ".." || name == "/" || strings.ContainsAny(name, "/:") {
			return fmt.Errorf("no name for the private home (the command is %q): give the sandbox a --name, or write --share home=DIR", s.Command)
		}
		dir = filepath.Join(home, homesDir, name)
	}
	if holds(dir, home) {
		return fmt.Errorf("%s is your home or holds it, not a private home: use --bind to share it", dir)
	}
	made, err := ownDir(dir, s)
	if err != nil {
		return err
	}
	if made && !sh.HasValue {
		by := "the sandbox's --name"
		if s.Sandbox == "" {
			by = "the command: --name NAME or --share home=DIR picks another"
		}
		g.Notes = append(g.Notes, fmt.Sprintf("--share home: made the private home %s (named after %s)", dir, by))
	}
	// What is bound is the directory checked, by its path without links:
	// a link at homes/NAME (planted by a sandbox that could write there)
	// must not lead the next run to another directory, the caller's home
	// least of all.
	if st, err := os.Lstat(dir); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("the private home %s is a symbolic link: name the directory it leads to, if that is what you want", dir)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		realHome, err := filepath.EvalSymlinks(home)
		if err != nil {
			realHome = home
		}
		if holds(real, realHome) {
			return fmt.Errorf("%s (%s) is your home or holds it, not a private home: use --bind to share it", dir, real)
		}
		if strings.Contains(real, ":") {
			return fmt.Errorf("the private home %s has a colon in its path (%s), which a bind cannot take", dir, real)
		}
		dir = real
	} else if !s.Probe {
		return fmt.Errorf("the private home: %w", err)
	}
	g.Ops = append(g.Ops, Op{Kind: "bind", Arg: dir + ":" + home})
	g.Env = append(g.Env, "HOME="+home)
	return nil
}

// holds reports whether dir is path or one of its ancestors (both clean
// and absolute).
func holds(dir, path string) bool {
	return dir == path || dir == "/" || strings.HasPrefix(path+"/", dir+"/")
}

// ownDir makes dir (mode 0700, with its missing parents) unless it exists,
// and checks that it is a directory of the caller's; made says it made it.
// When probing, it makes nothing.
func ownDir(dir string, s Session) (made bool, err error) {
	st, err := os.Stat(dir)
	if _, lerr := os.Lstat(dir); errors.Is(err, os.ErrNotExist) && errors.Is(lerr, os.ErrNotExist) {
		if s.Probe {
			return false, nil
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return false, fmt.Errorf("make the private home: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return false, fmt.Errorf("make the private home: %w", err)
		}
		made = true
		st, err = os.Stat(dir)
	}
	if err != nil {
		return made, fmt.Errorf("the private home: %w", err)
	}
	if !st.IsDir() {
		return made, fmt.Errorf("the private home %s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != s.UID {
		return made, fmt.Errorf("the private home %s is not yours (owner %d): pick a directory of your own", dir, sys.Uid)
	}
	return made, nil
}

package profile

import (
	"fmt"
	"path/filepath"
	"strings"
)

// xdgDefaults are the XDG base directories a profile may name, with their
// defaults under $HOME (from the XDG Base Directory specification).
var xdgDefaults = map[string]string{
	"XDG_CONFIG_HOME": ".config",
	"XDG_DATA_HOME":   ".local/share",
	"XDG_STATE_HOME":  ".local/state",
	"XDG_CACHE_HOME":  ".cache",
}

// Variables are the names a profile's values may use, for messages.
const Variables = "~, $HOME, $XDG_CONFIG_HOME, $XDG_DATA_HOME, $XDG_STATE_HOME, $XDG_CACHE_HOME, $XDG_RUNTIME_DIR ($$ for a $)"

// expandValue replaces ~ and the variables of the package comment in v,
// reading the caller's environment with getenv.
func expandValue(v string, getenv func(string) string) (string, error) {
	if !strings.ContainsAny(v, "~$") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '~' && (i == 0 || v[i-1] == ':') && (i+1 == len(v) || v[i+1] == '/' || v[i+1] == ':'):
			home, err := variable("HOME", getenv)
			if err != nil {
				return "", err
			}
			b.WriteString(home)
		case c == '$' && i+1 < len(v) && v[i+1] == '$':
			b.WriteByte('$')
			i++
		case c == '$' && i+1 < len(v) && v[i+1] == '{':
			end := strings.IndexByte(v[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: ${ without its }", v)
			}
			val, err := variable(v[i+2:i+end], getenv)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i += end
		case c == '$' && i+1 < len(v) && isNameStart(v[i+1]):
			j := i + 1
			for j < len(v) && (isNameStart(v[j]) || v[j] >= '0' && v[j] <= '9') {
				j++
			}
			val, err := variable(v[i+1:j], getenv)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// variable is the value of one variable a profile may name.
func variable(name string, getenv func(string) string) (string, error) {
	switch name {
	case "HOME":
		home := getenv("HOME")
		if !filepath.IsAbs(home) {
			return "", fmt.Errorf("$HOME (or ~) is used but HOME is not an absolute path (%q): set it", home)
		}
		return filepath.Clean(home), nil
	case "XDG_RUNTIME_DIR":
		dir := getenv(name)
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("$XDG_RUNTIME_DIR is used but XDG_RUNTIME_DIR is not an absolute path (%q): set it", dir)
		}
		return filepath.Clean(dir), nil
	}
	if def, ok := xdgDefaults[name]; ok {
		if dir := getenv(name); filepath.IsAbs(dir) {
			return filepath.Clean(dir), nil
		}
		home, err := variable("HOME", getenv)
		if err != nil {
			return "", fmt.Errorf("$%s is used but neither it nor HOME is an absolute path: set one", name)
		}
		return filepath.Join(home, def), nil
	}
	return "", fmt.Errorf("$%s: a profile expands only %s", name, Variables)
}

// Package profile reads sbx run's profiles: files of sbx run's flags, found
// by name, that sbx run expands in place of --profile NAME.
//
// # Format
//
// A profile holds one flag per line, written as on the command line:
//
//	# a comment: a line whose first non-blank character is #
//	--share wayland
//	--ro-bind-try ~/Documents
//	--net=none
//	--no-cwd
//
// A line is a flag (--NAME, or -X for a flag with a short name), then,
// for a flag that takes a value, one blank or an = and the value: the rest
// of the line, blanks at either end removed, taken verbatim. There is no
// quoting (a quote is a quote, a path with blanks needs none) and no
// comment after a flag (# may be part of a path). Blank lines are skipped.
//
// This format rather than TOML: a profile reads as the command line it
// stands for and `sbx profile show` prints one that can be pasted back; no
// library is needed; it is bwrap's --args FD and firejail's profiles' way;
// and the view flags keep their order across different flags (--tmpfs ~
// then --ro-bind-try ~/Documents), which is what they mean and what a TOML
// table, keyed by flag name, would lose.
//
// # Expansion
//
// In a value, and nowhere else, exactly these are replaced:
//   - ~ at the start of the value or right after a colon, when followed by
//     a slash, a colon or the end: the caller's $HOME;
//   - $HOME and ${HOME};
//   - $XDG_CONFIG_HOME, $XDG_DATA_HOME, $XDG_STATE_HOME, $XDG_CACHE_HOME
//     (and the ${...} forms): the caller's value when it is an absolute
//     path, else the XDG default ($HOME/.config, $HOME/.local/share,
//     $HOME/.local/state, $HOME/.cache);
//   - $XDG_RUNTIME_DIR: the caller's value (an error when it is not an
//     absolute path);
//   - $$: one $.
//
// Any other $NAME or ${NAME} is an error: a profile does not read the
// caller's environment beyond these. Relative paths stay relative: sbx run
// resolves them against its working directory, as on the command line.
//
// # Including
//
// A --profile line includes another profile there, in place; profiles
// nest up to MaxDepth deep, and one that includes itself is an error.
// --, which would start the command, cannot be in a profile.
package profile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Flag is one flag of a profile, after expansion.
type Flag struct {
	// Name is the flag's long name, without dashes.
	Name string
	// Value is its value, when HasValue.
	Value    string
	HasValue bool
}

// Arg is the flag as one command-line argument: --NAME or --NAME=VALUE
// (which kong reads as the flag's value even when it starts with a dash).
func (f Flag) Arg() string {
	if f.HasValue {
		return "--" + f.Name + "=" + f.Value
	}
	return "--" + f.Name
}

// String is the flag as a line of a profile.
func (f Flag) String() string {
	if f.HasValue {
		return "--" + f.Name + " " + f.Value
	}
	return "--" + f.Name
}

// Spec tells which flags a profile may hold: for a long name (without
// dashes) or a short one (one letter), the flag's long name and whether it
// takes a value; ok is false for a flag that does not exist.
type Spec func(name string) (long string, takesValue, ok bool)

// line is one flag line of a file, before expansion.
type line struct {
	no       int
	name     string // long name
	value    string
	hasValue bool
	written  string // the flag as written, for messages
}

// parse reads the lines of a profile. where names the file in errors.
func parse(data []byte, where string, spec Spec) ([]line, error) {
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for no := 1; sc.Scan(); no++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l, err := parseLine(text, spec)
		if err != nil {
			return nil, fmt.Errorf("profile %s, line %d: %w", where, no, err)
		}
		l.no = no
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("profile %s: %w", where, err)
	}
	return out, nil
}

// parseLine reads one flag line: the flag, then its value after a blank
// or an =.
func parseLine(text string, spec Spec) (line, error) {
	if text == "--" {
		return line{}, errors.New("-- cannot be in a profile: the command goes after -- on the command line")
	}
	end := strings.IndexAny(text, " \t")
	if end < 0 {
		end = len(text)
	}
	flag, value := text[:end], strings.TrimSpace(text[end:])
	hasValue := end < len(text)
	var name string
	switch {
	case strings.HasPrefix(flag, "--") && len(flag) > 2:
		name = flag[2:]
		if i := strings.IndexByte(flag, '='); i >= 0 {
			name, flag = flag[2:i], flag[:i]
			value, hasValue = strings.TrimSpace(text[i+1:]), true
		}
	case len(flag) == 2 && flag[0] == '-' && flag[1] != '-':
		name = flag[1:]
	default:
		return line{}, fmt.Errorf("%q is not a flag: a line holds one flag of sbx run (--NAME [VALUE]), a # comment, or nothing", text)
	}
	long, takesValue, ok := spec(name)
	if !ok {
		return line{}, fmt.Errorf("%s is not a flag of sbx run (see sbx run --help)", flag)
	}
	switch {
	case takesValue && value == "":
		return line{}, fmt.Errorf("%s needs a value on its line (%s VALUE)", flag, flag)
	case !takesValue && hasValue:
		return line{}, fmt.Errorf("%s takes no value", flag)
	}
	return line{name: long, value: value, hasValue: takesValue, written: flag}, nil
}

package profile

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// MaxDepth is how deep profiles may include one another.
const MaxDepth = 8

// SystemDir is where the administrator's profiles are.
const SystemDir = "/etc/sbx/profiles"

//go:embed shipped
var shippedFiles embed.FS

// Shipped are the profiles shipped inside sbx, one file per name.
func Shipped() fs.FS {
	sub, err := fs.Sub(shippedFiles, "shipped")
	if err != nil {
		panic(err)
	}
	return sub
}

// Finder finds profiles by name and expands them.
type Finder struct {
	// Dirs are searched in order; then Shipped.
	Dirs    []string
	Shipped fs.FS
	// Getenv reads the caller's environment, for the expansion of values.
	Getenv func(string) string
	Spec   Spec
}

// New returns the Finder of sbx: the caller's profiles
// ($XDG_CONFIG_HOME/sbx/profiles, by default ~/.config/sbx/profiles),
// the administrator's (/etc/sbx/profiles), then the shipped ones.
func New(spec Spec, getenv func(string) string) *Finder {
	var dirs []string
	if cfg, err := variable("XDG_CONFIG_HOME", getenv); err == nil {
		dirs = append(dirs, filepath.Join(cfg, "sbx", "profiles"))
	}
	dirs = append(dirs, SystemDir)
	return &Finder{Dirs: dirs, Shipped: Shipped(), Getenv: getenv, Spec: spec}
}

// Source is a profile found: a file, or a shipped one (Path "").
type Source struct {
	Name string
	Path string
	data []byte
}

// String names where the profile is from, for messages and sbx profile
// list.
func (s Source) String() string {
	if s.Path == "" {
		return "shipped"
	}
	return s.Path
}

// where names the profile in errors.
func (s Source) where() string {
	if s.Path == "" {
		return s.Name + " (shipped)"
	}
	return s.Path
}

// validName is a profile's name: a file name with no slash, not hidden.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+@-]*$`)

// Find finds the profile name: a path when it holds a slash (relative to
// dir, when dir is not ""), else the first file of that name in f.Dirs,
// else the shipped profile of that name.
func (f *Finder) Find(name, dir string) (Source, error) {
	if strings.Contains(name, "/") {
		path := name
		if dir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := readProfile(path)
		if err != nil {
			return Source{}, fmt.Errorf("profile %s: %w", name, err)
		}
		return Source{Name: name, Path: path, data: data}, nil
	}
	if !validName.MatchString(name) {
		return Source{}, fmt.Errorf("profile %q: not a profile's name (letters, digits, _ . + @ -), nor a path (with a /)", name)
	}
	for _, d := range f.Dirs {
		path := filepath.Join(d, name)
		data, err := readProfile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Source{}, fmt.Errorf("profile %s: %w", name, err)
		}
		return Source{Name: name, Path: path, data: data}, nil
	}
	if data, err := fs.ReadFile(f.Shipped, name); err == nil {
		return Source{Name: name, data: data}, nil
	}
	return Source{}, fmt.Errorf("profile %q not found: looked in %s, and among the shipped ones (%s)",
		name, strings.Join(f.Dirs, ", "), strings.Join(f.shippedNames(), ", "))
}

// readProfile reads a profile's file: a regular file (a link to one is
// followed).
func readProfile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.ReadFile(path)
}

func (f *Finder) shippedNames() []string {
	var names []string
	entries, _ := fs.ReadDir(f.Shipped, ".")
	for _, e := range entries {
		if !e.IsDir() && validName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

// Expand finds the profile name and returns its flags, expanded, with the
// profiles it includes expanded in their place.
func (f *Finder) Expand(name string) ([]Flag, error) {
	return f.expand(name, "", nil)
}

// expand expands name, included from a file in dir ("" for the command
// line or a shipped profile), by the chain of profiles stack.
func (f *Finder) expand(name, dir string, stack []string) ([]Flag, error) {
	src, err := f.Find(name, dir)
	if err != nil {
		return nil, err
	}
	key := src.where()
	for _, s := range stack {
		if s == key {
			return nil, fmt.Errorf("profile %s includes itself (%s)", key, strings.Join(append(stack, key), " > "))
		}
	}
	stack = append(stack, key)
	if len(stack) > MaxDepth {
		return nil, fmt.Errorf("profile %s: profiles nest more than %d deep", key, MaxDepth)
	}
	lines, err := parse(src.data, key, f.Spec)
	if err != nil {
		return nil, err
	}
	subdir := ""
	if src.Path != "" {
		subdir = filepath.Dir(src.Path)
	}
	var out []Flag
	for _, l := range lines {
		value := l.value
		if l.hasValue {
			if value, err = expandValue(l.value, f.Getenv); err != nil {
				return nil, fmt.Errorf("profile %s, line %d: %s: %w", key, l.no, l.written, err)
			}
		}
		if l.name == "profile" {
			sub, err := f.expand(value, subdir, stack)
			if err != nil {
				return nil, fmt.Errorf("profile %s, line %d: %w", key, l.no, err)
			}
			out = append(out, sub...)
			continue
		}
		out = append(out, Flag{Name: l.name, Value: value, HasValue: l.hasValue})
	}
	return out, nil
}

// Entry is a profile sbx profile list shows: its name and where the one
// used is from.
type Entry struct {
	Name string
	From Source
}

// List lists the profiles found by name: each name once, from where Find
// would take it, sorted by name.
func (f *Finder) List() ([]Entry, error) {
	seen := map[string]bool{}
	var out []Entry
	for _, d := range f.Dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(d, e.Name())
			if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || !validName.MatchString(e.Name()) || seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			out = append(out, Entry{Name: e.Name(), From: Source{Name: e.Name(), Path: path}})
		}
	}
	for _, n := range f.shippedNames() {
		if !seen[n] {
			seen[n] = true
			out = append(out, Entry{Name: n, From: Source{Name: n}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

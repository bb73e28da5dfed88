package main

import (
	"os"
	"reflect"
	"strings"
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/sandbox"
)

// newParser builds kong's model of the command line in c, a pointer to cli
// or to a struct that holds some of cli's commands.
func newParser(c any, extra ...kong.Option) (*kong.Kong, error) {
	opts := []kong.Option{
		kong.Name("sbx"),
		kong.Description("A rootless sandbox: run a command in new namespaces as an ordinary user.\n\nExample: sbx run -- sh"),
		kong.Exit(func(code int) { os.Exit(code) }),
		kong.ExplicitGroups([]kong.Group{{
			Key:   "view",
			Title: "Filesystem view",
			Description: "These apply in command-line order, after the defaults (/, /proc, /dev, /tmp, the working directory), " +
				"so a later one covers an earlier one: --tmpfs /home --bind ~/src:/home/me/src.",
		}, {
			Key:         "desktop",
			Title:       "Desktop",
			Description: "What a desktop program needs from your session, and nothing else of it: each share binds its socket or devices and sets the variables that name them.",
		}, {
			Key:   "security",
			Title: "Security",
			Description: "Always on: no_new_privs, a new session, only stdio passed on, the seccomp profile, no nested user namespaces. A non-root command has no capabilities; " +
				"uid 0 has CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.",
		}}),
	}
	return kong.New(c, append(opts, extra...)...)
}

// parse parses the command line args (without the program's name).
//
// kong builds its model by reflection over the tags of every field of
// every command: in a fresh process that costs about 2 ms of each start of
// sbx, sbx run included, spent mostly on the commands that are not run
// (the model of sbx version alone takes 0.3 ms, that of sbx run 1.3 ms:
// its 40 flags). So when args start with the name of a command and ask for
// no help, a model of that command alone parses them first: for what it
// accepts, it answers as the full model does. Everything else is parsed
// with the full model, so that help, no command, an unknown one, flags
// before the command and every error read exactly as before.
func parse(args []string) (*kong.Context, error) {
	if kctx, ok := parseOne(args); ok {
		return kctx, nil
	}
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		fail(sandbox.ExitSbxFailed, err)
	}
	return parser.Parse(args)
}

// parseOne parses args with the model of the command args[0] names alone,
// if it names one, args ask for no help and that model accepts them.
func parseOne(args []string) (*kong.Context, bool) {
	field, ok := commandField(args)
	if !ok || asksHelp(args) {
		return nil, false
	}
	one := reflect.New(reflect.StructOf([]reflect.StructField{field}))
	if parser, err := newParser(one.Interface()); err == nil {
		if kctx, err := parser.Parse(args); err == nil {
			return kctx, true
		}
	}
	// Flags of sbx run that kong decoded record themselves as they go:
	// forget them before parsing again.
	recordedView = nil
	return nil, false
}

// asksHelp reports whether an argument before "--" may be kong's help
// flag: --help, or -h alone or among other short flags (or what only looks
// like them, such as the value of a flag: the full model then sorts it
// out).
func asksHelp(args []string) bool {
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--help" || strings.HasPrefix(a, "--help="):
			return true
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.ContainsRune(a, 'h'):
			return true
		}
	}
	return false
}

// commandField returns the field of cli that holds the command args[0]
// names, if it names one.
func commandField(args []string) (reflect.StructField, bool) {
	if len(args) == 0 {
		return reflect.StructField{}, false
	}
	t := reflect.TypeFor[cli]()
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("cmd"); !ok {
			continue
		}
		for _, name := range commandNames(f) {
			if name == args[0] {
				return f, true
			}
		}
	}
	return reflect.StructField{}, false
}

// commandNames are the names kong gives the command of field f: its name
// tag, or its Go name lower-cased with a dash between words, and its
// aliases.
func commandNames(f reflect.StructField) []string {
	name := f.Tag.Get("name")
	if name == "" {
		var b strings.Builder
		for i, r := range f.Name {
			if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(f.Name[i-1])) {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		}
		name = b.String()
	}
	names := []string{name}
	if a := f.Tag.Get("aliases"); a != "" {
		names = append(names, strings.Split(a, ",")...)
	}
	return names
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
)

// completionCmd is sbx completion SHELL: a completion script made from
// kong's model, so that it names every command and flag --help names.
type completionCmd struct {
	Shell string `arg:"" name:"shell" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *completionCmd) Run() error {
	app, err := fullModel()
	if err != nil {
		return err
	}
	cmds := describe(app)
	switch c.Shell {
	case "bash":
		writeBash(os.Stdout, cmds)
	case "zsh":
		writeZsh(os.Stdout, cmds)
	case "fish":
		writeFish(os.Stdout, cmds)
	}
	return nil
}

// cmdSpec is what completion knows of a command ("" names sbx itself).
type cmdSpec struct {
	Name  string
	Help  string
	Flags []flagSpec
	// Names: its first argument is a sandbox's name (completed from sbx
	// ps); Command: it takes a command line after --; Commands: its
	// arguments are sbx's commands (sbx help); Enum: its argument's
	// values.
	Names, Command, Commands bool
	Enum                     []string
}

// flagSpec is one flag of a command.
type flagSpec struct {
	Long        string
	Short       rune
	Help        string
	Value       bool // takes a value
	Placeholder string
	Enum        []string
	// Listed is a shell command that prints its values, one per line.
	Listed string
}

// describe walks kong's model: sbx's own flags first (Name ""), then each
// command that is not hidden, in the order of --help.
func describe(app *kong.Application) []cmdSpec {
	root := cmdSpec{Flags: flagsOf(app.Node)}
	if app.HelpFlag != nil && !hasFlag(root.Flags, app.HelpFlag.Name) {
		root.Flags = append(root.Flags, flagOf(app.HelpFlag))
	}
	out := []cmdSpec{root}
	for _, n := range app.Children {
		if n.Hidden || n.Type != kong.CommandNode {
			continue
		}
		c := cmdSpec{Name: n.Name, Help: n.Help, Flags: flagsOf(n)}
		if app.HelpFlag != nil {
			c.Flags = append(c.Flags, flagOf(app.HelpFlag))
		}
		for i, p := range n.Positional {
			switch {
			case p.PassthroughMode != kong.PassThroughModeNone || p.Passthrough:
				c.Command = true
			case i == 0 && (p.Name == "name" || p.Name == "names"):
				c.Names = true
			case p.Name == "command":
				c.Commands = true
			case i == 0 && p.Enum != "":
				c.Enum = p.EnumSlice()
			}
		}
		// A command of commands (sbx profile): its first argument is one
		// of them.
		for _, sub := range n.Children {
			if sub.Type == kong.CommandNode && !sub.Hidden {
				c.Enum = append(c.Enum, sub.Name)
			}
		}
		out = append(out, c)
	}
	return out
}

func flagsOf(n *kong.Node) []flagSpec {
	var out []flagSpec
	for _, f := range n.Flags {
		if !f.Hidden {
			out = append(out, flagOf(f))
		}
	}
	return out
}

func flagOf(f *kong.Flag) flagSpec {
	s := flagSpec{Long: f.Name, Short: f.Short, Help: f.Help, Value: !f.IsBool() && !f.IsCounter(), Placeholder: f.FormatPlaceHolder()}
	switch {
	case f.Name == "profile":
		s.Listed = profileNames
	case f.Enum != "":
		s.Enum = f.EnumSlice()
	case s.Value:
		s.Enum = placeholderValues(f.PlaceHolder)
	}
	return s
}

// placeholderValues are the values a placeholder such as auto|single
// lists, when it lists only words (not unconfined|FILE).
func placeholderValues(p string) []string {
	vals := strings.Split(p, "|")
	if len(vals) < 2 {
		return nil
	}
	for _, v := range vals {
		if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil
		}
	}
	return vals
}

func hasFlag(flags []flagSpec, long string) bool {
	for _, f := range flags {
		if f.Long == long {
			return true
		}
	}
	return false
}

// words are the flag names of a command, as typed.
func (c cmdSpec) words() []string {
	var w []string
	for _, f := range c.Flags {
		w = append(w, "--"+f.Long)
		if f.Short != 0 {
			w = append(w, "-"+string(f.Short))
		}
	}
	return w
}

// valueFlags are the names of the flags that take a value.
func (c cmdSpec) valueFlags() []string {
	var w []string
	for _, f := range c.Flags {
		if f.Value {
			w = append(w, "--"+f.Long)
			if f.Short != 0 {
				w = append(w, "-"+string(f.Short))
			}
		}
	}
	return w
}

// commandNames are the names of the commands (not sbx itself).
func cmdNames(cmds []cmdSpec) []string {
	var names []string
	for _, c := range cmds[1:] {
		names = append(names, c.Name)
	}
	return names
}

// sandboxNames is the shell command that lists the sandboxes' names: the
// first column of sbx ps, past its header.
const sandboxNames = `sbx ps 2>/dev/null | awk 'NR > 1 { print $1 }'`

// profileNames is the shell command that lists the profiles' names, for
// sbx run --profile.
const profileNames = `sbx profile list 2>/dev/null | awk 'NR > 1 { print $1 }'`

func writeBash(w io.Writer, cmds []cmdSpec) {
	fmt.Fprintf(w, `# bash completion for sbx: source it, or save it as
# /usr/share/bash-completion/completions/sbx (made by sbx completion bash).
_sbx() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd= after= i w
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			[[ $w == -* ]] || cmd=$w
		elif [[ $w == -- ]]; then
			after=$i
			break
		fi
	done
	if [[ -n $after ]]; then
		# the command line after --: a command, then files
		if ((COMP_CWORD == after + 1)); then
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	case $cmd in
`)
	for _, c := range cmds {
		name := c.Name
		if name == "" {
			name = "''"
		}
		fmt.Fprintf(w, "\t%s)\n", name)
		if vf := c.valueFlags(); len(vf) > 0 {
			fmt.Fprintf(w, "\t\tcase $prev in\n")
			for _, f := range c.Flags {
				switch {
				case f.Value && f.Listed != "":
					fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -W \"$(%s)\" -- \"$cur\")); return ;;\n", flagAlts(f), f.Listed)
				case f.Value && len(f.Enum) > 0:
					fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -W %s -- \"$cur\")); return ;;\n", flagAlts(f), shellQuote(strings.Join(f.Enum, " ")))
				}
			}
			fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(vf, "|"))
			fmt.Fprintf(w, "\t\tesac\n")
		}
		fmt.Fprintf(w, "\t\tif [[ $cur == -* ]]; then\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellQuote(strings.Join(c.words(), " ")))
		switch {
		case c.Name == "":
			fmt.Fprintf(w, "\t\telse\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellQuote(strings.Join(cmdNames(cmds), " ")))
		case c.Names:
			fmt.Fprintf(w, "\t\telse\n\t\t\tCOMPREPLY=($(compgen -W \"$(%s)\" -- \"$cur\"))\n", sandboxNames)
		case c.Commands:
			fmt.Fprintf(w, "\t\telse\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellQuote(strings.Join(cmdNames(cmds), " ")))
		case len(c.Enum) > 0:
			fmt.Fprintf(w, "\t\telse\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellQuote(strings.Join(c.Enum, " ")))
		}
		fmt.Fprintf(w, "\t\tfi\n\t\t;;\n")
	}
	fmt.Fprintf(w, "\tesac\n}\ncomplete -o default -F _sbx sbx\n")
}

// flagAlts is a flag's names as a case pattern: -e|--env.
func flagAlts(f flagSpec) string {
	if f.Short != 0 {
		return "-" + string(f.Short) + "|--" + f.Long
	}
	return "--" + f.Long
}

func writeZsh(w io.Writer, cmds []cmdSpec) {
	fmt.Fprintf(w, `#compdef sbx
# zsh completion for sbx: save it as _sbx in a directory of $fpath, or
# source it after compinit (made by sbx completion zsh).
_sbx_names() {
	local -a names
	names=(${(f)"$(%s)"})
	_describe -t sandboxes sandbox names
}

_sbx_profiles() {
	local -a names
	names=(${(f)"$(%s)"})
	_describe -t profiles profile names
}

_sbx() {
	local -a commands
	commands=(
`, sandboxNames, profileNames)
	for _, c := range cmds[1:] {
		fmt.Fprintf(w, "\t\t%s\n", shellQuote(zshDescribe(c.Name)+":"+zshDescribe(c.Help)))
	}
	fmt.Fprintf(w, "\t)\n\tif ((CURRENT == 2)); then\n\t\t_describe -t commands command commands\n")
	fmt.Fprintf(w, "\t\t_arguments -s %s\n\t\treturn\n\tfi\n", zshSpecs(cmds[0].Flags))
	fmt.Fprintf(w, "\tlocal cmd=$words[2]\n\tshift words\n\t((CURRENT--))\n\tcase $cmd in\n")
	for _, c := range cmds[1:] {
		args := zshSpecs(c.Flags)
		switch {
		case c.Names:
			args += " ':sandbox:_sbx_names'"
		case c.Commands:
			args += " ':command:(" + strings.Join(cmdNames(cmds), " ") + ")'"
		case len(c.Enum) > 0:
			args += " ':" + c.Name + ":(" + strings.Join(c.Enum, " ") + ")'"
		}
		if c.Command {
			args += " '*::command line:_normal'"
		}
		fmt.Fprintf(w, "\t%s)\n\t\t_arguments -s -S %s\n\t\t;;\n", c.Name, args)
	}
	fmt.Fprintf(w, "\tesac\n}\n\nif [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n\t_sbx \"$@\"\nelse\n\tcompdef _sbx sbx\nfi\n")
}

// zshSpecs are _arguments specs of flags: '(-e --env)'{-e,--env}'[help]:KEY=VAL:'.
func zshSpecs(flags []flagSpec) string {
	var specs []string
	for _, f := range flags {
		help := "[" + zshBracket(f.Help) + "]"
		value := ""
		if f.Value {
			action := "_files"
			switch {
			case f.Listed == profileNames:
				action = "_sbx_profiles"
			case len(f.Enum) > 0:
				action = "(" + strings.Join(f.Enum, " ") + ")"
			}
			value = ":" + zshDescribe(strings.Trim(f.Placeholder, "<>")) + ":" + action
		}
		repeat := ""
		if f.Value {
			// Repeatable flags (most of run's) may come again.
			repeat = "*"
		}
		if f.Short != 0 {
			specs = append(specs, shellQuote(repeat+"-"+string(f.Short)+help+value), shellQuote(repeat+"--"+f.Long+help+value))
		} else {
			specs = append(specs, shellQuote(repeat+"--"+f.Long+help+value))
		}
	}
	return strings.Join(specs, " ")
}

// zshBracket makes text safe inside an _arguments [description].
func zshBracket(s string) string {
	r := strings.NewReplacer("[", "(", "]", ")", "\n", " ", "\\", "\\\\")
	return r.Replace(firstSentence(s))
}

// zshDescribe makes text safe as a _describe entry or a message: no colon.
func zshDescribe(s string) string {
	return strings.NewReplacer(":", "\\:", "\n", " ").Replace(firstSentence(s))
}

func writeFish(w io.Writer, cmds []cmdSpec) {
	fmt.Fprintf(w, "# fish completion for sbx: save it as ~/.config/fish/completions/sbx.fish\n# (made by sbx completion fish).\n")
	fmt.Fprintf(w, "complete -c sbx -f\n")
	for _, f := range cmds[0].Flags {
		fmt.Fprintf(w, "complete -c sbx -n __fish_use_subcommand %s\n", fishFlag(f))
	}
	for _, c := range cmds[1:] {
		fmt.Fprintf(w, "complete -c sbx -n __fish_use_subcommand -a %s -d %s\n", c.Name, shellQuote(firstSentence(c.Help)))
	}
	for _, c := range cmds[1:] {
		cond := shellQuote("__fish_seen_subcommand_from " + c.Name + "; and not contains -- -- (commandline -opc)")
		for _, f := range c.Flags {
			fmt.Fprintf(w, "complete -c sbx -n %s %s\n", cond, fishFlag(f))
		}
		switch {
		case c.Names:
			fmt.Fprintf(w, "complete -c sbx -n %s -a %s\n", cond, shellQuote("("+sandboxNames+")"))
		case c.Commands:
			fmt.Fprintf(w, "complete -c sbx -n %s -a %s\n", cond, shellQuote(strings.Join(cmdNames(cmds), " ")))
		case len(c.Enum) > 0:
			fmt.Fprintf(w, "complete -c sbx -n %s -a %s\n", cond, shellQuote(strings.Join(c.Enum, " ")))
		}
		if c.Command {
			after := shellQuote("__fish_seen_subcommand_from " + c.Name + "; and contains -- -- (commandline -opc)")
			fmt.Fprintf(w, "complete -c sbx -n %s -F -a %s\n", after, shellQuote("(__fish_complete_subcommand -- --)"))
		}
	}
}

// fishFlag is a flag's part of a fish complete line.
func fishFlag(f flagSpec) string {
	s := "-l " + f.Long
	if f.Short != 0 {
		s += " -s " + string(f.Short)
	}
	if f.Value {
		s += " -r"
		if f.Listed != "" {
			s += " -x -a " + shellQuote("("+f.Listed+")")
		} else if len(f.Enum) > 0 {
			s += " -x -a " + shellQuote(strings.Join(f.Enum, " "))
		} else {
			s += " -F"
		}
	}
	return s + " -d " + shellQuote(firstSentence(f.Help))
}

// firstSentence is the summary of a help text: up to the first ". "
// before a capital (not "e.g. net" nor "3 .. 3+N-1").
func firstSentence(s string) string {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' && s[i+2] >= 'A' && s[i+2] <= 'Z' && (i == 0 || s[i-1] != '.') {
			return s[:i+1]
		}
	}
	return strings.TrimSpace(s)
}

// shellQuote quotes s for sh, bash, zsh and fish alike: in single quotes,
// each single quote of s closed, escaped with a backslash and opened
// again.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// stampsEnv names the file sbx appends its time stamps to (package stamp):
// one line "LABEL NANOSECONDS" per step, in CLOCK_MONOTONIC, from each of
// its processes.
const stampsEnv = "SBX_STAMPS"

// steps prints where the time of a start goes: for sbx run and sbx exec
// (the latter timed by join, while its sandbox runs), the median offset of
// each step sbx stamps from the moment bench starts the process.
func (b *bench) steps() {
	fmt.Printf("### Steps\n\n" +
		"Each round has a file of its own in $" + stampsEnv + "; bench stamps `bench.spawn` right before it starts sbx and `bench.reaped` right after it has waited for it. " +
		"Offset: the median over rounds of a step's time since `bench.spawn` (a label stamped more than once in a round counts once, first); " +
		"Δ: the median over rounds of its time since the step of the row above.\n\n")
	stepTable("sbx run -- true", b.stepRounds([]string{b.sbx, "run", "--", "true"}))
	stepTable("sbx exec NAME -- true", b.execSteps)
}

// stepped is the stamps of the rounds of one command, or why there are
// none (or fewer than asked).
type stepped struct {
	rounds []map[string]int64
	err    error
}

// stepRounds runs argv for two warm-up rounds and then b.rounds measured
// ones, each with a fresh stamp file, and returns the earliest stamp of
// each label of each measured round, in nanoseconds since bench.spawn. A
// round that fails ends the rounds.
func (b *bench) stepRounds(argv []string) stepped {
	var s stepped
	for r := -2; r < b.rounds; r++ {
		file := filepath.Join(b.work, fmt.Sprintf("stamps-%s-%d", argv[1], r+2))
		stamps, err := stampedRun(argv, file)
		os.Remove(file)
		if err != nil {
			s.err = err
			return s
		}
		if r >= 0 {
			s.rounds = append(s.rounds, stamps)
		}
	}
	return s
}

// stampedRun runs argv once with $SBX_STAMPS set to file, stamping
// bench.spawn and bench.reaped around it, and reads the stamps back.
func stampedRun(argv []string, file string) (map[string]int64, error) {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), stampsEnv+"="+file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	mark(fd, "bench.spawn")
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	mark(fd, "bench.reaped")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, firstLine(out.String()))
	}
	return readStamps(file)
}

// mark appends "LABEL NANOSECONDS" to fd in one write, as sbx does.
func mark(fd int, label string) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	unix.Write(fd, []byte(label+" "+strconv.FormatInt(ts.Nano(), 10)+"\n"))
}

// readStamps reads a stamp file: lines from several processes, in any
// order, a label perhaps more than once (the earliest counts). It returns
// each label's time since bench.spawn.
func readStamps(file string) (map[string]int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	at := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		if t, ok := at[f[0]]; !ok || ns < t {
			at[f[0]] = ns
		}
	}
	spawn, ok := at["bench.spawn"]
	if !ok {
		return nil, fmt.Errorf("no bench.spawn in %s", file)
	}
	for l := range at {
		at[l] -= spawn
	}
	return at, nil
}

func medianNs(v []int64) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return time.Duration(s[len(s)/2])
}

// stepTable prints the steps of the rounds of one command, sorted by their
// median offset.
func stepTable(title string, s stepped) {
	fmt.Printf("#### `%s`\n\n", title)
	if s.err != nil {
		fmt.Printf("After %d rounds: %v\n\n", len(s.rounds), s.err)
	}
	rounds := s.rounds
	if len(rounds) == 0 {
		if s.err == nil {
			fmt.Printf("Not measured.\n\n")
		}
		return
	}
	offsets := map[string][]int64{}
	for _, r := range rounds {
		for l, ns := range r {
			offsets[l] = append(offsets[l], ns)
		}
	}
	type step struct {
		label  string
		offset time.Duration
	}
	var steps []step
	own := true
	for l, v := range offsets {
		steps = append(steps, step{l, medianNs(v)})
		if !strings.HasPrefix(l, "bench.") {
			own = false
		}
	}
	if own {
		fmt.Printf("The sbx binary writes no stamps (an older sbx, without $%s): only bench's own.\n\n", stampsEnv)
		return
	}
	slices.SortFunc(steps, func(a, c step) int {
		return cmp.Or(cmp.Compare(a.offset, c.offset), strings.Compare(a.label, c.label))
	})
	fmt.Printf("| step | offset | Δ |\n|---|---:|---:|\n")
	var partial []string
	for i, s := range steps {
		delta := ""
		if i > 0 {
			// The step's time since the step of the row above, in the
			// rounds that have both.
			prev := steps[i-1].label
			var d []int64
			for _, r := range rounds {
				a, aok := r[s.label]
				p, pok := r[prev]
				if aok && pok {
					d = append(d, a-p)
				}
			}
			if len(d) > 0 {
				delta = msNs(medianNs(d))
			}
		}
		fmt.Printf("| `%s` | %s | %s |\n", s.label, msNs(s.offset), delta)
		if n := len(offsets[s.label]); n < len(rounds) {
			partial = append(partial, fmt.Sprintf("`%s` (%d)", s.label, n))
		}
	}
	fmt.Println()
	if len(partial) > 0 {
		fmt.Printf("Not stamped in every one of the %d rounds: %s.\n\n", len(rounds), strings.Join(partial, ", "))
	}
}

// msNs prints a duration in milliseconds with three decimals: steps are
// short.
func msNs(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Nanoseconds())/1e6) }

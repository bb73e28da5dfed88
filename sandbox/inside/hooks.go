package inside

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/sbx-sandbox/sbx/plan"
)

// runStartHooks runs an OCI config's startContainer hooks in the
// container, in order, once it is started and before its process: each is
// resolved in the container's root, with its args and env and the
// container's state on stdin. One that fails (or outlasts its timeout)
// fails the container, as the spec says.
func runStartHooks(hooks []plan.Hook, state string) error {
	for i, h := range hooks {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if h.TimeoutSec > 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(h.TimeoutSec)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		if cmd.Env == nil {
			cmd.Env = []string{}
		}
		cmd.Stdin = strings.NewReader(state)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		switch {
		case timedOut:
			return fmt.Errorf("hooks.startContainer[%d] (%s): timed out after %ds", i, h.Path, h.TimeoutSec)
		case err != nil:
			return fmt.Errorf("hooks.startContainer[%d] (%s): %v: %s", i, h.Path, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}

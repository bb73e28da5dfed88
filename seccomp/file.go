package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// LoadFile reads an OCI LinuxSeccomp profile (the "seccomp" object of a
// config.json, or a file of that shape such as Docker's or podman's
// seccomp.json). Compile checks the rules.
func LoadFile(path string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--seccomp %s: %w", path, err)
	}
	var p specs.LinuxSeccomp
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("--seccomp %s: not an OCI seccomp profile: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("--seccomp %s: more than one JSON value: the file must hold one profile", path)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("--seccomp %s: the profile has no defaultAction", path)
	}
	if p.ListenerPath != "" {
		return nil, fmt.Errorf("--seccomp %s: listenerPath is not supported by sbx (no seccomp agent)", path)
	}
	return &p, nil
}

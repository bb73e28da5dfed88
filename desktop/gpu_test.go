package desktop

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestResolveGPU: the ops of --share gpu for device directories laid out
// as a host's would be (files stand in for the nodes, which only root can
// make; the integration test covers the host's own /dev).
func TestResolveGPU(t *testing.T) {
	tests := []struct {
		name  string
		nodes []string
		want  []Op
	}{
		{"none", nil, nil},
		{"card only", []string{"dri/card0"}, nil},
		{"render node", []string{"dri/card0", "dri/renderD128"}, []Op{{"dev-bind", "DEV/dri"}}},
		{"nvidia", []string{"dri/card1", "dri/renderD129", "nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-caps/nvidia-cap1"},
			[]Op{{"dev-bind", "DEV/dri"}, {"dev-bind-try", "DEV/nvidia-caps"}, {"dev-bind-try", "DEV/nvidia-uvm"},
				{"dev-bind-try", "DEV/nvidia0"}, {"dev-bind-try", "DEV/nvidiactl"}}},
		{"nvidia without dri", []string{"nvidiactl", "nvidia0"}, []Op{{"dev-bind-try", "DEV/nvidia0"}, {"dev-bind-try", "DEV/nvidiactl"}}},
	}
	saved := devDir
	t.Cleanup(func() { devDir = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devDir = t.TempDir()
			for _, n := range tt.nodes {
				p := filepath.Join(devDir, n)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			g := &Grant{}
			err := resolveGPU(Share{Name: "gpu"}, Session{}, g)
			if tt.want == nil {
				var m *Missing
				if !errors.As(err, &m) || m.Problem != "no GPU render nodes in "+filepath.Join(devDir, "dri") {
					t.Errorf("want no GPU render nodes, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].Arg = filepath.Join(devDir, tt.want[i].Arg[len("DEV/"):])
			}
			if !reflect.DeepEqual(g.Ops, tt.want) || len(g.Env) != 0 || len(g.Files) != 0 {
				t.Errorf("got %+v, want ops %+v", g, tt.want)
			}
		})
	}
}

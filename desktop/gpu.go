package desktop

import (
	"os"
	"path/filepath"
	"sort"
)

// devDir is where the host's device nodes are (a variable for the tests).
var devDir = "/dev"

// resolveGPU gives the sandbox the GPU: all of /dev/dri with device
// access, as flatpak's --device=dri does, and the NVIDIA driver's nodes
// (/dev/nvidiactl, /dev/nvidia0..., -uvm, -uvm-tools, -modeset, the
// nvidia-caps directory) where they exist. All of /dev/dri rather than
// the render nodes alone: Mesa, libdrm's device enumeration, VA-API and
// Vulkan drivers open the card nodes and read by-path too, and a card
// node lets a client that is not the DRM master (the compositor is) do no
// mode setting; what a render node gives, running code on the GPU, is
// the reach of this share either way (see README, Desktop programs).
func resolveGPU(sh Share, s Session, g *Grant) error {
	if err := noValue(sh); err != nil {
		return err
	}
	dri := filepath.Join(devDir, "dri")
	renders, _ := filepath.Glob(filepath.Join(dri, "renderD*"))
	nvidia, _ := filepath.Glob(filepath.Join(devDir, "nvidia*"))
	sort.Strings(nvidia)
	if len(renders) == 0 && len(nvidia) == 0 {
		return &Missing{"no GPU render nodes in " + dri, "load your GPU's kernel driver (or run sbx on a machine with a GPU)"}
	}
	if st, err := os.Stat(dri); err == nil && st.IsDir() {
		g.Ops = append(g.Ops, Op{Kind: "dev-bind", Arg: dri})
	}
	for _, n := range nvidia {
		g.Ops = append(g.Ops, Op{Kind: "dev-bind-try", Arg: n})
	}
	return nil
}

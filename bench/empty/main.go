// Command empty does nothing: `make bench` times it, built static
// (CGO_ENABLED=0), next to `sbx version`, the start of a Go binary with
// nothing else to do.
package main

func main() {}

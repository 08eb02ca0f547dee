//go:build !linux

package redisproc

import "os/exec"

// dieWithParent has no portable equivalent off Linux; Close still stops the child.
func dieWithParent(*exec.Cmd) {}

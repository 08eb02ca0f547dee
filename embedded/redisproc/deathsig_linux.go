package redisproc

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the child when the process that started it dies, even
// by SIGKILL, so a killed demo leaves no redis-server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

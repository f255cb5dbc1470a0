package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill weed when the test binary dies, so an
// interrupted test run leaves no server behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

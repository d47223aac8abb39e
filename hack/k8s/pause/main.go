// pause: the sandbox ("pause") container of the test node's pods, which cannot pull registry.k8s.io/pause.
//
// It holds the pod's namespaces open for as long as it lives, reaps the zombies of a shared PID
// namespace (it is PID 1 there), and exits 0 on SIGTERM or SIGINT so that a pod stops at once.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

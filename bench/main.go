// Command bench measures tlsstack side by side with the kernel path, nginx
// and HAProxy, on one machine in one run.
//
//	go run ./bench [--quick] [--systems LIST] [--scenarios LIST] [flags]
//
// It builds the two-namespace topology of scripts/netns/up.sh, starts every
// chosen server in the server namespace pinned to the server CPUs, drives
// each of them with the same client, pinned to the client CPUs in the
// client namespace, and writes a Markdown table, bench/results/latest.json
// and a chart. A full run with every system and scenario also rewrites
// bench/RESULTS.md.
//
// The harness runs itself for the parts that live elsewhere:
//
//	bench client MODE [flags]   the load generator (in the client namespace)
//	bench standin [flags]       a small crypto/tls HTTP server, and the
//	                            plaintext backend behind HAProxy's bulk mode
//	bench crypto [flags]        Go's single-core AEAD and ECDSA limits
//
// It installs nothing: a missing tool is named with the Debian package that
// has it.
//
// Exit status: 0 success, 2 bad usage or missing tools, 1 failure at run
// time.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "client":
		err = clientMain(args[1:])
	case len(args) > 0 && args[0] == "standin":
		err = standinMain(args[1:])
	case len(args) > 0 && args[0] == "crypto":
		err = cryptoMain(args[1:])
	default:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
			syscall.SIGTERM)
		defer stop()
		err = harnessMain(ctx, args)
	}
	return exitStatus(err)
}

// usageError marks a mistake of the caller's: flags, values, missing tools.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func exitStatus(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, "bench:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

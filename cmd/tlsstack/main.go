// Command tlsstack serves TLS on a userspace TCP/IP stack behind a Linux TUN
// device, or on a kernel socket for comparison.
//
//	tlsstack serve [flags]     serve TLS (see tlsstack serve -h)
//	tlsstack connect HOST:PORT connect and describe the session
//	tlsstack ciphers [STRING]  list the suites a cipher string selects
//	tlsstack version           print the version
//
// Exit status: 0 success, 2 bad usage or configuration, 1 failure at run
// time.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// usageError marks an error as the user's: bad flags, files or values. Its
// exit status is 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

const topUsage = `usage: tlsstack <command> [flags]

commands:
  serve     serve TLS on a TUN device's userspace stack, or a kernel socket
  connect   connect to a TLS server and describe the session, like openssl s_client
  ciphers   list the cipher suites an OpenSSL cipher string selects
  version   print the version

Run "tlsstack <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "connect":
		err = connect(args[1:], stdout, stderr)
	case "ciphers":
		err = ciphers(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tlsstack", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
	default:
		fmt.Fprintf(stderr, "tlsstack: unknown command %q\n\n%s", args[0], topUsage)
		return 2
	}
	return exitStatus(err, stderr)
}

func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "tlsstack:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// version reports the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + info.GoVersion
}

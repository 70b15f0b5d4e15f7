package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tlsstack/tlsstack/tlslayer"
)

// ciphers runs "tlsstack ciphers [STRING]": the suites an OpenSSL cipher
// string selects, in order, one per line with the OpenSSL name first, as
// openssl ciphers -v prints them. With no string it lists every supported
// suite.
func ciphers(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ciphers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: tlsstack ciphers [STRING]

Lists the cipher suites an OpenSSL cipher string (as given to --ciphers)
selects, in order, one per line: OpenSSL name, protocol version, IANA name.
Only suites crypto/tls implements are listed. TLS 1.3 suite names are shown
when named, though crypto/tls always enables all three. With no STRING it
lists every supported suite, alphabetically, as Node's tls.getCiphers().
Exit status 2 when the string is invalid or selects nothing.
`)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return usageError{err}
	}
	if fs.NArg() > 1 {
		return usagef("ciphers: one cipher string at most; quote it (got %d arguments)",
			fs.NArg())
	}

	var ids []uint16
	if fs.NArg() == 0 {
		for _, name := range tlslayer.GetCiphers() {
			id, err := tlslayer.ParseCipherList(strings.ToUpper(name))
			if err != nil {
				return err
			}
			ids = append(ids, id...)
		}
	} else {
		var err error
		if ids, err = tlslayer.ParseCipherList(fs.Arg(0)); err != nil {
			return usagef("ciphers %q: %v", fs.Arg(0), err)
		}
	}
	for _, id := range ids {
		info := tlslayer.CipherSuiteInfo(id)
		fmt.Fprintf(stdout, "%-31s %-8s %s\n", info.Name, info.Version, info.StandardName)
	}
	return nil
}

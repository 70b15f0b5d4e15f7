package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/tlsstack/tlsstack/tlslayer"
)

// contextFlags are the secure-context options that serve and connect share:
// Node's createSecureContext options, each read from files.
type contextFlags struct {
	certs, keys    repeatFlag
	pfx            repeatFlag
	passphraseFile string
	ca, crl        repeatFlag
	ciphers        string
	ecdhCurve      string
	minVersion     string
	maxVersion     string
	secureProtocol string
}

func (f *contextFlags) register(fs *flag.FlagSet, role string) {
	fs.Var(&f.certs, "cert", "certificate chain `FILE` (PEM, leaf first); repeatable, "+
		"one chain per key (for example RSA and ECDSA)")
	fs.Var(&f.keys, "key", "private key `FILE` (PEM; PKCS#1, SEC 1, PKCS#8, encrypted "+
		"with --passphrase-file); repeatable")
	fs.Var(&f.pfx, "pfx", "PKCS#12 `FILE` holding a key and its chain; repeatable")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "`FILE` whose first line "+
		"decrypts encrypted keys and PKCS#12 files")
	fs.Var(&f.ca, "ca", "trusted CA `FILE` (PEM) for verifying the "+role+"; repeatable; "+
		"replaces the system roots")
	fs.Var(&f.crl, "crl", "revocation list `FILE` (PEM), enforced when verifying the "+
		role+"; repeatable")
	fs.StringVar(&f.ciphers, "ciphers", "", "OpenSSL cipher list for TLS 1.2, "+
		"like ECDHE+AESGCM:!SHA1 (see tlsstack ciphers)")
	fs.StringVar(&f.ecdhCurve, "ecdh-curve", "", "key-exchange groups, colon-separated, "+
		"or auto (default auto)")
	fs.StringVar(&f.minVersion, "min-version", "", "lowest TLS version: TLSv1, TLSv1.1, "+
		"TLSv1.2, TLSv1.3 (default TLSv1.2)")
	fs.StringVar(&f.maxVersion, "max-version", "", "highest TLS version (default TLSv1.3)")
	fs.StringVar(&f.secureProtocol, "secure-protocol", "", "OpenSSL method name, "+
		"like TLSv1_2_method; not with --min-version/--max-version")
}

// options reads the files the flags name and returns the context options.
// Errors name the flag and the file.
func (f *contextFlags) options() (tlslayer.ContextOptions, error) {
	o := tlslayer.ContextOptions{
		Ciphers:        f.ciphers,
		ECDHCurve:      f.ecdhCurve,
		MinVersion:     f.minVersion,
		MaxVersion:     f.maxVersion,
		SecureProtocol: f.secureProtocol,
	}
	if len(f.certs) != len(f.keys) {
		return o, usagef("--cert and --key go in pairs: %d --cert, %d --key",
			len(f.certs), len(f.keys))
	}
	var err error
	if o.Cert, err = readFiles("--cert", f.certs); err != nil {
		return o, err
	}
	if o.Key, err = readFiles("--key", f.keys); err != nil {
		return o, err
	}
	if o.CA, err = readFiles("--ca", f.ca); err != nil {
		return o, err
	}
	if o.CRL, err = readFiles("--crl", f.crl); err != nil {
		return o, err
	}
	if f.passphraseFile != "" {
		b, err := readFileFlag("--passphrase-file", f.passphraseFile)
		if err != nil {
			return o, err
		}
		o.Passphrase, _, _ = strings.Cut(string(b), "\n")
		o.Passphrase = strings.TrimSuffix(o.Passphrase, "\r")
	}
	pfx, err := readFiles("--pfx", f.pfx)
	if err != nil {
		return o, err
	}
	for _, p := range pfx {
		o.PFX = append(o.PFX, tlslayer.PFX{Data: p})
	}
	return o, nil
}

// contextError explains an error from NewSecureContext in the user's terms:
// tlslayer names inputs by option and index ("ca[0]"), so the message
// lists which flag and file each index stands for.
func (f *contextFlags) contextError(err error) error {
	var legend []string
	for _, in := range []struct {
		option, flag string
		files        []string
	}{
		{"cert", "--cert", f.certs}, {"key", "--key", f.keys}, {"pfx", "--pfx", f.pfx},
		{"ca", "--ca", f.ca}, {"crl", "--crl", f.crl},
	} {
		for i, file := range in.files {
			legend = append(legend, fmt.Sprintf("%s[%d] is %s %s", in.option, i, in.flag, file))
		}
	}
	if len(legend) == 0 {
		return usagef("TLS options: %v", err)
	}
	return usagef("TLS options: %v (%s)", err, strings.Join(legend, ", "))
}

func readFiles(flagName string, paths []string) ([][]byte, error) {
	var out [][]byte
	for _, p := range paths {
		b, err := readFileFlag(flagName, p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// maxFileSize bounds the files flags name: certificates, keys, CRLs and
// the like are far smaller, and /dev/zero must not eat the memory.
const maxFileSize = 16 << 20

// readFileFlag reads the file a flag names; errors name both.
func readFileFlag(flagName, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%s: %v", flagName, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, usagef("%s: %v", flagName, err)
	}
	if len(b) > maxFileSize {
		return nil, usagef("%s: %s: larger than %d MiB", flagName, path, maxFileSize>>20)
	}
	return b, nil
}

// openKeylog opens --keylog's file for appending and returns the callback
// that writes NSS key-log lines to it. The file stays open for the life of
// the process.
func openKeylog(path string) (func(line []byte, c *tlslayer.Conn), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, usagef("--keylog: %v", err)
	}
	var mu sync.Mutex
	return func(line []byte, _ *tlslayer.Conn) {
		mu.Lock()
		defer mu.Unlock()
		f.Write(line)
	}, nil
}

// processFlags are the process-wide switches in the manner of Node's
// --tls-cipher-list and --tls-min-v1.2. They set tlslayer's defaults, which
// the per-context flags override.
type processFlags struct {
	cipherList string
	min        map[string]*bool
	max        map[string]*bool
}

func (p *processFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cipherList, "tls-cipher-list", "", "process-wide default cipher list")
	p.min = map[string]*bool{}
	p.max = map[string]*bool{}
	for _, v := range []string{"1.0", "1.1", "1.2", "1.3"} {
		p.min[v] = fs.Bool("tls-min-v"+v, false, "process-wide default minimum TLSv"+v)
	}
	for _, v := range []string{"1.2", "1.3"} {
		p.max[v] = fs.Bool("tls-max-v"+v, false, "process-wide default maximum TLSv"+v)
	}
}

// apply sets the process defaults. Like Node, it refuses two minimums or
// two maximums.
func (p *processFlags) apply() error {
	d := tlslayer.Defaults()
	pick := func(kind string, set map[string]*bool) (string, error) {
		var chosen []string
		for v, on := range set {
			if *on {
				chosen = append(chosen, v)
			}
		}
		switch len(chosen) {
		case 0:
			return "", nil
		case 1:
			if chosen[0] == "1.0" {
				return "TLSv1", nil
			}
			return "TLSv" + chosen[0], nil
		}
		return "", usagef("only one --tls-%s-v* switch may be given", kind)
	}
	var err error
	if v, err := pick("min", p.min); err != nil {
		return err
	} else if v != "" {
		d.MinVersion = v
	}
	if v, err := pick("max", p.max); err != nil {
		return err
	} else if v != "" {
		d.MaxVersion = v
	}
	if p.cipherList != "" {
		d.CipherList = p.cipherList
	}
	if err = tlslayer.SetDefaults(d); err != nil {
		return usagef("process-wide TLS defaults: %v", err)
	}
	return nil
}

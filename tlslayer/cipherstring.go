package tlslayer

import (
	"errors"
	"fmt"
	"strings"
)

// NodeDefaultCiphers is Node.js 20's tls.DEFAULT_CIPHERS. It is not this
// package's default (see ProcessDefaults.CipherList); it is here for
// callers who want Node's selection exactly.
const NodeDefaultCiphers = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:" +
	"TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:" +
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:" +
	"ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:" +
	"DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:DHE-RSA-AES256-SHA256:" +
	"HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA"

// ErrNoCipherSuite is wrapped by ParseCipherList when a cipher string
// leaves no suite that crypto/tls implements.
var ErrNoCipherSuite = errors.New("selects no cipher suite that crypto/tls implements")

// ErrTLS13CiphersFixed is wrapped when a cipher string names only some of
// the TLS 1.3 suites: crypto/tls always enables all three.
var ErrTLS13CiphersFixed = errors.New("crypto/tls cannot restrict TLS 1.3 cipher suites " +
	"(name all three TLS_* suites or none)")

// suiteSet is a set of indexes into suites.
type suiteSet uint32

func setWhere(pred func(s *suite) bool) suiteSet {
	var m suiteSet
	for i := 0; i < numTLS12Suites; i++ {
		if pred(&suites[i]) {
			m |= 1 << i
		}
	}
	return m
}

var allTLS12 = suiteSet(1<<numTLS12Suites - 1)

// cipherAliases maps OpenSSL's cipher-string aliases to the TLS 1.2 suites
// they select among those crypto/tls implements. Aliases for algorithms
// Go lacks (DHE, PSK, CAMELLIA, ...) are known and select nothing.
var cipherAliases = func() map[string]suiteSet {
	kx := func(k int) suiteSet { return setWhere(func(s *suite) bool { return s.kx&k != 0 }) }
	au := func(a int) suiteSet { return setWhere(func(s *suite) bool { return s.au&a != 0 }) }
	enc := func(e int) suiteSet { return setWhere(func(s *suite) bool { return s.enc&e != 0 }) }
	mac := func(m int) suiteSet { return setWhere(func(s *suite) bool { return s.mac&m != 0 }) }
	ver := func(v string) suiteSet { return setWhere(func(s *suite) bool { return s.minVer == v }) }
	aes := enc(encAES128 | encAES256 | encAES128GCM | encAES256GCM)
	m := map[string]suiteSet{
		"ALL":      allTLS12,
		"HIGH":     allTLS12,
		"FIPS":     aes,
		"kRSA":     kx(kxRSA),
		"RSA":      kx(kxRSA),
		"aRSA":     au(auRSA),
		"kECDHE":   kx(kxECDHE),
		"kEECDH":   kx(kxECDHE),
		"ECDHE":    kx(kxECDHE),
		"EECDH":    kx(kxECDHE),
		"ECDH":     kx(kxECDHE),
		"aECDSA":   au(auECDSA),
		"ECDSA":    au(auECDSA),
		"AES":      aes,
		"AES128":   enc(encAES128 | encAES128GCM),
		"AES256":   enc(encAES256 | encAES256GCM),
		"AESGCM":   enc(encAES128GCM | encAES256GCM),
		"CHACHA20": enc(encCHACHA20),
		"CBC":      enc(encAES128 | encAES256),
		"SHA1":     mac(macSHA1),
		"SHA":      mac(macSHA1),
		"SHA256":   mac(macSHA256),
		"SHA384":   mac(macSHA384),
		"TLSv1.2":  ver("TLSv1.2"),
		"TLSv1":    ver("TLSv1.0"),
		"TLSv1.0":  ver("TLSv1.0"),
		"SSLv3":    ver("SSLv3"),
	}
	for _, a := range strings.Fields(`COMPLEMENTOFALL COMPLEMENTOFDEFAULT MEDIUM LOW
		EXPORT EXP eNULL NULL aNULL ADH AECDH kDHE kEDH DHE EDH aDSS DSS aDH kDHr kDHd
		kDH kECDHr kECDHe aECDH aPSK kPSK PSK kECDHEPSK ECDHEPSK kDHEPSK DHEPSK
		kRSAPSK RSAPSK aSRP kSRP SRP aGOST aGOST01 aGOST12 kGOST kGOST18 GOST89MAC
		GOST94 GOST12 CAMELLIA CAMELLIA128 CAMELLIA256 ARIA ARIA128 ARIA256 ARIAGCM
		AESCCM AESCCM8 3DES DES RC4 RC2 IDEA SEED MD5 SUITEB128 SUITEB128ONLY
		SUITEB128C2 SUITEB192 KRB5 aKRB5 kKRB5 aFZA kFZA eFZA SSLv2`) {
		m[a] = 0
	}
	return m
}()

// knownUnavailable lists OpenSSL cipher names crypto/tls does not
// implement, and the two names in Node's default list that OpenSSL 3
// itself no longer knows; naming them selects nothing, rather than being
// an error.
var knownUnavailable = func() map[string]bool {
	m := make(map[string]bool)
	for _, n := range strings.Fields(`DHE-DSS-AES256-GCM-SHA384 DHE-RSA-AES256-GCM-SHA384
	DHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES256-CCM8 ECDHE-ECDSA-AES256-CCM
	DHE-RSA-AES256-CCM8 DHE-RSA-AES256-CCM ECDHE-ECDSA-ARIA256-GCM-SHA384
	ECDHE-ARIA256-GCM-SHA384 DHE-DSS-ARIA256-GCM-SHA384 DHE-RSA-ARIA256-GCM-SHA384
	ADH-AES256-GCM-SHA384 DHE-DSS-AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256
	ECDHE-ECDSA-AES128-CCM8 ECDHE-ECDSA-AES128-CCM DHE-RSA-AES128-CCM8 DHE-RSA-AES128-CCM
	ECDHE-ECDSA-ARIA128-GCM-SHA256 ECDHE-ARIA128-GCM-SHA256 DHE-DSS-ARIA128-GCM-SHA256
	DHE-RSA-ARIA128-GCM-SHA256 ADH-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-SHA384
	ECDHE-RSA-AES256-SHA384 DHE-RSA-AES256-SHA256 DHE-DSS-AES256-SHA256
	ECDHE-ECDSA-CAMELLIA256-SHA384 ECDHE-RSA-CAMELLIA256-SHA384 DHE-RSA-CAMELLIA256-SHA256
	DHE-DSS-CAMELLIA256-SHA256 ADH-AES256-SHA256 ADH-CAMELLIA256-SHA256
	DHE-RSA-AES128-SHA256 DHE-DSS-AES128-SHA256 ECDHE-ECDSA-CAMELLIA128-SHA256
	ECDHE-RSA-CAMELLIA128-SHA256 DHE-RSA-CAMELLIA128-SHA256 DHE-DSS-CAMELLIA128-SHA256
	ADH-AES128-SHA256 ADH-CAMELLIA128-SHA256 DHE-RSA-AES256-SHA DHE-DSS-AES256-SHA
	DHE-RSA-CAMELLIA256-SHA DHE-DSS-CAMELLIA256-SHA AECDH-AES256-SHA ADH-AES256-SHA
	ADH-CAMELLIA256-SHA DHE-RSA-AES128-SHA DHE-DSS-AES128-SHA DHE-RSA-CAMELLIA128-SHA
	DHE-DSS-CAMELLIA128-SHA AECDH-AES128-SHA ADH-AES128-SHA ADH-CAMELLIA128-SHA
	RSA-PSK-AES256-GCM-SHA384 DHE-PSK-AES256-GCM-SHA384 RSA-PSK-CHACHA20-POLY1305
	DHE-PSK-CHACHA20-POLY1305 ECDHE-PSK-CHACHA20-POLY1305 DHE-PSK-AES256-CCM8
	DHE-PSK-AES256-CCM RSA-PSK-ARIA256-GCM-SHA384 DHE-PSK-ARIA256-GCM-SHA384 AES256-CCM8
	AES256-CCM ARIA256-GCM-SHA384 PSK-AES256-GCM-SHA384 PSK-CHACHA20-POLY1305
	PSK-AES256-CCM8 PSK-AES256-CCM PSK-ARIA256-GCM-SHA384 RSA-PSK-AES128-GCM-SHA256
	DHE-PSK-AES128-GCM-SHA256 DHE-PSK-AES128-CCM8 DHE-PSK-AES128-CCM
	RSA-PSK-ARIA128-GCM-SHA256 DHE-PSK-ARIA128-GCM-SHA256 AES128-CCM8 AES128-CCM
	ARIA128-GCM-SHA256 PSK-AES128-GCM-SHA256 PSK-AES128-CCM8 PSK-AES128-CCM
	PSK-ARIA128-GCM-SHA256 AES256-SHA256 CAMELLIA256-SHA256 CAMELLIA128-SHA256
	ECDHE-PSK-AES256-CBC-SHA384 ECDHE-PSK-AES256-CBC-SHA SRP-DSS-AES-256-CBC-SHA
	SRP-RSA-AES-256-CBC-SHA SRP-AES-256-CBC-SHA RSA-PSK-AES256-CBC-SHA384
	DHE-PSK-AES256-CBC-SHA384 RSA-PSK-AES256-CBC-SHA DHE-PSK-AES256-CBC-SHA
	ECDHE-PSK-CAMELLIA256-SHA384 RSA-PSK-CAMELLIA256-SHA384 DHE-PSK-CAMELLIA256-SHA384
	CAMELLIA256-SHA PSK-AES256-CBC-SHA384 PSK-AES256-CBC-SHA PSK-CAMELLIA256-SHA384
	ECDHE-PSK-AES128-CBC-SHA256 ECDHE-PSK-AES128-CBC-SHA SRP-DSS-AES-128-CBC-SHA
	SRP-RSA-AES-128-CBC-SHA SRP-AES-128-CBC-SHA RSA-PSK-AES128-CBC-SHA256
	DHE-PSK-AES128-CBC-SHA256 RSA-PSK-AES128-CBC-SHA DHE-PSK-AES128-CBC-SHA
	ECDHE-PSK-CAMELLIA128-SHA256 RSA-PSK-CAMELLIA128-SHA256 DHE-PSK-CAMELLIA128-SHA256
	CAMELLIA128-SHA PSK-AES128-CBC-SHA256 PSK-AES128-CBC-SHA PSK-CAMELLIA128-SHA256
	ECDHE-ECDSA-NULL-SHA ECDHE-RSA-NULL-SHA AECDH-NULL-SHA NULL-SHA256 ECDHE-PSK-NULL-SHA384
	ECDHE-PSK-NULL-SHA256 ECDHE-PSK-NULL-SHA RSA-PSK-NULL-SHA384 RSA-PSK-NULL-SHA256
	DHE-PSK-NULL-SHA384 DHE-PSK-NULL-SHA256 RSA-PSK-NULL-SHA DHE-PSK-NULL-SHA NULL-SHA
	NULL-MD5 PSK-NULL-SHA384 PSK-NULL-SHA256 PSK-NULL-SHA
	RC4-SHA RC4-MD5 ECDHE-RSA-RC4-SHA ECDHE-ECDSA-RC4-SHA DES-CBC3-SHA DES-CBC-SHA
	ECDHE-RSA-DES-CBC3-SHA ECDHE-ECDSA-DES-CBC3-SHA EDH-RSA-DES-CBC3-SHA
	EDH-DSS-DES-CBC3-SHA DHE-RSA-DES-CBC3-SHA DHE-DSS-DES-CBC3-SHA EDH-RSA-DES-CBC-SHA
	EDH-DSS-DES-CBC-SHA ADH-DES-CBC3-SHA ADH-RC4-MD5 IDEA-CBC-SHA SEED-SHA
	DHE-RSA-SEED-SHA DHE-DSS-SEED-SHA EXP-RC4-MD5 EXP-DES-CBC-SHA EXP-RC2-CBC-MD5
	EXP-EDH-RSA-DES-CBC-SHA EXP-EDH-DSS-DES-CBC-SHA ECDH-RSA-AES128-GCM-SHA256
	ECDH-ECDSA-AES128-GCM-SHA256 ECDH-RSA-AES256-GCM-SHA384 ECDH-ECDSA-AES256-GCM-SHA384
	ECDH-RSA-AES128-SHA ECDH-ECDSA-AES128-SHA ECDH-RSA-AES256-SHA ECDH-ECDSA-AES256-SHA
	ECDH-RSA-AES128-SHA256 ECDH-ECDSA-AES128-SHA256 ECDH-RSA-AES256-SHA384
	ECDH-ECDSA-AES256-SHA384 TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256
	DHE-RSA-AES256-SHA384 ECDHE-RSA-AES256-SHA256`) {
		m[n] = true
	}
	return m
}()

// cipherList is the ordered list the OpenSSL cipher-string operators act
// on: every TLS 1.2 suite, in order, each active (selected) or not, and
// killed ones gone for good.
type cipherList struct {
	order  []int // indexes into suites
	active suiteSet
	killed suiteSet
}

func newCipherList() *cipherList {
	l := &cipherList{order: make([]int, numTLS12Suites)}
	for i := range l.order {
		l.order[i] = i
	}
	return l
}

// move takes the members of l.order that pick accepts out of the list and
// puts them, in their current order, at the head or the tail.
func (l *cipherList) move(pick func(i int) bool, toHead bool) {
	var picked, rest []int
	for _, i := range l.order {
		if pick(i) {
			picked = append(picked, i)
		} else {
			rest = append(rest, i)
		}
	}
	if toHead {
		l.order = append(picked, rest...)
	} else {
		l.order = append(rest, picked...)
	}
}

func (s suiteSet) has(i int) bool { return s&(1<<i) != 0 }

// add appends the matching inactive suites to the tail, active.
func (l *cipherList) add(m suiteSet) {
	m &^= l.active | l.killed
	l.move(m.has, false)
	l.active |= m
}

// remove ('-') deactivates matching suites and moves them to the head, so
// a later add brings them back in the best place.
func (l *cipherList) remove(m suiteSet) {
	m &= l.active
	l.move(m.has, true)
	l.active &^= m
}

// toEnd ('+') moves the matching active suites to the tail.
func (l *cipherList) toEnd(m suiteSet) { l.move((m & l.active).has, false) }

// kill ('!') removes matching suites for good.
func (l *cipherList) kill(m suiteSet) {
	l.active &^= m
	l.killed |= m
}

// sortByStrength (@STRENGTH) orders the active suites by key bits, highest
// first, keeping the order within each strength.
func (l *cipherList) sortByStrength() {
	for _, bits := range []int{256, 128} {
		l.move(func(i int) bool { return l.active.has(i) && suites[i].bits == bits }, false)
	}
}

func (l *cipherList) selected() []uint16 {
	var ids []uint16
	for _, i := range l.order {
		if l.active.has(i) && !l.killed.has(i) {
			ids = append(ids, suites[i].id)
		}
	}
	return ids
}

// ParseCipherList parses an OpenSSL cipher-list string (the ciphers option
// of Node's createSecureContext, or --tls-cipher-list) into crypto/tls
// suite ids.
//
// It follows OpenSSL 3: elements separated by ':', ',', ';' or spaces;
// cipher names (OpenSSL or IANA spelling) and aliases (HIGH, ECDHE, AESGCM,
// kRSA, aECDSA, SHA256, TLSv1.2, ...), joined with '+' to intersect; the
// operators '!' (remove for good), '-' (remove), '+' (move to the end);
// @STRENGTH; @SECLEVEL=n (accepted, no effect on which suites exist); a
// leading DEFAULT. Starting from OpenSSL's default order, the result is the
// order OpenSSL would produce for the suites crypto/tls implements.
//
// Like Node, elements naming TLS 1.3 suites (TLS_AES_128_GCM_SHA256, ...)
// are set apart; their ids follow the TLS 1.2 ids in the result. Names
// OpenSSL knows but crypto/tls lacks (DHE-*, CAMELLIA, PSK, ...) select
// nothing. An unknown name, or a string that selects no suite at all, is
// an error.
func ParseCipherList(s string) ([]uint16, error) {
	tls12, tls13, err := parseCipherString(s)
	if err != nil {
		return nil, err
	}
	return append(tls12, tls13...), nil
}

// parseCipherString returns the TLS 1.2 ids in order and the TLS 1.3 ids
// named, in order.
func parseCipherString(s string) (tls12, tls13 []uint16, err error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil, errors.New("tlslayer: cipher list is empty")
	}
	l := newCipherList()
	if rest, ok := strings.CutPrefix(s, "DEFAULT"); ok {
		l.add(allTLS12) // ALL:!COMPLEMENTOFDEFAULT:!eNULL is all of Go's.
		s = strings.TrimLeft(rest, ":, ;")
	}

	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ':' || r == ',' || r == ';' || r == ' ' || r == '\t'
	})
	for _, f := range fields {
		if err := l.apply(f, &tls13); err != nil {
			return nil, nil, fmt.Errorf("tlslayer: cipher list %q: %w", orig, err)
		}
	}

	tls12 = l.selected()
	if len(tls12) == 0 && len(tls13) == 0 {
		if namesDHE(fields) {
			return nil, nil, fmt.Errorf("tlslayer: cipher list %q %w: %w", orig,
				ErrNoCipherSuite, ErrNoDHE)
		}
		return nil, nil, fmt.Errorf("tlslayer: cipher list %q %w", orig, ErrNoCipherSuite)
	}
	return tls12, tls13, nil
}

// apply carries out one element of a cipher string.
func (l *cipherList) apply(f string, tls13 *[]uint16) error {
	if cmd, ok := strings.CutPrefix(f, "@"); ok {
		switch {
		case cmd == "STRENGTH":
			l.sortByStrength()
		case strings.HasPrefix(cmd, "SECLEVEL="):
			n := strings.TrimPrefix(cmd, "SECLEVEL=")
			if len(n) != 1 || n[0] < '0' || n[0] > '5' {
				return fmt.Errorf("bad security level %q (want 0 to 5)", f)
			}
		default:
			return fmt.Errorf("unknown command %q", f)
		}
		return nil
	}

	op := byte(0)
	if f[0] == '!' || f[0] == '-' || f[0] == '+' {
		op, f = f[0], f[1:]
	}
	if f == "" {
		return errors.New("operator without a cipher name")
	}

	if s, ok := suiteByName[f]; ok && s.minVer == "TLSv1.3" {
		if op == 0 {
			for _, id := range *tls13 {
				if id == s.id {
					return nil
				}
			}
			*tls13 = append(*tls13, s.id)
		}
		return nil
	}

	var m suiteSet
	for n, part := range strings.Split(f, "+") {
		pm, err := lookupCipherPart(part)
		if err != nil {
			return err
		}
		if n == 0 {
			m = pm
		} else {
			m &= pm
		}
	}

	switch op {
	case 0:
		l.add(m)
	case '-':
		l.remove(m)
	case '+':
		l.toEnd(m)
	case '!':
		l.kill(m)
	}
	return nil
}

// namesDHE reports whether a cipher string asks for finite-field DHE, so
// that an empty selection can say why.
func namesDHE(fields []string) bool {
	for _, f := range fields {
		if strings.HasPrefix(f, "!") || strings.HasPrefix(f, "-") {
			continue
		}
		for _, p := range strings.Split(strings.TrimPrefix(f, "+"), "+") {
			switch {
			case p == "DHE" || p == "EDH" || p == "kDHE" || p == "kEDH" || p == "ADH",
				strings.HasPrefix(p, "DHE-") || strings.HasPrefix(p, "EDH-") ||
					strings.HasPrefix(p, "ADH-"):
				return true
			}
		}
	}
	return false
}

func lookupCipherPart(p string) (suiteSet, error) {
	if p == "" {
		return 0, errors.New("empty name around '+'")
	}
	if m, ok := cipherAliases[p]; ok {
		return m, nil
	}
	if s, ok := suiteByName[p]; ok {
		for i := 0; i < numTLS12Suites; i++ {
			if &suites[i] == s {
				return 1 << i, nil
			}
		}
	}
	if knownUnavailable[p] {
		return 0, nil
	}
	return 0, fmt.Errorf("unknown cipher or alias %q", p)
}

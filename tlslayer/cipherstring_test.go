package tlslayer

import (
	"errors"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// realWorldCipherStrings are cipher strings seen in deployed configurations
// plus ones exercising every operator.
var realWorldCipherStrings = []string{
	// Mozilla intermediate (v5)
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
	// Mozilla modern (v4, the last with TLS 1.2 suites)
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
		"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" +
		"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256",
	// Mozilla old (v5)
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
		"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:" +
		"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:" +
		"ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" +
		"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:" +
		"DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:" +
		"AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA",
	// nginx default
	"HIGH:!aNULL:!MD5",
	// HAProxy 2.x default
	"ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES256:ECDHE+AES128:!MD5:!SHA1:!SHA256:!SHA384",
	// Apache's old default and common variants
	"HIGH:MEDIUM:!MD5:!RC4:!3DES",
	"DEFAULT:!RC4",
	"DEFAULT:!kRSA:@SECLEVEL=2",
	"EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH",
	"ALL:!EXPORT:!LOW:!aNULL:!eNULL:!SSLv2",
	NodeDefaultCiphers,
	// Operators
	"ALL:@STRENGTH",
	"DEFAULT:@STRENGTH",
	"ALL:-AES128:+AES256",
	"ECDHE:-ECDSA:+SHA1:@STRENGTH",
	"kRSA:ECDHE+AES:!SHA1",
	"AESGCM:+ECDSA",
	"ALL:!kRSA:+CHACHA20",
	"ECDHE:-aRSA:ECDHE",
	"TLSv1.2:!AESGCM",
	"SHA256:SHA1:AESGCM",
	"ALL:+kRSA:!CBC",
	"AES128:-SHA1:AES:+AES128",
	"ECDHE-RSA-AES128-SHA,ECDHE-RSA-AES256-GCM-SHA384 AES128-SHA",
	"HIGH:!ECDHE:ECDHE-RSA-AES128-GCM-SHA256",
	"ALL:-ECDHE:+TLSv1:kECDHE+aECDSA:@STRENGTH",
	"SSLv3:TLSv1:TLSv1.2:@STRENGTH:+AES128",
	"FIPS:-CHACHA20:CHACHA20",
	"CHACHA20:AES256:@STRENGTH",
}

// opensslTLS12Suites runs `openssl ciphers -V s` and returns the TLS 1.2
// suites it selects that this package knows, in order. ok is false when
// openssl rejects the string.
func opensslTLS12Suites(t *testing.T, openssl, s string) (ids []uint16, ok bool) {
	t.Helper()
	out, err := exec.Command(openssl, "ciphers", "-V", s).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no cipher match") {
			return nil, false
		}
		t.Fatalf("openssl ciphers -V %q: %v\n%s", s, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		hi, lo, found := strings.Cut(f[0], ",")
		if !found {
			continue
		}
		h, err1 := strconv.ParseUint(hi, 0, 8)
		l, err2 := strconv.ParseUint(lo, 0, 8)
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected openssl line %q", line)
		}
		id := uint16(h<<8 | l)
		if s, known := suiteByID[id]; known && s.minVer != "TLSv1.3" {
			ids = append(ids, id)
		}
	}
	return ids, true
}

func TestParseCipherListMatchesOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	for _, s := range realWorldCipherStrings {
		want, ok := opensslTLS12Suites(t, openssl, s)
		got, _, err := parseCipherString(s)
		switch {
		case !ok || len(want) == 0:
			if !errors.Is(err, ErrNoCipherSuite) {
				t.Errorf("%q: OpenSSL selects no Go suite, parser: %v, %v",
					s, CipherSuiteNames(got), err)
			}
		case err != nil:
			t.Errorf("%q: %v", s, err)
		case !reflect.DeepEqual(got, want):
			t.Errorf("%q:\n parser  %v\n openssl %v", s,
				CipherSuiteNames(got), CipherSuiteNames(want))
		}
	}
}

func TestParseCipherListErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"ECDHE-RSA-AES128-GCM-SHA256:NOT-A-CIPHER", `unknown cipher or alias "NOT-A-CIPHER"`},
		{"high", `unknown cipher or alias "high"`},
		{"ECDHE+", "empty name"},
		{"!", "operator without"},
		{"@FOO", "unknown command"},
		{"ALL:@SECLEVEL=9", "security level"},
		{"CAMELLIA:DHE", "finite-field DHE"},
		{"DHE-RSA-AES128-GCM-SHA256", "finite-field DHE"},
		{"ALL:!ALL", "selects no cipher suite"},
		{"RC4-SHA", "selects no cipher suite"},
		{"AES128+AES256", "selects no cipher suite"},
	}
	for _, tt := range tests {
		_, err := ParseCipherList(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) ||
			!strings.HasPrefix(err.Error(), "tlslayer: ") {
			t.Errorf("ParseCipherList(%q) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseCipherListSetsTLS13Apart(t *testing.T) {
	ids, err := ParseCipherList("TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{0xc02f, 0x1301}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %x, want %x", ids, want)
	}
	if _, err := ParseCipherList("TLS_CHACHA20_POLY1305_SHA256"); err != nil {
		t.Errorf("TLS 1.3 only: %v", err)
	}
	ids, err = ParseCipherList("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	if err != nil || len(ids) != 1 || ids[0] != 0xc02f {
		t.Errorf("IANA name: %x, %v", ids, err)
	}
}

func TestGetCiphersListsLowercaseNames(t *testing.T) {
	names := GetCiphers()
	if len(names) != len(suites) {
		t.Fatalf("%d names, want %d", len(names), len(suites))
	}
	for _, want := range []string{"ecdhe-rsa-aes128-gcm-sha256", "tls_aes_128_gcm_sha256",
		"aes128-sha"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("GetCiphers() lacks %q", want)
		}
	}
}

func FuzzParseCipherList(f *testing.F) {
	for _, s := range realWorldCipherStrings {
		f.Add(s)
	}
	for _, s := range []string{"", "!", "+", "-ALL", "@STRENGTH", "A+B+C", ":::", "TLS_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseCipherList(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tlslayer: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if len(ids) == 0 {
			t.Fatal("no error and no suites")
		}
		seen := map[uint16]bool{}
		for _, id := range ids {
			if _, ok := suiteByID[id]; !ok || seen[id] {
				t.Fatalf("bad or repeated id %#x in %x", id, ids)
			}
			seen[id] = true
		}
	})
}

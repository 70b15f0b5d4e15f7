package tlslayer

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeClientResult is what testdata/node_client.js prints.
type nodeClientResult struct {
	First, Second *nodeConnInfo
	Error, Code   string
}

type nodeConnInfo struct {
	Authorized         bool
	AuthorizationError *string
	Protocol           string
	Cipher             struct{ Name, StandardName, Version string }
	AlpnProtocol       any
	Reused             bool
	Data               string
	Finished           *string
	Ephemeral          struct {
		Type, Name string
		Size       int
	}
	Peer *struct {
		Subject        map[string]any
		Subjectaltname string
		ValidFrom      string `json:"valid_from"`
		ValidTo        string `json:"valid_to"`
		Fingerprint    string
		Fingerprint256 string
		SerialNumber   string
		Bits           int
		Modulus        string
		Exponent       string
		ASN1Curve      string
		NISTCurve      string
		ExtKeyUsage    []string `json:"ext_key_usage"`
		IssuerCN       string
	}
}

func runNodeClient(t *testing.T, cfg map[string]any) nodeClientResult {
	t.Helper()
	node := needTool(t, "node")
	arg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/node_client.js", string(arg)).Output()
	if err != nil {
		t.Fatalf("node_client.js: %v\n%s", err, out)
	}
	var r nodeClientResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node_client.js output %q: %v", out, err)
	}
	return r
}

func TestInteropNodeClient(t *testing.T) {
	p := newTestPKI(t)
	alt, altKey, _ := p.ca.issue(t, leafOpts{dns: []string{"alt.test"}})
	altCtx, err := NewSecureContext(ContextOptions{Cert: [][]byte{alt}, Key: [][]byte{altKey}})
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *Conn, 8)
	srv, addr := greetServer(t, ServerOptions{Context: p.context(t, nil),
		ALPNProtocols:      []string{"h2", "http/1.1"},
		OnSecureConnection: func(c *Conn) { accepted <- c }})
	if err := srv.AddContext("alt.test", altCtx); err != nil {
		t.Fatal(err)
	}
	port := portOf(t, addr)
	other := newTestCA(t, "not the issuer")

	for _, tc := range []struct{ name, version, ciphers string }{
		{"TLSv1.2", VersionTLS12, ""},
		{"TLSv1.3", VersionTLS13, ""},
		{"TLSv1.2 RSA", VersionTLS12, "ECDHE-RSA-AES128-GCM-SHA256"},
	} {
		version := tc.version
		t.Run(tc.name, func(t *testing.T) {
			r := runNodeClient(t, map[string]any{"port": port, "servername": "localhost",
				"ca": string(p.ca.pem), "alpn": []string{"h2"}, "maxVersion": version,
				"ciphers": tc.ciphers})
			if r.Error != "" {
				t.Fatalf("node: %s (%s)", r.Error, r.Code)
			}
			f, s := r.First, r.Second
			if !f.Authorized || f.Protocol != version || f.AlpnProtocol != "h2" ||
				f.Data != "hello\n" {
				t.Errorf("first connection %+v", f)
			}
			if f.Reused || !s.Reused {
				t.Errorf("resumption: first reused %v, second reused %v", f.Reused, s.Reused)
			}

			sc := <-accepted
			<-accepted
			if ci := sc.Cipher(); ci.Name != f.Cipher.Name ||
				ci.StandardName != f.Cipher.StandardName || ci.Version != f.Cipher.Version {
				t.Errorf("getCipher(): node %+v, ours %+v", f.Cipher, ci)
			}
			if version == VersionTLS12 && (f.Finished == nil ||
				*f.Finished != hex.EncodeToString(sc.PeerFinished())) {
				t.Errorf("node getFinished() %v, our PeerFinished() %x", f.Finished,
					sc.PeerFinished())
			}
			if sc.ServerName() != "localhost" {
				t.Errorf("server saw SNI %q", sc.ServerName())
			}

			// Node's getPeerCertificate of our leaf must equal our shape of it.
			ours := NewPeerCertificate(sc.Certificate().Certificate)
			np := f.Peer
			if np == nil {
				t.Fatal("no peer certificate from node")
			}
			if np.Subjectaltname != ours.SubjectAltName || np.ValidFrom != ours.ValidFrom ||
				np.ValidTo != ours.ValidTo || np.Fingerprint != ours.Fingerprint ||
				np.Fingerprint256 != ours.Fingerprint256 ||
				np.SerialNumber != ours.SerialNumber || np.Bits != ours.Bits ||
				np.Modulus != ours.Modulus || np.Exponent != ours.Exponent ||
				np.ASN1Curve != ours.ASN1Curve || np.NISTCurve != ours.NISTCurve ||
				fmt.Sprint(np.ExtKeyUsage) != fmt.Sprint(ours.ExtKeyUsage) ||
				np.Subject["CN"] != ours.Subject.Get("CN") ||
				np.IssuerCN != "tlslayer test root" {
				ours.Raw, ours.PubKey, ours.Certificate = nil, nil, nil
				t.Errorf("getPeerCertificate differs:\n node %+v\n ours %+v", *np, *ours)
			}
		})
	}

	t.Run("SNI picks context", func(t *testing.T) {
		r := runNodeClient(t, map[string]any{"port": port, "servername": "alt.test",
			"ca": string(p.ca.pem)})
		if r.Error != "" || r.First.Peer.Subject["CN"] != "alt.test" || !r.First.Authorized {
			t.Errorf("alt.test: %+v", r)
		}
		<-accepted
		<-accepted
	})

	t.Run("wrong CA", func(t *testing.T) {
		r := runNodeClient(t, map[string]any{"port": port, "servername": "localhost",
			"ca": string(other.pem), "rejectUnauthorized": false})
		if r.Error != "" || r.First.Authorized || r.First.AuthorizationError == nil ||
			*r.First.AuthorizationError != CodeUnableToVerifyLeafSignature {
			t.Errorf("wrong CA: %+v", r.First)
		}
		<-accepted
		<-accepted
		r = runNodeClient(t, map[string]any{"port": port, "servername": "localhost",
			"ca": string(other.pem)})
		if r.Code != CodeUnableToVerifyLeafSignature {
			t.Errorf("rejectUnauthorized: error %q code %q", r.Error, r.Code)
		}
	})
}

// startNodeServer runs testdata/node_server.js with cfg and returns its port.
func startNodeServer(t *testing.T, cfg map[string]any) int {
	t.Helper()
	node := needTool(t, "node")
	arg, _ := json.Marshal(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "testdata/node_server.js", string(arg))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("node_server.js: %v", err)
	}
	port, _ := strconv.Atoi(strings.TrimSpace(line))
	return port
}

func TestInteropClientAgainstNodeServer(t *testing.T) {
	p := newTestPKI(t)
	port := startNodeServer(t, map[string]any{"cert": string(p.rsaCert),
		"key": string(p.rsaKey), "alpn": []string{"http/1.1", "h2"}})

	for _, version := range []string{VersionTLS12, VersionTLS13} {
		var session []byte
		for i := 0; i < 2; i++ {
			c, err := Connect(ClientOptions{Port: port, ALPNProtocols: []string{"h2"},
				Session: session, ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem},
					MaxVersion: version}})
			if err != nil {
				t.Fatal(err)
			}
			echo(t, c)
			if c.Protocol() != version || c.ALPNProtocol() != "h2" || !c.Authorized() {
				t.Errorf("%s: protocol %s alpn %q authorized %v", version, c.Protocol(),
					c.ALPNProtocol(), c.Authorized())
			}
			if pc := c.PeerCertificate(false); pc.Bits != 2048 {
				t.Errorf("peer certificate %+v", pc)
			}
			if i == 1 && !c.IsSessionReused() {
				t.Errorf("%s: Node session not resumed", version)
			}
			session = c.Session()
			c.Close()
		}
	}
}

func TestInteropCurl(t *testing.T) {
	curl := needTool(t, "curl")
	p := newTestPKI(t)
	srv, err := NewServer(ServerOptions{Context: p.context(t, nil),
		ALPNProtocols: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s tls=%x\n", r.Proto, r.TLS.Version)
	})}
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetHTTP2(true)
	go func() { _ = hs.Serve(HTTPListener(srv.Listen(inner))) }()
	defer hs.Close()
	port := portOf(t, inner.Addr().String())
	f := writeFiles(t, map[string][]byte{"ca.pem": p.ca.pem})
	url := fmt.Sprintf("https://localhost:%d/", port)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--http1.1"}, "proto=HTTP/1.1 tls=304"},
		{[]string{"--http2"}, "proto=HTTP/2.0 tls=304"},
		{[]string{"--http1.1", "--tlsv1.2", "--tls-max", "1.2"}, "proto=HTTP/1.1 tls=303"},
	} {
		args := append([]string{"-sS", "--max-time", "20", "--cacert", f["ca.pem"]},
			tt.args...)
		out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("curl %v: %v\n%s", tt.args, err, out)
		}
	}
	out, err := exec.Command(curl, "-sS", "--max-time", "20", url).CombinedOutput()
	if err == nil {
		t.Errorf("curl trusted an unknown CA: %s", out)
	}
}

func TestInteropClientCertificateWithNodeServer(t *testing.T) {
	p := newTestPKI(t)
	cert, key, _ := p.ca.issue(t, leafOpts{cn: "go-client", client: true})
	port := startNodeServer(t, map[string]any{"cert": string(p.ecCert),
		"key": string(p.ecKey), "ca": string(p.ca.pem), "requestCert": true, "report": true})

	for _, tt := range []struct {
		name     string
		cert     []byte
		key      []byte
		wantAuth bool
		wantCN   string
	}{
		{"with certificate", cert, key, true, "go-client"},
		{"without certificate", nil, nil, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := ContextOptions{CA: [][]byte{p.ca.pem}}
			if tt.cert != nil {
				o.Cert, o.Key = [][]byte{tt.cert}, [][]byte{tt.key}
			}
			c, err := Connect(ClientOptions{Port: port, ContextOptions: o})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			var seen struct {
				Authorized         bool
				AuthorizationError *string
				CN                 *string
			}
			if err := json.Unmarshal([]byte(line), &seen); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			cn := ""
			if seen.CN != nil {
				cn = *seen.CN
			}
			if seen.Authorized != tt.wantAuth || cn != tt.wantCN {
				t.Errorf("node sees authorized %v (%v) CN %q", seen.Authorized,
					seen.AuthorizationError, cn)
			}
		})
	}
}

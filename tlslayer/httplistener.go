package tlslayer

import "net"

// HTTPListener adapts a listener from Server.Listen for net/http: its
// Accept returns the *tls.Conn under each *Conn (Conn.TLS), which
// http.Server needs to fill in Request.TLS and to serve HTTP/2. Pass it to
// http.Server.Serve with ServerOptions.ALPNProtocols set to
// {"h2", "http/1.1"}; each connection then speaks what ALPN chose.
// Closing the *tls.Conn, as net/http does, still releases the server's
// connection count. Connections that are not *Conn are returned unchanged.
func HTTPListener(l net.Listener) net.Listener {
	return httpListener{l}
}

type httpListener struct{ net.Listener }

func (l httpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*Conn); ok {
		return tc.TLS(), nil
	}
	return c, nil
}

package tlslayer

// keylogWriter hands crypto/tls's NSS key-log lines to a callback along
// with the connection they belong to. crypto/tls writes one whole line,
// newline included, per Write.
type keylogWriter struct {
	c  *Conn
	fn func(line []byte, c *Conn)
}

func (w keylogWriter) Write(p []byte) (int, error) {
	w.fn(append([]byte(nil), p...), w.c)
	return len(p), nil
}

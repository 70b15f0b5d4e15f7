// Package zerocopy holds the buffer pools and copy paths of tlsstack's data
// path. Copy moves a stream between two connections through one pooled
// buffer, so a proxied or echoed byte is copied once in user space, and
// not at all when both ends are kernel sockets (io.Copy then splices).
package zerocopy

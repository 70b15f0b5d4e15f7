package tun

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/qdisc/fifo"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// EndpointOptions tune the link endpoint made by NewLinkEndpoint. The zero
// value is the fast default.
type EndpointOptions struct {
	// SplitReceived splits the TCP super-packets that offload lets the
	// kernel hand over into MTU-sized segments before the stack sees them,
	// as a NIC without receive offload would. By default (false) the
	// stack gets each super-packet as one large segment, as Linux's own
	// TCP gets GRO packets, which costs far less per byte.
	SplitReceived bool

	// QueueThread, when set, runs first thing in each queue's reader
	// goroutine, on an OS thread that stays locked to the reader for its
	// life, with the queue's index. It is where a caller pins the reader
	// to a core (see package affinity), so that the queue's reads and the
	// kernel work they trigger stay there. Nil leaves the reader to the
	// Go scheduler.
	QueueThread func(queue int)

	// WriteDirect makes the stack's goroutines write packets to the
	// device themselves. By default (false) a writer goroutine per queue
	// does, so that a TCP endpoint's lock is not held while the kernel
	// forwards what was written, which under load is long enough for
	// gVisor's TCP processors to spin waiting for the lock.
	WriteDirect bool
}

// writeQueueLen bounds the packets waiting for a queue's writer; more
// fail with ErrNoBufferSpace and TCP sends them again later.
const writeQueueLen = 4096

// gsoMaxSize bounds the TCP segments the stack builds for host GSO, IP
// header included: the kernel accepts up to 64 KiB.
const gsoMaxSize = 1 << 16

// maxPacket is the size of the buffer a queue reads into, one pooled
// chunk of gVisor's. The kernel's super-packets stay within 64 KiB, but an
// IPv6 packet may be 40 bytes longer; the rare longer packet continues in
// a small tail buffer and is copied.
const maxPacket = buffer.MaxChunkSize

// copyBelow is the size under which a received packet is copied out of the
// 64 KiB read buffer into one of its own; larger packets keep the buffer.
const copyBelow = 4 << 10

// Endpoint is a stack.LinkEndpoint over a TUN device's queues: one
// goroutine per queue reads packets and delivers them to the stack, and
// writes go to the queue that the flow's hash picks, so that the kernel
// steers the flow's incoming packets to that queue too.
type Endpoint struct {
	name       string
	queues     []*queue
	virtio     bool // packets carry a virtio-net header
	hostGSO    bool // write TCP super-packets for the kernel to split
	split      bool
	onThread   func(queue int)
	qdisc      stack.QueueingDiscipline // nil: write on the caller's goroutine
	stats      Stats
	mtu        atomic.Uint32
	closeOnce  sync.Once
	readersWG  sync.WaitGroup
	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher // guarded by mu
	onClose    func()                  // guarded by mu
}

// Stats are an endpoint's counters, read with Endpoint.Stats.
type Stats struct {
	// RxPackets and RxBytes count packets read from the device, each
	// super-packet once.
	RxPackets, RxBytes atomic.Uint64
	// RxSuper counts TCP super-packets read (only with offload).
	RxSuper atomic.Uint64
	// RxChecksumCompleted counts partial checksums completed on receipt.
	RxChecksumCompleted atomic.Uint64
	// RxDropped counts packets dropped for a malformed virtio-net header,
	// a truncated read or an unknown IP version.
	RxDropped atomic.Uint64
	// TxPackets and TxBytes count packets written, each super-packet once.
	TxPackets, TxBytes atomic.Uint64
	// TxSuper counts TCP super-packets written for the kernel to split.
	TxSuper atomic.Uint64
	// TxErrors counts failed writes.
	TxErrors atomic.Uint64
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)
var _ stack.GSOEndpoint = (*Endpoint)(nil)

// NewLinkEndpoint returns a stack.LinkEndpoint that reads and writes raw IP
// packets on the device's queues. With offload (see Config.DisableOffload
// and Device.Offload) it writes TCP super-packets with a partial checksum
// for the kernel to split and complete, and completes partial checksums of
// what it reads; otherwise the stack computes and verifies every checksum
// itself. The stack verifies received checksums in both modes: packets the
// kernel forwards from elsewhere arrive with the sender's checksum, which
// nobody has checked yet.
func NewLinkEndpoint(d *Device, opts EndpointOptions) (*Endpoint, error) {
	o := d.Offload()
	e := &Endpoint{
		name:     d.Name(),
		virtio:   o.VirtioHeader,
		hostGSO:  o.VirtioHeader && o.Checksum && o.TSO4 && o.TSO6,
		split:    opts.SplitReceived,
		onThread: opts.QueueThread,
	}
	e.mtu.Store(uint32(d.MTU()))
	for i, fd := range d.FDs() {
		q, err := newQueue(e, i, fd)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("tun: link endpoint on %s: %w", d.Name(), err)
		}
		e.queues = append(e.queues, q)
	}
	if len(e.queues) == 0 {
		return nil, fmt.Errorf("tun: link endpoint on %s: device is closed", d.Name())
	}
	if !opts.WriteDirect {
		e.qdisc = fifo.New(directWriter{e}, len(e.queues), writeQueueLen)
	}
	return e, nil
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() *Stats { return &e.stats }

// MTU implements stack.LinkEndpoint.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint: TUN has no link header;
// the virtio-net header is written from a buffer of its own.
func (e *Endpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint; TUN has none.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint; TUN has none.
func (e *Endpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint. No checksum capability is
// claimed: see NewLinkEndpoint.
func (e *Endpoint) Capabilities() stack.LinkEndpointCapabilities { return 0 }

// GSOMaxSize implements stack.GSOEndpoint.
func (e *Endpoint) GSOMaxSize() uint32 { return gsoMaxSize }

// SupportedGSO implements stack.GSOEndpoint. Without host GSO the stack
// still builds large segments and splits them itself just before writing,
// which saves most of its per-segment work.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.hostGSO {
		return stack.HostGSOSupported
	}
	return stack.GVisorGSOSupported
}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint; TUN has no link header.
func (e *Endpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint; TUN has no link header.
func (e *Endpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	e.onClose = f
	e.mu.Unlock()
}

// Attach implements stack.LinkEndpoint. It starts a reader per queue; nil
// stops them.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	if d == nil {
		e.dispatcher = nil
		e.mu.Unlock()
		for _, q := range e.queues {
			q.f.SetReadDeadline(time.Unix(1, 0))
		}
		e.readersWG.Wait()
		return
	}
	defer e.mu.Unlock()
	if e.dispatcher != nil {
		return
	}
	e.dispatcher = d
	for _, q := range e.queues {
		q.f.SetReadDeadline(time.Time{})
		e.readersWG.Add(1)
		go func() {
			defer e.readersWG.Done()
			q.readLoop(d)
		}()
	}
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint: it waits for the readers to stop.
func (e *Endpoint) Wait() { e.readersWG.Wait() }

// Close implements stack.LinkEndpoint. It stops the readers and releases
// the endpoint's descriptors; the Device keeps its own until its Close.
func (e *Endpoint) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		onClose := e.onClose
		e.mu.Unlock()
		if onClose != nil {
			onClose()
		}
		if e.qdisc != nil {
			e.qdisc.Close()
		}
		for _, q := range e.queues {
			q.f.Close()
		}
		e.readersWG.Wait()
	})
}

// WritePackets implements stack.LinkEndpoint. Packets go to the queue's
// writer goroutine, which writes them in order; the caller, who usually
// holds a TCP endpoint's lock, does not wait for the kernel to forward
// them.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.qdisc == nil {
		return e.writeNow(pkts)
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if err := e.qdisc.WritePacket(pkt); err != nil {
			e.stats.TxErrors.Add(1)
			if n == 0 {
				return 0, err
			}
			break
		}
		n++
	}
	return n, nil
}

// directWriter writes packets on the caller's goroutine; the write queue
// calls it.
type directWriter struct{ e *Endpoint }

func (w directWriter) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	return w.e.writeNow(pkts)
}

// writeNow writes pkts to their queues before it returns.
func (e *Endpoint) writeNow(pkts stack.PacketBufferList) (int, tcpip.Error) {
	w := writerPool.Get().(*writer)
	defer writerPool.Put(w)
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if err := e.writePacket(w, pkt); err != nil {
			e.stats.TxErrors.Add(1)
			if n == 0 {
				return 0, err
			}
			break
		}
		n++
	}
	return n, nil
}

func (e *Endpoint) writePacket(w *writer, pkt *stack.PacketBuffer) tcpip.Error {
	q := e.queues[0]
	if len(e.queues) > 1 {
		// The kernel steers a flow's packets to the queue its
		// replies were last written on, so any fixed choice per flow
		// keeps a flow on one queue; the stack hashes each connection
		// once. Multiply and shift spreads the hash evenly.
		// The write queue hashes the same way.
		q = e.queues[pkt.Hash%uint32(len(e.queues))]
	}

	w.iovs = w.iovs[:0]
	if e.virtio {
		h := txVirtioHdr(pkt)
		if !e.hostGSO {
			h = virtioNetHdr{}
		}
		if h.gsoType != virtioGSONone {
			e.stats.TxSuper.Add(1)
		}
		h.encode(w.hdr[:])
		w.addIovec(w.hdr[:])
	}
	views, off := pkt.AsViewList()
	for v := views.Front(); v != nil; v = v.Next() {
		b := v.AsSlice()
		if off >= len(b) {
			off -= len(b)
			continue
		}
		w.addIovec(b[off:])
		off = 0
	}

	if err := q.rc.Write(w.writev); err != nil {
		return &tcpip.ErrClosedForSend{}
	}
	if w.errno != 0 {
		return tcpip.TranslateErrno(w.errno)
	}
	e.stats.TxPackets.Add(1)
	e.stats.TxBytes.Add(uint64(pkt.Size()))
	return nil
}

// writer holds what one writev needs, so that writing allocates nothing.
type writer struct {
	hdr    [virtioNetHdrLen]byte
	iovs   []unix.Iovec
	errno  syscall.Errno
	writev func(fd uintptr) bool
}

var writerPool = sync.Pool{New: func() any {
	w := &writer{iovs: make([]unix.Iovec, 0, 64)}
	w.writev = w.doWritev
	return w
}}

func (w *writer) addIovec(b []byte) {
	if len(b) == 0 {
		return
	}
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	w.iovs = append(w.iovs, iov)
}

// doWritev writes the iovecs; it runs inside RawConn.Write. A TUN write
// takes the whole packet or fails.
func (w *writer) doWritev(fd uintptr) bool {
	_, _, errno := unix.Syscall(unix.SYS_WRITEV, fd,
		uintptr(unsafe.Pointer(unsafe.SliceData(w.iovs))), uintptr(len(w.iovs)))
	w.errno = errno
	return errno != unix.EAGAIN
}

// queue is one of the device's queues, seen through a descriptor of the
// endpoint's own, which the Go runtime's poller watches.
type queue struct {
	e     *Endpoint
	index int
	f     *os.File
	rc    syscall.RawConn

	// Owned by the reader goroutine.
	hdr     [virtioNetHdrLen]byte
	iovs    [3]unix.Iovec // header, view, tail
	tail    [512]byte     // what does not fit the view: see maxPacket
	view    *buffer.View
	n       int
	errno   syscall.Errno
	readv   func(fd uintptr) bool
	scratch []byte // for SplitReceived
}

func newQueue(e *Endpoint, index, devFD int) (*queue, error) {
	fd, err := unix.FcntlInt(uintptr(devFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup queue %d: %w", index, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("queue %d: set non-blocking: %w", index, err)
	}
	q := &queue{e: e, index: index, f: os.NewFile(uintptr(fd), e.name)}
	q.rc, err = q.f.SyscallConn()
	if err != nil {
		q.f.Close()
		return nil, fmt.Errorf("queue %d: %w", index, err)
	}
	q.readv = q.doReadv
	return q, nil
}

// doReadv reads one packet into q.view; it runs inside RawConn.Read.
func (q *queue) doReadv(fd uintptr) bool {
	iovs := q.iovs[:]
	if !q.e.virtio {
		iovs = iovs[1:]
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READV, fd,
		uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)))
	q.n, q.errno = int(n), errno
	return errno != unix.EAGAIN
}

// readLoop delivers the queue's packets to d until the endpoint stops.
func (q *queue) readLoop(d stack.NetworkDispatcher) {
	e := q.e
	if e.onThread != nil {
		// The thread may leave pinned: let it end with the reader
		// rather than serve other goroutines, by not unlocking.
		runtime.LockOSThread()
		e.onThread(q.index)
	}
	q.iovs[0].Base = &q.hdr[0]
	q.iovs[0].SetLen(virtioNetHdrLen)
	q.iovs[2].Base = &q.tail[0]
	q.iovs[2].SetLen(len(q.tail))
	defer func() {
		if q.view != nil {
			q.view.Release()
			q.view = nil
		}
	}()

	for {
		if q.view == nil {
			q.view = buffer.NewViewSize(maxPacket)
		}
		buf := q.view.AsSlice()
		q.iovs[1].Base = &buf[0]
		q.iovs[1].SetLen(len(buf))

		if err := q.rc.Read(q.readv); err != nil {
			return // closed, or the read deadline that Attach(nil) sets
		}
		switch q.errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EBADFD, unix.EBADF:
			return
		default:
			// The device went away or the queue was detached; a
			// reader has nothing better to do than stop.
			return
		}
		n := q.n
		if e.virtio {
			n -= virtioNetHdrLen
		}
		if n <= 0 || n >= len(buf)+len(q.tail) {
			e.stats.RxDropped.Add(1) // empty, or truncated
			continue
		}
		e.stats.RxPackets.Add(1)
		e.stats.RxBytes.Add(uint64(n))
		if n <= len(buf) {
			q.deliver(d, buf[:n], true)
			continue
		}
		whole := make([]byte, n)
		copy(whole, buf)
		copy(whole[len(buf):], q.tail[:n-len(buf)])
		q.deliver(d, whole, false)
	}
}

// deliver hands one packet to the stack; inView says it is held in
// q.view, which deliver may then pass on rather than copy.
func (q *queue) deliver(d stack.NetworkDispatcher, pkt []byte, inView bool) {
	e := q.e
	proto, ok := ipVersion(pkt)
	if !ok {
		e.stats.RxDropped.Add(1)
		return
	}
	if e.virtio {
		var h virtioNetHdr
		h.decode(q.hdr[:])
		if h.gsoType != virtioGSONone {
			e.stats.RxSuper.Add(1)
			if e.split {
				q.deliverSplit(d, proto, pkt, &h)
				return
			}
		}
		if err := prepareReceived(pkt, &h); err != nil {
			e.stats.RxDropped.Add(1)
			return
		}
		if h.flags&virtioFlagNeedsCsum != 0 {
			e.stats.RxChecksumCompleted.Add(1)
		}
	}

	var payload buffer.Buffer
	if len(pkt) < copyBelow || !inView {
		payload = buffer.MakeWithView(buffer.NewViewWithData(pkt))
	} else {
		// Keep the large read buffer for the payload, but give the
		// headers a small view of their own: gVisor copies a whole
		// shared chunk when it pulls a header out of it, and its IP
		// layer shares the header's chunk before it does that.
		hl := headersLen(pkt)
		payload = buffer.MakeWithView(buffer.NewViewWithData(pkt[:hl]))
		v := q.view
		q.view = nil
		v.CapLength(len(pkt))
		v.TrimFront(hl)
		payload.Append(v)
	}
	p := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	d.DeliverNetworkPacket(proto, p)
	p.DecRef()
}

func (q *queue) deliverSplit(d stack.NetworkDispatcher, proto tcpip.NetworkProtocolNumber,
	pkt []byte, h *virtioNetHdr) {
	if q.scratch == nil {
		q.scratch = make([]byte, maxPacket)
	}
	err := segmentTCP(pkt, h, q.scratch, func(seg []byte) {
		p := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithView(buffer.NewViewWithData(seg)),
		})
		d.DeliverNetworkPacket(proto, p)
		p.DecRef()
	})
	if err != nil {
		q.e.stats.RxDropped.Add(1)
	}
}

// headersLen returns the length of pkt's IP and TCP headers, or of its IP
// header when it carries something else; never all of pkt.
func headersLen(pkt []byte) int {
	n, proto := header.IPv4MinimumSize, uint8(0)
	switch pkt[0] >> 4 {
	case 4:
		n, proto = int(pkt[0]&0xf)*4, pkt[9]
	case 6:
		n, proto = header.IPv6MinimumSize, pkt[6]
	}
	if proto == uint8(header.TCPProtocolNumber) && n+header.TCPMinimumSize <= len(pkt) {
		n += int(pkt[n+12]>>4) * 4
	}
	return max(min(n, len(pkt)-1), 1)
}

// ipVersion returns the network protocol of a raw IP packet.
func ipVersion(pkt []byte) (tcpip.NetworkProtocolNumber, bool) {
	switch pkt[0] >> 4 {
	case 4:
		return header.IPv4ProtocolNumber, true
	case 6:
		return header.IPv6ProtocolNumber, true
	}
	return 0, false
}

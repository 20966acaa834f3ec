//go:build linux

// Command delay adds a fixed one-way delay to packets in user space, for
// kernels without sch_netem.
//
// It binds a netfilter queue (NFQUEUE) in the current network namespace,
// holds every queued packet for -delay and then accepts it, strictly in
// arrival order. Packets are steered to the queue with a rule such as
//
//	iptables -t mangle -A PREROUTING -i veth0 -j NFQUEUE --queue-num 77
//
// (on the receiving side: a packet held on the sending side's egress is
// still charged to its TCP socket, and TCP Small Queues then throttle the
// sender to about 1 ms of data in flight).
//
// Only packet metadata is copied to user space (NFQNL_COPY_META) and GSO
// packets are queued whole (NFQA_CFG_F_GSO), so the cost per packet is one
// small netlink message in each direction; due packets are released with one
// batch verdict.
//
// The program speaks nfnetlink_queue over a raw netlink socket and needs only
// the standard library. It runs until SIGINT or SIGTERM, then unbinds the
// queue (packets still held are accepted).
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Constants from linux/netfilter/nfnetlink.h and nfnetlink_queue.h.
const (
	netlinkNetfilter = 12 // NETLINK_NETFILTER
	nfnetlinkV0      = 0
	nfnlSubsysQueue  = 3

	nfqnlMsgPacket       = 0
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind   = 1
	nfqnlCfgCmdUnbind = 2

	nfqnlCopyMeta = 1

	nfqaCfgFGSO = 1 << 2

	nfAccept = 1

	solNetlink       = 270 // SOL_NETLINK
	netlinkNoENOBUFS = 5   // NETLINK_NO_ENOBUFS
	nlaFNested       = 1 << 15
	nlaFNetByteorder = 1 << 14
)

type held struct {
	id  uint32
	due time.Time
}

func main() {
	queue := flag.Uint("queue", 77, "NFQUEUE number to bind (as in iptables --queue-num)")
	delay := flag.Duration("delay", 20*time.Millisecond, "one-way delay added to every queued packet")
	maxlen := flag.Uint("maxlen", 65536, "kernel queue length (packets held at once)")
	quiet := flag.Bool("quiet", false, "do not print a summary on exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("delay: ")
	if *queue > 65535 {
		log.Fatal("-queue must be 0..65535")
	}
	if *delay < 0 {
		log.Fatal("-delay must not be negative")
	}

	nl, err := openQueue(uint16(*queue), uint32(*maxlen))
	if err != nil {
		log.Fatalf("binding NFQUEUE %d: %v", *queue, err)
	}
	log.Printf("queue %d bound, delay %v", *queue, *delay)

	// The kernel queue holds packets; this channel only carries their ids
	// and due times from the reader to the releaser. It is sized so that
	// the reader never blocks at realistic rates (the kernel queue length
	// bounds what can be outstanding anyway).
	ch := make(chan held, int(*maxlen)+1024)
	var received, released atomic.Uint64
	var wg sync.WaitGroup

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})

	wg.Add(1)
	go func() { // releaser
		defer wg.Done()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		var pending *held
		for {
			if pending == nil {
				select {
				case h := <-ch:
					pending = &h
				case <-done:
					return
				}
			}
			if wait := time.Until(pending.due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-done:
					return
				}
			}
			// pending is due; take every later packet that is due too
			// and accept them all with one batch verdict.
			last := pending.id
			n := uint64(1)
			pending = nil
			now := time.Now()
		drain:
			for {
				select {
				case h := <-ch:
					if h.due.After(now) {
						pending = &h
						break drain
					}
					last = h.id
					n++
				default:
					break drain
				}
			}
			if err := nl.verdictBatch(last, nfAccept); err != nil {
				log.Printf("verdict: %v", err)
			}
			released.Add(n)
		}
	}()

	go func() { // reader
		buf := make([]byte, 1<<16)
		for {
			n, _, err := syscall.Recvfrom(nl.fd, buf, 0)
			if err != nil {
				if errors.Is(err, syscall.EINTR) {
					continue
				}
				if errors.Is(err, syscall.ENOBUFS) {
					log.Printf("netlink receive buffer overrun; packets may be lost")
					continue
				}
				select {
				case <-done:
				default:
					log.Printf("recv: %v", err)
				}
				return
			}
			msgs, err := syscall.ParseNetlinkMessage(buf[:n])
			if err != nil {
				log.Printf("parse: %v", err)
				continue
			}
			now := time.Now()
			for _, m := range msgs {
				switch m.Header.Type {
				case syscall.NLMSG_ERROR:
					if len(m.Data) >= 4 {
						if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
							log.Printf("netlink error: %v", syscall.Errno(-code))
						}
					}
					continue
				case nfnlSubsysQueue<<8 | nfqnlMsgPacket:
				default:
					continue
				}
				id, ok := packetID(m.Data)
				if !ok {
					continue
				}
				received.Add(1)
				ch <- held{id: id, due: now.Add(*delay)}
			}
		}
	}()

	<-stop
	close(done)
	wg.Wait()
	// Accept whatever is still held, then unbind.
	for {
		select {
		case h := <-ch:
			_ = nl.verdictBatch(h.id, nfAccept)
			released.Add(1)
			continue
		default:
		}
		break
	}
	_ = nl.config(nfqaCfgCmd, cfgCmd(nfqnlCfgCmdUnbind))
	syscall.Close(nl.fd)
	if !*quiet {
		fmt.Fprintf(os.Stderr, "delay: queue %d: %d packets received, %d released\n",
			*queue, received.Load(), released.Load())
	}
}

type nfq struct {
	fd    int
	queue uint16
	mu    sync.Mutex
	seq   uint32
}

func openQueue(queue uint16, maxlen uint32) (*nfq, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Large receive buffer so bursts are not lost; FORCE works as root.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	}
	_ = syscall.SetsockoptInt(fd, solNetlink, netlinkNoENOBUFS, 1)
	q := &nfq{fd: fd, queue: queue}

	if err := q.configAck(attr(nfqaCfgCmd, cfgCmd(nfqnlCfgCmdBind))); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind queue: %w", err)
	}
	params := make([]byte, 5) // struct nfqnl_msg_config_params (packed)
	binary.BigEndian.PutUint32(params[0:4], 0)
	params[4] = nfqnlCopyMeta
	be32 := func(v uint32) []byte { b := make([]byte, 4); binary.BigEndian.PutUint32(b, v); return b }
	var msg []byte
	msg = append(msg, attr(nfqaCfgParams, params)...)
	msg = append(msg, attr(nfqaCfgQueueMax, be32(maxlen))...)
	if err := q.configAck(msg); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("queue params: %w", err)
	}
	// Queue GSO packets whole instead of segmenting them first. Older
	// kernels may refuse the flag; that only costs CPU.
	flags := append(attr(nfqaCfgMask, be32(nfqaCfgFGSO)), attr(nfqaCfgFlags, be32(nfqaCfgFGSO))...)
	if err := q.configAck(flags); err != nil {
		log.Printf("GSO flag not accepted (%v); continuing", err)
	}
	return q, nil
}

func cfgCmd(cmd byte) []byte {
	// struct nfqnl_msg_config_cmd { __u8 command; __u8 _pad; __be16 pf; }
	return []byte{cmd, 0, 0, 0}
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], data)
	return b
}

// message builds nlmsghdr + nfgenmsg + attributes.
func (q *nfq) message(msgType uint16, flags uint16, attrs []byte) []byte {
	q.mu.Lock()
	q.seq++
	seq := q.seq
	q.mu.Unlock()
	b := make([]byte, 16+4+len(attrs))
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:8], syscall.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	binary.NativeEndian.PutUint32(b[12:16], 0)
	b[16] = syscall.AF_UNSPEC // nfgen_family
	b[17] = nfnetlinkV0       // version
	binary.BigEndian.PutUint16(b[18:20], q.queue)
	copy(b[20:], attrs)
	return b
}

func (q *nfq) send(b []byte) error {
	return syscall.Sendto(q.fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
}

func (q *nfq) config(typ uint16, data []byte) error {
	return q.send(q.message(nfqnlMsgConfig, 0, attr(typ, data)))
}

// configAck sends a config message and waits for the kernel's ack. It is
// used only before the reader starts.
func (q *nfq) configAck(attrs []byte) error {
	if err := q.send(q.message(nfqnlMsgConfig, syscall.NLM_F_ACK, attrs)); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	deadline := time.Now().Add(5 * time.Second)
	tv := syscall.NsecToTimeval(int64(5 * time.Second))
	_ = syscall.SetsockoptTimeval(q.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	defer func() {
		zero := syscall.Timeval{}
		_ = syscall.SetsockoptTimeval(q.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &zero)
	}()
	for time.Now().Before(deadline) {
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
		}
	}
	return errors.New("no ack from kernel")
}

// verdictBatch applies verdict to every queued packet with id <= id.
func (q *nfq) verdictBatch(id uint32, verdict uint32) error {
	v := make([]byte, 8) // struct nfqnl_msg_verdict_hdr { __be32 verdict; __be32 id; }
	binary.BigEndian.PutUint32(v[0:4], verdict)
	binary.BigEndian.PutUint32(v[4:8], id)
	return q.send(q.message(nfqnlMsgVerdictBatch, 0, attr(nfqaVerdictHdr, v)))
}

// packetID extracts the packet id from an NFQNL_MSG_PACKET payload.
func packetID(data []byte) (uint32, bool) {
	if len(data) < 4 {
		return 0, false
	}
	data = data[4:] // nfgenmsg
	for len(data) >= 4 {
		l := int(binary.NativeEndian.Uint16(data[0:2]))
		typ := binary.NativeEndian.Uint16(data[2:4]) &^ (nlaFNested | nlaFNetByteorder)
		if l < 4 || l > len(data) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 4+4 {
			// struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; __u8 hook; }
			return binary.BigEndian.Uint32(data[4:8]), true
		}
		adv := (l + 3) &^ 3
		if adv > len(data) {
			break
		}
		data = data[adv:]
	}
	return 0, false
}

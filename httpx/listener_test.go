package httpx

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestLimitListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(tcp, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	sa, sb := <-accepted, <-accepted
	// Over the limit: accepted and closed at once, never handed out.
	c := dial()
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("third connection: read %d, %v; want it closed (EOF)", n, err)
	}
	if ln.Shed() != 1 || ln.Open() != 2 {
		t.Fatalf("shed %d open %d", ln.Shed(), ln.Open())
	}
	select {
	case <-accepted:
		t.Fatal("a connection over the limit was handed to the server")
	default:
	}
	// Closing one (twice: counted once) makes room.
	sa.Close()
	sa.Close()
	if ln.Open() != 1 {
		t.Fatalf("open %d after a close", ln.Open())
	}
	d := dial()
	defer d.Close()
	select {
	case sd := <-accepted:
		sd.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("no room after a connection closed")
	}
	sb.Close()
}

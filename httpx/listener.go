package httpx

import (
	"net"
	"sync"
	"sync/atomic"
)

// DefaultMaxConns is how many connections a server holds at once by
// default: each costs a goroutine and its buffers (about 10 KiB idle), so
// this bounds what idle or dribbling clients can cost in memory.
const DefaultMaxConns = 1024

// LimitListener returns a listener that holds at most n connections at
// once. A connection over the limit is accepted and closed at once (shed),
// never queued: a queue of waiting connections would hold the very
// resources the limit protects, and would stall /healthz behind them.
func LimitListener(ln net.Listener, n int) *LimitedListener {
	return &LimitedListener{Listener: ln, max: int64(max(n, 1))}
}

// LimitedListener is a listener with a connection limit.
type LimitedListener struct {
	net.Listener
	max  int64
	open atomic.Int64
	shed atomic.Int64
}

// Accept implements net.Listener.
func (l *LimitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.shed.Add(1)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l}, nil
	}
}

// Open is the number of connections held.
func (l *LimitedListener) Open() int64 { return l.open.Load() }

// Shed counts connections closed at once for being over the limit.
func (l *LimitedListener) Shed() int64 { return l.shed.Load() }

type limitedConn struct {
	net.Conn
	l    *LimitedListener
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// Package agent runs the Finance SDK in a child process (`wxarchive
// capture-agent`) and talks to it over its standard input and output, so
// that a crash inside the vendor library ends the child, not the archive.
// Client implements finance.SDK; when the child dies, calls fail with
// ErrAgentDied and the connector opens a new client (a new child).
//
// Protocol: one JSON object per line each way. A request is
// {"id", "op", …arguments}; its response {"id", "data" (base64), "out_index",
// "is_finish", "code" (SDK error code), "error"}. Requests are answered in
// order.
package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
)

// ErrAgentDied is returned by calls whose agent process exited.
var ErrAgentDied = errors.New("capture agent exited")

// MaxLine bounds one protocol line (a 1000-message page or a 512 KB chunk,
// base64-encoded, with room to spare).
const MaxLine = 64 << 20

type request struct {
	ID        uint64 `json:"id"`
	Op        string `json:"op"`
	Seq       uint64 `json:"seq,omitempty"`
	Limit     uint32 `json:"limit,omitempty"`
	Proxy     string `json:"proxy,omitempty"`
	Passwd    string `json:"passwd,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
	Key       string `json:"key,omitempty"`
	Msg       string `json:"msg,omitempty"`
	Index     string `json:"index,omitempty"`
	FileID    string `json:"file_id,omitempty"`
}

type response struct {
	ID       uint64 `json:"id"`
	Data     []byte `json:"data,omitempty"`
	OutIndex string `json:"out_index,omitempty"`
	IsFinish bool   `json:"is_finish,omitempty"`
	Code     int    `json:"code,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Serve answers requests from r on w with sdk until r ends. It is the body
// of `wxarchive capture-agent`.
func Serve(ctx context.Context, sdk finance.SDK, r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	enc := json.NewEncoder(w)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("capture agent: bad request: %v", err)
		}
		resp := response{ID: req.ID}
		timeout := time.Duration(req.TimeoutMS) * time.Millisecond
		var err error
		switch req.Op {
		case "GetChatData":
			resp.Data, err = sdk.GetChatData(ctx, req.Seq, req.Limit, req.Proxy, req.Passwd, timeout)
		case "DecryptData":
			resp.Data, err = sdk.DecryptData(req.Key, req.Msg)
		case "GetMediaData":
			var ch finance.MediaChunk
			ch, err = sdk.GetMediaData(ctx, req.Index, req.FileID, req.Proxy, req.Passwd, timeout)
			resp.Data, resp.OutIndex, resp.IsFinish = ch.Data, ch.OutIndexBuf, ch.IsFinish
		default:
			err = fmt.Errorf("unknown op %q", req.Op)
		}
		var fe *finance.Error
		switch {
		case errors.As(err, &fe):
			resp.Code, resp.Error = fe.Code, fe.Message
		case err != nil:
			resp.Error = err.Error()
		}
		if err := enc.Encode(&resp); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Client is a finance.SDK served by an agent (a child process).
type Client struct {
	in    io.WriteCloser
	out   *bufio.Scanner
	kill  func()        // ends the agent
	done  chan struct{} // closed when the agent has ended
	state func() string // how it ended
	mu    sync.Mutex
	next  uint64
	dead  error
	// inproc: no process to wait for; Close ends it at once.
	inproc bool
}

// NewClient talks to an agent over the given pipes (an agent served
// in-process, or started by other means). Closing in ends it.
func NewClient(in io.WriteCloser, out io.Reader) *Client {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	done := make(chan struct{})
	var once sync.Once
	c := &Client{in: in, out: sc, done: done, state: func() string { return "closed" },
		kill: func() { in.Close(); once.Do(func() { close(done) }) }}
	c.inproc = true
	return c
}

var _ finance.SDK = (*Client)(nil)

// Start runs the agent command (e.g. wxarchive capture-agent …) and returns
// a client of it. Secrets go in env, never in arguments (which other users
// of the machine can read).
func Start(path string, args []string, env []string, stderr io.Writer) (*Client, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	tail := &lastLine{}
	if stderr == nil {
		stderr = io.Discard
	}
	cmd.Stderr = io.MultiWriter(stderr, tail)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start capture agent: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	c := &Client{in: in, out: sc, done: make(chan struct{}), kill: func() { cmd.Process.Kill() },
		state: func() string {
			st := "running"
			if cmd.ProcessState != nil {
				st = cmd.ProcessState.String()
			}
			if l := tail.String(); l != "" {
				st += ", last said: " + l
			}
			return st
		}}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// call sends one request and reads its response. Calls are serialized.
func (c *Client) call(req request) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead != nil {
		return response{}, c.dead
	}
	c.next++
	req.ID = c.next
	b, err := json.Marshal(&req)
	if err != nil {
		return response{}, err
	}
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return response{}, c.died(err)
	}
	if !c.out.Scan() {
		return response{}, c.died(c.out.Err())
	}
	var resp response
	if err := json.Unmarshal(c.out.Bytes(), &resp); err != nil || resp.ID != req.ID {
		return response{}, c.died(fmt.Errorf("bad response (id %d): %v", resp.ID, err))
	}
	if resp.Code != 0 {
		return resp, &finance.Error{Op: req.Op, Code: resp.Code, Message: resp.Error}
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("capture agent: %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}

// died marks the client dead: the agent process is gone or talking
// nonsense. The process is killed so it cannot linger.
func (c *Client) died(cause error) error {
	c.kill()
	<-c.done
	c.dead = fmt.Errorf("%w (%s): %v", ErrAgentDied, c.state(), cause)
	return c.dead
}

func ms(d time.Duration) int64 { return int64(d / time.Millisecond) }

// GetChatData implements finance.SDK.
func (c *Client) GetChatData(ctx context.Context, seq uint64, limit uint32, proxy, passwd string, timeout time.Duration) ([]byte, error) {
	resp, err := c.call(request{Op: "GetChatData", Seq: seq, Limit: limit, Proxy: proxy, Passwd: passwd, TimeoutMS: ms(timeout)})
	return resp.Data, err
}

// DecryptData implements finance.SDK.
func (c *Client) DecryptData(randomKey, encryptMsg string) ([]byte, error) {
	resp, err := c.call(request{Op: "DecryptData", Key: randomKey, Msg: encryptMsg})
	return resp.Data, err
}

// GetMediaData implements finance.SDK.
func (c *Client) GetMediaData(ctx context.Context, indexBuf, sdkFileID, proxy, passwd string, timeout time.Duration) (finance.MediaChunk, error) {
	resp, err := c.call(request{Op: "GetMediaData", Index: indexBuf, FileID: sdkFileID, Proxy: proxy, Passwd: passwd, TimeoutMS: ms(timeout)})
	return finance.MediaChunk{Data: resp.Data, OutIndexBuf: resp.OutIndex, IsFinish: resp.IsFinish}, err
}

// Close ends the agent: its input closes, it exits.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in.Close()
	if c.inproc {
		c.kill()
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.kill()
		<-c.done
	}
	if c.dead == nil {
		c.dead = ErrAgentDied
	}
	return nil
}

// lastLine keeps the last complete line written to it (an agent's last
// words on stderr explain why it died).
type lastLine struct {
	mu   sync.Mutex
	buf  []byte
	last string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.last = line
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 4096 {
		l.buf = l.buf[len(l.buf)-4096:]
	}
	if len(l.last) > 300 {
		l.last = l.last[:300]
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return strings.TrimSpace(string(l.buf))
	}
	return l.last
}

// Package proctest runs a server program for tests: started on a free
// 127.0.0.1 port with its log in a directory, polled until a readiness URL
// answers 200, stopped by SIGINT (SIGKILL after a grace period) and
// startable again with the same arguments. The program is killed when the
// test binary dies (parent-death signal). internal/vmtest and
// internal/promtest build on it.
package proctest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrNotReady is returned when the program does not become ready in time
// or exits before it does.
var ErrNotReady = errors.New("server not ready")

// Proc is one server program. Fill in the exported fields, then Run it.
type Proc struct {
	// Bin is the program; Args its arguments.
	Bin  string
	Args []string
	// Env is added to the environment the program inherits.
	Env []string
	// Dir is the working directory; the log (stdout and stderr) is appended
	// to Dir/<base name of Bin>.log.
	Dir string
	// ReadyURL answers 200 once the program serves.
	ReadyURL string
	// ReadyTimeout bounds the wait for ReadyURL (default 60s).
	ReadyTimeout time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// LogPath is the file the program's output is appended to.
func (p *Proc) LogPath() string { return filepath.Join(p.Dir, filepath.Base(p.Bin)+".log") }

// Log returns the program's output so far (the last 8 KiB).
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath())
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// Running reports whether the program runs.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Pid is the running program's process id (0 when it does not run).
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Run starts the program and waits until ReadyURL answers 200. Running a
// running program does nothing.
func (p *Proc) Run() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(p.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Dir = p.Dir
	if len(p.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Bin, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := p.waitReady(done); err != nil {
		p.haltLocked()
		return err
	}
	return nil
}

func (p *Proc) waitReady(done <-chan struct{}) error {
	timeout := p.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(p.ReadyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", p.ReadyURL, resp.StatusCode)
		}
		select {
		case <-done:
			return fmt.Errorf("%w: %s exited:\n%s", ErrNotReady, p.Bin, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s within %v: %v\n%s", ErrNotReady, p.Bin, timeout, err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Halt stops the program (SIGINT, SIGKILL after 20s) and waits for its
// exit. Halting a stopped program does nothing.
func (p *Proc) Halt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.haltLocked()
}

func (p *Proc) haltLocked() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Find returns the program named by the environment variable env when it
// is set, else name on PATH, else the first of the fallback paths that
// exists; "" when there is none.
func Find(env, name string, fallback ...string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallback {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

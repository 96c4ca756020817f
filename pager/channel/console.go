package channel

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// ConsoleOptions configure the console channel. The zero value writes to
// stdout under the name "console".
type ConsoleOptions struct {
	// Name is the channel name shown in each line and in metrics
	// (default "console"). Use e.g. "push" to dry-run another channel.
	Name string `yaml:"name"`
	// Writer receives the lines (default os.Stdout).
	Writer io.Writer `yaml:"-"`
}

// Console writes one human-readable line per page, e.g.
//
//	PAGE push → alice: [TRIGGER] LoginErrorSpike: error ratio 12% (critical) incident=inc-1 ack: https://…
type Console struct {
	name string
	mu   sync.Mutex
	w    io.Writer
}

// NewConsole returns a console channel.
func NewConsole(o ConsoleOptions) *Console {
	c := &Console{name: orDefault(o.Name, "console"), w: o.Writer}
	if c.w == nil {
		c.w = os.Stdout
	}
	return c
}

// Name implements Channel.
func (c *Console) Name() string { return c.name }

// Send implements Channel. Write errors are not retryable.
func (c *Console) Send(_ context.Context, m Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	var b strings.Builder
	b.WriteString("PAGE ")
	b.WriteString(c.name)
	b.WriteString(" → ")
	b.WriteString(orDefault(oneLine(m.Recipient.Name), orDefault(oneLine(m.Recipient.Address), "-")))
	fmt.Fprintf(&b, ": [%s] %s", eventTag(m.Event), oneLine(orDefault(m.headline(), "(untitled)")))
	if m.Severity != "" {
		fmt.Fprintf(&b, " (%s)", oneLine(m.Severity))
	}
	if m.IncidentID != "" {
		fmt.Fprintf(&b, " incident=%s", oneLine(m.IncidentID))
	}
	if m.AckURL != "" && m.Event == EventTrigger {
		fmt.Fprintf(&b, " ack: %s", oneLine(m.AckURL))
	}
	b.WriteByte('\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return false, fmt.Errorf("console write: %w", err)
	}
	return false, nil
}

package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// SMTPConfig configures email delivery.
type SMTPConfig struct {
	Address  string       `json:"address"` // host:port, usually :587
	From     string       `json:"from"`
	To       []string     `json:"to"`
	Username string       `json:"username,omitempty"`
	Password store.Secret `json:"password,omitempty"`
	// StartTLS: "required" (default: refuse to send if the server does not
	// offer STARTTLS), "opportunistic", or "none" (only for a local relay).
	StartTLS string `json:"starttls,omitempty"`
}

// SMTP sends a plain-text email per alert.
type SMTP struct {
	cfg  SMTPConfig
	from *mail.Address
	to   []*mail.Address
	opts Options
}

// NewSMTP validates c.
func NewSMTP(c SMTPConfig, opts Options) (*SMTP, error) {
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil || host == "" {
		return nil, fmt.Errorf("smtp: address %q: want host:port", c.Address)
	}
	switch c.StartTLS {
	case "":
		c.StartTLS = "required"
	case "required", "opportunistic", "none":
	default:
		return nil, fmt.Errorf("smtp: starttls %q: want required, opportunistic or none", c.StartTLS)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q: %w", c.From, err)
	}
	if len(c.To) == 0 {
		return nil, errors.New("smtp: no recipients")
	}
	s := &SMTP{cfg: c, from: from, opts: opts}
	for _, t := range c.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("smtp: to %q: %w", t, err)
		}
		s.to = append(s.to, a)
	}
	if c.Username != "" && c.StartTLS == "none" {
		return nil, errors.New("smtp: refusing to send a password without STARTTLS")
	}
	return s, nil
}

// Kind implements Sender.
func (s *SMTP) Kind() string { return store.TargetSMTP }

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, a Alert) error {
	host, _, _ := net.SplitHostPort(s.cfg.Address)
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.cfg.Address, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("smtp %s: %w", s.cfg.Address, err)
	}
	defer func() { _ = c.Close() }()
	helo := s.opts.Hostname
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return s.classify(err)
	}
	if s.cfg.StartTLS != "none" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			if s.opts.TLS != nil {
				cfg = s.opts.TLS.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
			if err := c.StartTLS(cfg); err != nil {
				return &PermanentError{Err: fmt.Errorf("smtp %s: starttls: %w", s.cfg.Address, err)}
			}
		} else if s.cfg.StartTLS == "required" {
			return &PermanentError{Err: fmt.Errorf("smtp %s: server does not offer STARTTLS (set starttls to \"opportunistic\" to allow plaintext)", s.cfg.Address)}
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return &PermanentError{Err: fmt.Errorf("smtp %s: server does not offer AUTH", s.cfg.Address)}
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password.Reveal(), host)); err != nil {
			return s.classify(fmt.Errorf("auth: %w", err))
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return s.classify(err)
	}
	for _, t := range s.to {
		if err := c.Rcpt(t.Address); err != nil {
			return s.classify(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return s.classify(err)
	}
	if _, err := w.Write(s.Message(a)); err != nil {
		return s.classify(err)
	}
	if err := w.Close(); err != nil {
		return s.classify(err)
	}
	return s.classify(c.Quit())
}

// classify marks 5xx SMTP replies permanent.
func (s *SMTP) classify(err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("smtp %s: %w", s.cfg.Address, err)
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return &PermanentError{Err: err}
	}
	return err
}

// Message is the RFC 5322 message for a (CRLF line ends; header values
// stripped of line breaks and Q-encoded when not ASCII).
func (s *SMTP) Message(a Alert) []byte {
	var b bytes.Buffer
	now := a.At
	if now.IsZero() {
		now = s.opts.now()
	}
	domain := s.opts.Hostname
	if domain == "" {
		domain = "firebreak.invalid"
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	var to []string
	for _, t := range s.to {
		to = append(to, t.String())
	}
	subject := fmt.Sprintf("[firebreak] [%s] %s", strings.ToUpper(a.Severity), a.Title)
	if a.Tenant != "" {
		subject += " (" + a.Tenant + ")"
	}
	hdr := func(k, v string) {
		b.WriteString(k + ": " + v + "\r\n")
	}
	hdr("From", s.from.String())
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(rnd[:])+"@"+oneLine(domain)+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("Auto-Submitted", "auto-generated")
	hdr("X-Firebreak-Alert", oneLine(a.ID))
	b.WriteString("\r\n")
	line := func(s string) {
		for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			b.WriteString(strings.TrimSuffix(l, "\r") + "\r\n") // net/smtp dot-stuffs

		}
	}
	line(a.Title)
	line("")
	if a.Summary != "" {
		line(a.Summary)
		line("")
	}
	for _, f := range facts(a) {
		line(f[0] + ": " + f[1])
	}
	if a.URL != "" {
		line("")
		line(a.URL)
	}
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

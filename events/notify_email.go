package events

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"text/template"
	"time"
)

// emailTimeout bounds one SMTP conversation.
const emailTimeout = 30 * time.Second

type emailDest struct {
	cfg           EmailConfig
	subject, body *template.Template
	dialer        *net.Dialer
	now           func() time.Time
}

func newEmail(n *Notifier, now func() time.Time, dial func(*net.Dialer) *net.Dialer) (*emailDest, error) {
	if err := n.Email.validate(n.AllowPrivate); err != nil {
		return nil, err
	}
	d := &emailDest{cfg: *n.Email, now: now, dialer: safeDialer(n.AllowPrivate, 15*time.Second)}
	if dial != nil {
		d.dialer = dial(d.dialer)
	}
	subj, body := d.cfg.Subject, d.cfg.Body
	if subj == "" {
		subj = defaultSubject
	}
	if body == "" {
		body = defaultBody
	}
	var err error
	if d.subject, err = parseTemplate("email.subject", subj); err != nil {
		return nil, err
	}
	if d.body, err = parseTemplate("email.body", body); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *emailDest) send(ctx context.Context, e *Event, _ []byte) error {
	var subj, body bytes.Buffer
	if err := d.subject.Execute(&subj, e); err != nil {
		return &deliveryError{Err: fmt.Errorf("email.subject: %w", err)}
	}
	if err := d.body.Execute(&body, e); err != nil {
		return &deliveryError{Err: fmt.Errorf("email.body: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, emailTimeout)
	defer cancel()
	conn, err := d.dialer.DialContext(ctx, "tcp", d.cfg.SMTP)
	if err != nil {
		return &deliveryError{Err: fmt.Errorf("smtp: %w", err)}
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := d.converse(conn, e, strings.ReplaceAll(subj.String(), "\n", " "), body.String()); err != nil {
		return &deliveryError{Err: fmt.Errorf("smtp: %w", err)}
	}
	return nil
}

func (d *emailDest) converse(conn net.Conn, e *Event, subject, body string) error {
	host, _, _ := net.SplitHostPort(d.cfg.SMTP)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("vigil"); err != nil {
		return err
	}
	mode := d.cfg.StartTLS
	if ok, _ := c.Extension("STARTTLS"); ok && mode != "never" {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	} else if mode == "always" {
		return fmt.Errorf("server does not offer STARTTLS")
	}
	if d.cfg.Username != "" {
		// PlainAuth refuses to send the password over an unencrypted
		// connection except to localhost.
		if err := c.Auth(smtp.PlainAuth("", d.cfg.Username, d.cfg.Password, host)); err != nil {
			return err
		}
	}
	from, _ := parseAddr(d.cfg.From)
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, to := range d.cfg.To {
		a, _ := parseAddr(to)
		if err := c.Rcpt(a); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@vigil>\r\n",
		d.cfg.From, strings.Join(d.cfg.To, ", "), mime.QEncoding.Encode("utf-8", subject),
		d.now().Format(time.RFC1123Z), e.ID)
	msg.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	msg.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	if _, err := w.Write(msg.Bytes()); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func parseAddr(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

package events

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"vigil/internal/testkit"
)

// smtpSink is aiosmtpd writing every message it receives to a file.
const smtpSink = `
import sys, signal
from aiosmtpd.controller import Controller
class H:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[2], 'ab') as f:
            f.write(envelope.content + b'\n--END--\n')
        return '250 OK'
c = Controller(H(), hostname='127.0.0.1', port=int(sys.argv[1]))
c.start()
print('ready', flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
c.stop()
`

// startSMTP runs aiosmtpd (Debian's python3-aiosmtpd) on 127.0.0.1 and
// returns its address and the file it writes messages to.
func startSMTP(t *testing.T) (string, string) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		t.Fatal("python3-aiosmtpd is not installed: run scripts/deps.sh test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	out := filepath.Join(t.TempDir(), "mail.txt")
	cmd := exec.Command(py, "-c", smtpSink, strconv.Itoa(port), out)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() { ready <- bufio.NewScanner(stdout).Scan() }()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("aiosmtpd did not start")
	}
	return "127.0.0.1:" + strconv.Itoa(port), out
}

// An event reaches a real SMTP server with the rendered subject.
func TestNotifyEmail(t *testing.T) {
	addr, out := startSMTP(t)
	b := startBus(t, Config{})
	ns := openNotifiersT(t, b, "")
	putT(t, ns, Notifier{Name: "mail", Type: NotifyEmail, Email: &EmailConfig{SMTP: addr, From: "vigil@example.com",
		To: []string{"ops@example.com"}, Subject: "{{person .}} seen on {{.Stream}}", Body: "event {{.ID}}\n"}})
	e := personEvent("door", "alice", time.Now().UTC())
	publishT(t, b, e)
	var msg string
	testkit.WaitFor(t, 5*time.Second, "mail", func() bool {
		b, _ := os.ReadFile(out)
		msg = string(b)
		return strings.Contains(msg, "--END--")
	})
	for _, want := range []string{"Subject: alice seen on door", "event " + e.ID, "Message-ID: <" + e.ID + "@vigil>", "To: ops@example.com"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message lacks %q:\n%s", want, msg)
		}
	}
	if err := ns.Test(t.Context(), "mail"); err != nil {
		t.Fatal(err)
	}
	// The password is write-only.
	putT(t, ns, Notifier{Name: "mail2", Type: NotifyEmail, Disabled: true, Email: &EmailConfig{SMTP: addr, From: "v@example.com",
		To: []string{"o@example.com"}, Username: "u", Password: "hunter2"}})
	for _, v := range ns.List() {
		if v.Email.Password == "hunter2" {
			t.Fatal("password in List")
		}
	}
}

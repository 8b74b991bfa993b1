package clamavtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// errBind means clamd could not bind its TCP port. clamd then keeps running
// on the unix socket alone, so the start must be retried on another port.
var errBind = errors.New("clamd could not bind its TCP port")

const pollInterval = 25 * time.Millisecond

// startOnce writes the configuration for the next port, starts clamd and
// waits until it responds to PING on both sockets.
func (d *Daemon) startOnce(clamd string, opts Options, nextPort func() (int, error)) error {
	port, err := nextPort()
	if err != nil {
		return err
	}
	d.TCPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	if err := d.writeConfig(port, opts); err != nil {
		return err
	}
	if err := d.spawn(clamd); err != nil {
		return err
	}

	if err := d.waitReady(); err != nil {
		d.terminate()
		return fmt.Errorf("%w\nclamd log:\n%s", err, d.logTail())
	}

	return nil
}

// freePort gets an unused port on 127.0.0.1 from the kernel. Another
// process may take it before clamd binds it, which startOnce detects.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()

	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes clamd.conf. It sets no User option, so clamd runs as
// the user running the tests, and SelfCheck 0 keeps it from reloading the
// database during a test.
func (d *Daemon) writeConfig(port int, opts Options) error {
	var b strings.Builder
	line := func(key string, value any) {
		fmt.Fprintf(&b, "%s %v\n", key, value)
	}

	line("Foreground", "yes")
	line("LocalSocket", d.SocketPath)
	line("FixStaleSocket", "yes")
	line("TCPSocket", port)
	line("TCPAddr", "127.0.0.1")
	line("DatabaseDirectory", d.DatabaseDir)
	line("TemporaryDirectory", d.dir+"/tmp")
	line("LogFile", d.LogPath)
	line("LogTime", "yes")
	line("SelfCheck", 0)
	line("StreamMaxLength", d.StreamMaxLength)
	line("MaxFileSize", d.MaxFileSize)
	if opts.MaxScanSize > 0 {
		line("MaxScanSize", opts.MaxScanSize)
	}
	line("AlertExceedsMax", yesNo(!opts.QuietExceedsMax))
	line("AlertEncrypted", yesNo(opts.AlertEncrypted))
	if opts.ReadTimeout > 0 {
		line("ReadTimeout", int(opts.ReadTimeout.Seconds()))
	}

	if err := os.WriteFile(d.ConfigPath, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write clamd config %s: %w", d.ConfigPath, err)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// spawn starts clamd in the foreground as a child, with its output in
// clamd.out, and reaps it in the background.
func (d *Daemon) spawn(clamd string) error {
	os.Remove(d.LogPath)
	os.Remove(d.SocketPath)

	out, err := os.OpenFile(d.dir+"/clamd.out", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open clamd output file: %w", err)
	}
	defer out.Close()

	cmd := exec.Command(clamd, "-c", d.ConfigPath)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", clamd, err)
	}

	d.cmd = cmd
	d.PID = cmd.Process.Pid
	d.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(d.exited)
	}()

	return nil
}

// waitReady polls until clamd responds to PING on the unix socket and on
// TCP.
func (d *Daemon) waitReady() error {
	deadline := time.Now().Add(startTimeout)

	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("clamd exited during start: %s", d.cmd.ProcessState)
		default:
		}

		logData, _ := os.ReadFile(d.LogPath)
		if bytes.Contains(logData, []byte("Cannot bind")) {
			return fmt.Errorf("%w %s", errBind, d.TCPAddr)
		}
		if ping("unix", d.SocketPath) == nil && ping("tcp", d.TCPAddr) == nil {
			return nil
		}

		time.Sleep(pollInterval)
	}

	return fmt.Errorf("clamd did not respond to PING on %s and %s within %s", d.SocketPath, d.TCPAddr, startTimeout)
}

// ping sends zPING and expects PONG.
func ping(network, address string) error {
	conn, err := net.DialTimeout(network, address, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()

	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}

	reply := make([]byte, 16)
	n, err := conn.Read(reply)
	if err != nil {
		return err
	}
	if got := string(bytes.TrimRight(reply[:n], "\x00")); got != "PONG" {
		return fmt.Errorf("PING reply %q, want PONG", got)
	}

	return nil
}

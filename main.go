// Command vaultdrop is a self-hosted file drop that takes in untrusted files
// safely: it validates, scans and stores uploads, and serves them only to
// their owners and through share links.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set at release builds with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// env is the outside world a command sees, so tests can run commands
// in-process with their own input, output and environment.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	e := env{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := run(ctx, os.Args[1:], e); err != nil {
		if errors.Is(err, errHelpShown) {
			return
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		if ownsConsoleWindow(currentLaunch(os.Args[1:], e)) {
			waitForEnter(os.Stderr, os.Stdin)
		}
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var (
	// errUsage means the command line was wrong and help was already printed.
	errUsage = errors.New("usage error")
	// errHelpShown means --help printed the help; the program exits with 0.
	errHelpShown = errors.New("help shown")
)

const usageText = `vaultdrop: a self-hosted file drop that takes in untrusted files safely.

Usage:
  vaultdrop [serve] [flags]                    start the server (the default)
  vaultdrop user add NAME [--admin] --password-stdin
                                               create a user; the password is one line on standard input
  vaultdrop token create --user NAME [--name LABEL]
                                               create an API token and print it once
  vaultdrop rescan [--all]                     scan stored files again with the current signatures
  vaultdrop doctor [flags]                     check the data directory, database, scanner, TLS and clock
  vaultdrop user quota NAME SIZE|unlimited|default
                                               set a user's storage quota
  vaultdrop verify                             hash every stored file again and check the database
  vaultdrop backup DEST                        copy the database and the vault to DEST while the server runs
  vaultdrop restore SRC [--force]              put a backup back into a stopped server's data directory
  vaultdrop version                            print the version and commit

Run "vaultdrop COMMAND --help" for a command's flags.
`

// run dispatches to a command.
func run(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(e.stdout, usageText)
			return nil
		}
		return runServe(ctx, desktopArgs(args, e), e)
	}

	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, e)
	case "user":
		return runUser(ctx, rest, e)
	case "token":
		return runToken(ctx, rest, e)
	case "rescan":
		return runRescan(ctx, rest, e)
	case "doctor":
		return runDoctor(ctx, rest, e)
	case "verify":
		return runVerify(ctx, rest, e)
	case "backup":
		return runBackup(ctx, rest, e)
	case "restore":
		return runRestore(ctx, rest, e)
	case "version":
		fmt.Fprintf(e.stdout, "vaultdrop %s (commit %s)\n", version, commit)
		return nil
	case "help":
		fmt.Fprint(e.stdout, usageText)
		return nil
	default:
		fmt.Fprintf(e.stderr, "unknown command %q\n\n%s", cmd, usageText)
		return errUsage
	}
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/cli/browser"
	"golang.org/x/term"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// launchFacts describe how this process was started, as the operating
// system reports it.
type launchFacts struct {
	args          []string // command-line arguments after the program name
	goos          string
	stdinTerminal bool // standard input is a terminal
	// consoleProcesses counts the processes attached to this process's
	// console on Windows; 0 elsewhere or without a console.
	consoleProcesses int
	// graphicalSession is set when DISPLAY or WAYLAND_DISPLAY is, on Unix
	// systems other than macOS.
	graphicalSession bool
}

// doubleClicked reports whether a person started vaultdrop from a file
// manager rather than from a shell, a service manager or a script.
//
// On Windows, Explorer gives a double-clicked console program a console of
// its own, so this process is the only one attached to it. A program
// started from cmd.exe or PowerShell shares the shell's console. Elsewhere
// a double-click passes no arguments and no terminal on standard input. On
// Linux and the BSDs a graphical session is required as well, so a
// container or a service started without arguments is not taken for one.
//
// NOTE: Finder on macOS runs a double-clicked Unix program inside
// Terminal, whose standard input is a terminal, so there it is not
// detected; the docs say to start it with --desktop.
func doubleClicked(f launchFacts) bool {
	switch f.goos {
	case "windows":
		return f.consoleProcesses == 1
	case "darwin":
		return len(f.args) == 0 && !f.stdinTerminal
	default:
		return len(f.args) == 0 && !f.stdinTerminal && f.graphicalSession
	}
}

// ownsConsoleWindow reports whether this process is alone in a console
// window that Windows opened for it and closes the moment it exits, as for
// a double-click in Explorer. An error printed there would vanish before
// anyone could read it.
func ownsConsoleWindow(f launchFacts) bool {
	return f.goos == "windows" && f.consoleProcesses == 1
}

// waitForEnter prompts the person at the console to press Enter and waits
// until they do or standard input ends.
func waitForEnter(w io.Writer, r io.Reader) {
	fmt.Fprint(w, "\nPress Enter to close this window.")
	bufio.NewReader(r).ReadString('\n')
}

// currentLaunch collects the launch facts of this process. Standard input
// that is not a file, as in tests that call run directly, counts as a
// terminal, so such a run is never taken for a double-click.
func currentLaunch(args []string, e env) launchFacts {
	f := launchFacts{
		args:             args,
		goos:             runtime.GOOS,
		stdinTerminal:    true,
		consoleProcesses: consoleProcessCount(),
		graphicalSession: e.getenv("DISPLAY") != "" || e.getenv("WAYLAND_DISPLAY") != "",
	}
	if file, ok := e.stdin.(*os.File); ok {
		f.stdinTerminal = term.IsTerminal(int(file.Fd()))
	}
	return f
}

// desktopArgs returns the arguments to run with: --desktop for a
// double-click, so it behaves exactly like "vaultdrop --desktop", and args
// unchanged otherwise.
func desktopArgs(args []string, e env) []string {
	if doubleClicked(currentLaunch(args, e)) {
		return append([]string{"--desktop"}, args...)
	}
	return args
}

// openDesktop prints for the person at the console where vaultdrop runs, where
// it keeps its data and how to stop it, and opens the browser at the setup
// page on first run or at the sign-in page later. setupURL carries the
// one-time setup token, so the owner lands straight on the form that
// creates the administrator.
func openDesktop(w io.Writer, base, setupURL, dataDir string, openBrowser func(string) error, log *slog.Logger) {
	target := setupURL
	if target == "" {
		target = base + "/login"
	}

	fmt.Fprintf(w, "\nvaultdrop is running. Open it at:\n  %s\n", target)
	fmt.Fprintf(w, "Your files and settings are kept in:\n  %s\n", dataDir)
	fmt.Fprintln(w, "To stop vaultdrop, press Ctrl+C or close this window.")

	if openBrowser == nil {
		return
	}
	if err := openBrowser(target); err != nil {
		log.Warn("open the browser; open the address above by hand", "err", err)
	}
}

// desktopBrowser returns the function that opens the default browser, or
// nil with --no-browser.
func desktopBrowser(cfg config.Config) func(string) error {
	if cfg.NoBrowser {
		return nil
	}
	return browser.OpenURL
}

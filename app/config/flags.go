package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// EnvPrefix starts the environment variable of every flag: --max-file-size
// is also VAULTDROP_MAX_FILE_SIZE.
const EnvPrefix = "VAULTDROP_"

// EnvName returns the environment variable that sets flag name.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// FlagSet is a flag.FlagSet whose flags also read VAULTDROP_* environment
// variables. A flag on the command line beats its environment variable.
type FlagSet struct {
	*flag.FlagSet
	explicit map[string]bool
	synopsis string
}

// NewFlagSet returns a FlagSet for the command named name. synopsis is the
// first line of its help, such as "vaultdrop serve [flags]".
func NewFlagSet(name, synopsis string, output io.Writer) *FlagSet {
	fs := &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), explicit: map[string]bool{}, synopsis: synopsis}
	fs.SetOutput(output)
	fs.Usage = fs.printUsage
	return fs
}

// Parse parses args, then fills every flag not given on the command line
// from its environment variable. Like flag.FlagSet.Parse, it prints what
// was wrong to the flag set's output.
func (fs *FlagSet) Parse(args []string, getenv func(string) string) error {
	if err := fs.FlagSet.Parse(args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { fs.explicit[f.Name] = true })

	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || fs.explicit[f.Name] {
			return
		}
		value := getenv(EnvName(f.Name))
		if value == "" {
			return
		}
		if setErr := fs.Set(f.Name, value); setErr != nil {
			err = fmt.Errorf("invalid %s=%q: %w", EnvName(f.Name), value, setErr)
			fmt.Fprintln(fs.Output(), err)
			return
		}
		fs.explicit[f.Name] = true
	})
	return err
}

// Given reports whether the flag was set on the command line or through its
// environment variable.
func (fs *FlagSet) Given(name string) bool {
	return fs.explicit[name]
}

func (fs *FlagSet) printUsage() {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s\n\nFlags (each can also be set by the environment variable shown):\n", fs.synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0 bytes" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "\n      env %s\n", EnvName(f.Name))
	})
}

// BindDataDir registers --data-dir, which every command takes.
func BindDataDir(fs *FlagSet, dir *string, defaultDir string) {
	fs.StringVar(dir, "data-dir", defaultDir, "`folder` for the database and the vault; created with mode 0700")
}

// BindServe registers the flags of the serve command.
func (c *Config) BindServe(fs *FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "`host:port` to listen on; without this flag a taken port moves the server to the next free one")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public `URL` used in absolute links, such as https://files.example.com; default: derived from the request")
	fs.DurationVar(&c.SessionLifetime, "session-lifetime", c.SessionLifetime, "how long a sign-in lasts, as a Go `duration` such as 12h")

	fs.Var(&c.MaxFileSize, "max-file-size", "largest accepted file, a `size` in bytes or with a unit such as 500MB or 2GiB")
	fs.Var(&c.MaxRequestSize, "max-request-size", "largest accepted request body, `size` with a unit; default: max file size plus 1 MiB")
	fs.Var(&c.MinFreeSpace, "min-free-space", "free `size` to keep on the data directory's disk; uploads that would go below it are refused")
	fs.Var((*listValue)(&c.Allow), "allow", "comma-separated `extensions` to add to the allowlist, each optionally ext:content/type")
	fs.Var((*listValue)(&c.Deny), "deny", "comma-separated `extensions` to remove from the allowlist")

	c.BindScanner(fs)
	fs.DurationVar(&c.ScanWait, "scan-wait", c.ScanWait, "how long an upload request waits for its verdict before answering 202 pending, as a Go `duration`")

	c.bindLimits(fs)
	c.Resumable.bind(fs)
	c.bindDeployment(fs)

	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log `format`: text or json")
}

// BindScanner registers the flags that choose and tune the virus scanner,
// shared by serve and rescan.
func (c *Config) BindScanner(fs *FlagSet) {
	fs.StringVar(&c.Scanner, "scanner", c.Scanner, "virus `scanner`: auto, clamd, clamscan or off (off stores files unscanned)")
	fs.StringVar(&c.ClamdAddress, "clamd-address", c.ClamdAddress, "clamd `address`: a unix socket path or host:port")
	fs.StringVar(&c.ClamscanPath, "clamscan-path", c.ClamscanPath, "`path` of the clamscan program")
	fs.DurationVar(&c.ScanTimeout, "scan-timeout", c.ScanTimeout, "longest one scan may take, as a Go `duration`")
}

// listValue is a comma-separated list flag; repeating the flag appends.
type listValue []string

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listValue) Set(text string) error {
	for _, item := range strings.Split(text, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

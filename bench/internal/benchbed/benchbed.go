// Package benchbed runs one benchmark run on a fresh test bed and removes
// the bed whatever happens: on error, on Ctrl-C (Bed.CloseOnSignal), and
// after keeping the files asked for; Start is every program's first step.
package benchbed

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wyvern-sdn/wyvern/internal/testbed"
)

// Run makes a bed named name and calls fn with it, then removes the bed.
// On error it prints the tails of the daemons' logs. When keep is not
// empty, the bed's files matching patterns (globs relative to the bed's
// directory, e.g. "*/wyvern-*.log") are first copied there (see Keep).
func Run(name, keep string, patterns []string, log *slog.Logger, fn func(*testbed.Bed) error) (err error) {
	bed, err := testbed.New(testbed.Options{Name: name, Log: log})
	if err != nil {
		return err
	}
	stop := bed.CloseOnSignal()
	defer func() {
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, bed.LogTails(25))
		}
		if keep != "" {
			if kerr := Keep(bed.Dir, keep, patterns...); kerr != nil {
				fmt.Fprintf(os.Stderr, "%s: keeping files: %v\n", name, kerr)
			}
		}
		if cerr := bed.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(bed)
}

// Keep copies the files of bedDir matching patterns into dst: a file of a
// node's directory as <node>-<name>, one of the bed's own directory as
// <name>.
func Keep(bedDir, dst string, patterns ...string) error {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(bedDir, p))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		name := filepath.Base(f)
		if dir := filepath.Dir(f); dir != filepath.Clean(bedDir) {
			name = filepath.Base(dir) + "-" + name
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Start is what every bench program does before its bed: it sweeps the
// beds a killed run left behind (reporting, not failing, on an error) and
// returns the program's logger, at info level when verbose, else warnings
// only.
func Start(verbose bool) *slog.Logger {
	if _, err := testbed.Sweep(nil); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

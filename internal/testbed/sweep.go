package testbed

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

var bedPrefixRE = regexp.MustCompile(`^(` + PrefixBase + `[0-9a-f]{4})(-|$)`)

// Sweep removes what beds of killed earlier runs left behind: for every
// prefix ("wyv" + 4 hex digits) seen in `ip netns list` or os.TempDir()
// whose owning process is gone, it kills the processes the bed recorded
// (agents in the root namespace included) and everything still running in
// its namespaces, deletes the namespaces and the directory. Beds whose
// owner still runs are left alone, so concurrent test runs are safe. It
// returns the prefixes it removed.
func Sweep(log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	const timeout = 30 * time.Second
	netns := map[string][]string{}
	out, err := runCmd(timeout, nil, "ip", "netns", "list")
	if err != nil {
		return nil, fmt.Errorf("testbed: sweep: %w", err)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if m := bedPrefixRE.FindStringSubmatch(f[0]); m != nil {
			netns[m[1]] = append(netns[m[1]], f[0])
		}
	}
	prefixes := map[string]bool{}
	for p := range netns {
		prefixes[p] = true
	}
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		if m := bedPrefixRE.FindStringSubmatch(e.Name()); m != nil && e.IsDir() && m[0] == e.Name() {
			prefixes[e.Name()] = true
		}
	}
	var removed []string
	var errs []error
	for _, p := range sortedKeys(prefixes) {
		dir := filepath.Join(os.TempDir(), p)
		if !stale(dir) {
			continue
		}
		log.Info("sweeping stale test bed", "bed", p, "netns", netns[p])
		var perr []error
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proc") {
				return nil
			}
			pid, start, err := readPIDFile(path)
			if err == nil {
				if err := killPID(pid, start, syscall.SIGKILL, 5*time.Second); err != nil {
					perr = append(perr, err)
				}
			}
			return nil
		})
		// Namespaces of VMs and hosts first, chassis, the underlay last.
		nss := netns[p]
		sort.Slice(nss, func(i, j int) bool { return nsOrder(nss[i]) < nsOrder(nss[j]) })
		for _, ns := range nss {
			if err := killNetnsPIDs(ns, timeout); err != nil {
				perr = append(perr, err)
			}
			if err := deleteNetns(ns, timeout); err != nil {
				perr = append(perr, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			perr = append(perr, err)
		}
		if len(perr) > 0 {
			errs = append(errs, fmt.Errorf("testbed: sweep %s: %w", p, errors.Join(perr...)))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// stale reports whether the bed in dir has lost its owner. A directory
// younger than a minute without an owner record is a bed being made.
func stale(dir string) bool {
	pid, start, err := readPIDFile(filepath.Join(dir, "owner"))
	if err == nil {
		return !sameProcess(pid, start)
	}
	if st, err := os.Stat(dir); err == nil && time.Since(st.ModTime()) < time.Minute {
		return false
	}
	return true
}

func nsOrder(ns string) int {
	switch {
	case strings.Contains(ns, "-v-"), strings.Contains(ns, "-h-"):
		return 0
	case strings.Contains(ns, "-c-"):
		return 1
	}
	return 2
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

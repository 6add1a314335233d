package main

import (
	"bufio"
	"os"
	"strings"
	"time"
)

// logLine is one agent log line of interest (log/slog text format).
type logLine struct {
	Time time.Time
	Msg  string
	// Took is the line's took= value (the reconciler's Diff + bundle
	// time), zero when absent.
	Took time.Duration
	// Flows is the line's flows= value (full installs), -1 when absent.
	Flows int
	// Add is the line's add= value (updates).
	Add int
}

// readAgentLog parses the lines of an agent log from byte offset on
// (a restarted agent appends to the same file), keeping the messages
// named in msgs.
func readAgentLog(path string, offset int64, msgs ...string) ([]logLine, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, offset, err
	}
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	pos := offset
	for sc.Scan() {
		line := sc.Text()
		pos += int64(len(line)) + 1
		msg := field(line, "msg")
		keep := false
		for _, m := range msgs {
			if msg == m {
				keep = true
			}
		}
		if !keep {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, field(line, "time"))
		if err != nil {
			continue
		}
		l := logLine{Time: t, Msg: msg, Flows: -1}
		if d, err := time.ParseDuration(field(line, "took")); err == nil {
			l.Took = d
		}
		if n, ok := atoi(field(line, "flows")); ok {
			l.Flows = n
		}
		l.Add, _ = atoi(field(line, "add"))
		out = append(out, l)
	}
	return out, pos, sc.Err()
}

// field returns the value of key=value in a slog text line (quoted values
// unquoted), "" when absent.
func field(line, key string) string {
	i := 0
	for {
		j := strings.Index(line[i:], key+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || line[j-1] == ' ' {
			v := line[j+len(key)+1:]
			if strings.HasPrefix(v, `"`) {
				if k := strings.Index(v[1:], `"`); k >= 0 {
					return v[1 : k+1]
				}
				return v[1:]
			}
			if k := strings.IndexByte(v, ' '); k >= 0 {
				return v[:k]
			}
			return v
		}
		i = j + 1
	}
}

func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// firstAfter returns the first line at or after t (to the log's
// millisecond) for which ok holds, if any.
func firstAfter(lines []logLine, t time.Time, ok func(logLine) bool) (logLine, bool) {
	for _, l := range lines {
		if !l.Time.Before(t.Truncate(time.Millisecond)) && ok(l) {
			return l, true
		}
	}
	return logLine{}, false
}

// lastBefore returns the last line at or before t, if any.
func lastBefore(lines []logLine, t time.Time) (logLine, bool) {
	var out logLine
	ok := false
	for _, l := range lines {
		if l.Time.After(t) {
			break
		}
		out, ok = l, true
	}
	return out, ok
}

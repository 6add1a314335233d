package benchbed

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseProbe reads what a probe run inside a VM printed: one word a
// request, its latency in microseconds, or failed for one that got no
// answer. It returns the latencies and the count of failed requests.
func ParseProbe(out []byte, failed string) ([]time.Duration, int, error) {
	var got []time.Duration
	n := 0
	for _, w := range strings.Fields(string(out)) {
		if w == failed {
			n++
			continue
		}
		us, err := strconv.Atoi(w)
		if err != nil {
			return nil, 0, fmt.Errorf("probe output %q", w)
		}
		got = append(got, time.Duration(us)*time.Microsecond)
	}
	return got, n, nil
}

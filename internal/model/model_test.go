package model

import (
	"testing"
	"time"
)

func TestTimestamp(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 45, 47, 999_000_000, time.FixedZone("CET", 3600))
	if got, want := Timestamp(at), "2026-11-21T11:45:47Z"; got != want {
		t.Errorf("Timestamp: %q, want %q", got, want)
	}
	if back, err := time.Parse(TimeFormat, Timestamp(at)); err != nil || !back.Equal(at.Truncate(time.Second)) {
		t.Errorf("parse back: %v %v", back, err)
	}
}

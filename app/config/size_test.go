package config

import "testing"

func TestFormatBytesApart(t *testing.T) {
	tests := []struct {
		name         string
		a, b         int64
		wantA, wantB string
	}{
		{"distinct when rounded", 2 << 20, 1 << 20, "2 MiB", "1 MiB"},
		{"one byte over 2 GiB", 2<<30 + 1, 2 << 30, "2,147,483,649 bytes", "2,147,483,648 bytes"},
		{"one byte over the space left", 400_001, 400_000, "400,001 bytes", "400,000 bytes"},
		{"equal sizes", 1 << 20, 1 << 20, "1 MiB", "1 MiB"},
		{"under a thousand", 999, 998, "999 bytes", "998 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotA, gotB := FormatBytesApart(tt.a, tt.b)
			if gotA != tt.wantA || gotB != tt.wantB {
				t.Errorf("FormatBytesApart(%d, %d) = %q, %q; want %q, %q", tt.a, tt.b, gotA, gotB, tt.wantA, tt.wantB)
			}
		})
	}
}

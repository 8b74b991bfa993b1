package app

import (
	"net/http"
	"testing"
)

func TestDownloadDetail(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ranges string
		want   string
	}{
		{"whole file", http.StatusOK, "", `sent "report.pdf"`},
		{"range ignored, whole file sent", http.StatusOK, "bytes=0-", `sent "report.pdf"`},
		{"partial content", http.StatusPartialContent, "bytes=0-99", `sent bytes=0-99 of "report.pdf"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := downloadDetail("report.pdf", tt.status, tt.ranges); got != tt.want {
				t.Errorf("downloadDetail = %q, want %q", got, tt.want)
			}
		})
	}
}

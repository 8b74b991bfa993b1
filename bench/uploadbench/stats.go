package main

import (
	"math"
	"slices"
	"time"
)

// summary is the median and the range of one figure over the rounds.
type summary struct {
	median, min, max float64
	n                int
}

func summarize(values []float64) summary {
	if len(values) == 0 {
		return summary{median: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	sorted := slices.Sorted(slices.Values(values))
	mid := len(sorted) / 2
	median := sorted[mid]
	if len(sorted)%2 == 0 {
		median = (sorted[mid-1] + sorted[mid]) / 2
	}
	return summary{median: median, min: sorted[0], max: sorted[len(sorted)-1], n: len(sorted)}
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of values,
// or 0 when there are none.
func percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(values))
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(rank, 0)]
}

// each applies f to every element of list.
func each[T any](list []T, f func(T) float64) []float64 {
	out := make([]float64, len(list))
	for i, v := range list {
		out[i] = f(v)
	}
	return out
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

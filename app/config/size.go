package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a byte count written with an optional unit: 500MB, 2GiB, 1048576.
// Decimal units (kB, MB, GB, TB) are powers of 1000 and binary units (KiB,
// MiB, GiB, TiB) powers of 1024, as in IEC 80000-13.
type Size int64

var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"k":   1 << 10,
	"m":   1 << 20,
	"g":   1 << 30,
	"t":   1 << 40,
}

// ParseSize parses a size such as "500MB", "2GiB", "1.5 GB" or "4096".
func ParseSize(s string) (Size, error) {
	text := strings.TrimSpace(s)
	i := strings.IndexFunc(text, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i < 0 {
		i = len(text)
	}
	number, unit := text[:i], strings.ToLower(strings.TrimSpace(text[i:]))

	mult, ok := sizeUnits[unit]
	if number == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: write a number with an optional unit such as 500MB or 2GiB", s)
	}
	value, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}

	bytes := value * float64(mult)
	if bytes > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(bytes), nil
}

// String formats the size with the largest binary unit that keeps it short:
// 2 GiB, 500 MiB, 1.5 KiB, 12 bytes.
func (s Size) String() string {
	return FormatBytes(int64(s))
}

// FormatBytes formats n bytes for people, in binary units.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}

	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	value := float64(n) / float64(div)
	text := strconv.FormatFloat(value, 'f', 1, 64)
	text = strings.TrimSuffix(text, ".0")
	return text + " " + []string{"KiB", "MiB", "GiB", "TiB"}[exp]
}

// FormatBytesApart formats two sizes that a message compares, such as a
// file and the limit it is over. When rounding makes them read the same
// ("2 GiB, larger than 2 GiB"), both are given in exact bytes instead.
func FormatBytesApart(a, b int64) (string, string) {
	textA, textB := FormatBytes(a), FormatBytes(b)
	if textA == textB && a != b {
		return formatExactBytes(a), formatExactBytes(b)
	}
	return textA, textB
}

// formatExactBytes writes n in bytes with thousands separators.
func formatExactBytes(n int64) string {
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String() + " bytes"
}

// Set implements flag.Value.
func (s *Size) Set(text string) error {
	v, err := ParseSize(text)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

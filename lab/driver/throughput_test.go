package driver

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		name string
		runs []float64
		want Spread
	}{
		{"none", nil, Spread{}},
		{"one run", []float64{900}, Spread{N: 1, Median: 900, Min: 900, Max: 900}},
		{"two runs", []float64{1000, 900}, Spread{N: 2, Median: 950, Min: 900, Max: 1000, IQR: 50}},
		// Three runs: the IQR is half the min-max range.
		{"three runs, unsorted", []float64{1055, 926, 990}, Spread{N: 3, Median: 990, Min: 926, Max: 1055, IQR: 64.5}},
		// An outlier widens min-max but not the IQR.
		{"five runs, one outlier", []float64{100, 102, 98, 101, 40}, Spread{N: 5, Median: 100, Min: 40, Max: 102, IQR: 3}},
	} {
		if got := Summarize(c.runs); got != c.want {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", c.name, c.runs, got, c.want)
		}
	}
}

func TestControlNoise(t *testing.T) {
	// Medians 926 and 1055 (the run of issue 17), IQRs 20 and 10.
	n := ControlNoise([]float64{906, 926, 946}, []float64{1045, 1055, 1065})
	want := Noise{Ref: 990.5, Gap: 129, IQR: 20, Abs: 149, Pct: 100 * 149 / 990.5}
	if math.Abs(n.Pct-want.Pct) > 1e-9 {
		t.Errorf("Pct = %v, want %v", n.Pct, want.Pct)
	}
	n.Pct = want.Pct
	if n != want {
		t.Errorf("ControlNoise = %+v, want %+v", n, want)
	}
}

func TestNoiseVersus(t *testing.T) {
	// Controls 1000 and 1020 with IQRs 10 and 30: Ref 1010, noise
	// 20 + 30 = 50 Mbit/s (4.95 %).
	n := ControlNoise([]float64{990, 1000, 1010}, []float64{990, 1020, 1050})
	for _, c := range []struct {
		name   string
		median float64
		want   string
	}{
		{"inside the noise, above", 1050, "within noise (±5.0 %)"},
		{"inside the noise, below", 970, "within noise (±5.0 %)"},
		{"exactly at the noise is not a difference", 1060, "within noise (±5.0 %)"},
		{"outside the noise, above", 1111, "+10.0 %"},
		{"outside the noise, below", 909, "-10.0 %"},
	} {
		if got := n.Versus(c.median); got != c.want {
			t.Errorf("%s: Versus(%v) = %q, want %q", c.name, c.median, got, c.want)
		}
	}
	if got := (Noise{}).Versus(500); got != "-" {
		t.Errorf("without controls: Versus = %q, want -", got)
	}
}

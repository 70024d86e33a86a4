package driver

import (
	"fmt"
	"math"
	"strings"
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

func TestSchedule(t *testing.T) {
	for _, c := range []struct {
		n, runs int
		want    string
	}{
		{3, 1, "0:0 0:1 0:2"},
		// The last round runs forward, so the lab ends on the last variant.
		{3, 2, "0:2 0:1 0:0 1:0 1:1 1:2"},
		{2, 3, "0:0 0:1 1:1 1:0 2:0 2:1"},
		{2, 0, ""},
	} {
		var got []string
		for _, s := range Schedule(c.n, c.runs) {
			got = append(got, fmt.Sprintf("%d:%d", s.Run, s.Variant))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("Schedule(%d, %d) = %q, want %q", c.n, c.runs, strings.Join(got, " "), c.want)
		}
	}
}

func TestSwitchCost(t *testing.T) {
	// The shipped variants: every run of the 10 tunnel variants restarts
	// both ends; the mode changes once per round (serpentine) plus the
	// first up. Measuring each variant's runs together took 2 restarts per
	// tuned variant and 2 ups.
	for _, c := range []struct {
		runs, restarts, ups int
	}{{1, 10, 2}, {3, 30, 4}, {5, 50, 6}} {
		r, u := SwitchCost(Variants, Schedule(len(Variants), c.runs))
		if r != c.restarts || u != c.ups {
			t.Errorf("%d runs: %d restarts, %d ups; want %d, %d", c.runs, r, u, c.restarts, c.ups)
		}
	}
	// Tuning is undone before a change of mode: one more restart.
	vs := []Variant{{Name: "tuned", Mode: "tls", Extra: []string{"fast-io"}}, {Name: "static", Mode: "static"}}
	if r, u := SwitchCost(vs, Schedule(2, 1)); r != 3 || u != 2 {
		t.Errorf("tuned then static: %d restarts, %d ups; want 3, 2", r, u)
	}
	vs[0] = Variant{Name: "dropped", Mode: "tls", Drop: []string{"fast-io"}}
	if r, u := SwitchCost(vs, Schedule(2, 1)); r != 3 || u != 2 {
		t.Errorf("a line dropped, then static: %d restarts, %d ups; want 3, 2", r, u)
	}
	controls := 0
	for _, v := range Variants {
		if v.Control > 0 {
			controls++
			if v.Mode != "tls" || v.tuned() || v.Raw {
				t.Errorf("control %q is not the shipped TLS configuration", v.Label())
			}
		}
	}
	if controls != 2 {
		t.Errorf("%d controls among the variants, want 2", controls)
	}
}

// run makes a result from made-up runs (Mbit/s, one stream and four).
func run(v Variant, one, four []float64) Throughput {
	r := Throughput{Variant: v}
	for i := range one {
		r.add(Throughput{One: one[i : i+1], Four: four[i : i+1], cpuSeconds: 1, bytes: 1e8})
	}
	return r
}

func TestThroughputTable(t *testing.T) {
	c1 := Variant{Name: "tls, as shipped", Mode: "tls", Control: 1}
	c2 := c1
	c2.Control = 2
	rs := []Throughput{
		run(Variant{Name: "static, as shipped", Mode: "static"}, []float64{500, 505, 495}, []float64{400, 410, 390}),
		run(c1, []float64{990, 1000, 1010}, []float64{800, 810, 820}),
		// Controls 1000 and 1020, IQRs 10 and 30: noise 50 Mbit/s, 4.95 %
		// of 1010. Four streams: 810 and 830, IQRs 10 and 10: 30, 3.66 %.
		run(Variant{Name: "inside the noise", Mode: "tls", Extra: []string{"x"}}, []float64{1040, 1050, 1200}, []float64{790, 800, 805}),
		run(Variant{Name: "outside the noise", Mode: "tls", Extra: []string{"y"}}, []float64{1100, 1111, 1120}, []float64{700, 738, 740}),
		run(c2, []float64{990, 1020, 1050}, []float64{820, 830, 840}),
	}
	var b strings.Builder
	ThroughputTable(&b, rs, 3, 5)
	out := b.String()
	for _, c := range []struct {
		label string
		want  []string // in order on the row
	}{
		{"static, as shipped", []string{"500 (495-505)", "-50.5 %", "400 (390-410)", "-51.2 %", "10.0", "0 / 0"}},
		{"tls, as shipped (control 1)", []string{"1000 (990-1010)", "control", "810 (800-820)", "control"}},
		{"inside the noise", []string{"1050 (1040-1200)", "within noise (±5.0 %)", "800 (790-805)", "within noise (±3.7 %)"}},
		{"outside the noise", []string{"1111 (1100-1120)", "+10.0 %", "738 (700-740)", "-10.0 %"}},
		{"tls, as shipped (control 2)", []string{"1020 (990-1050)", "control"}},
		{"noise, 1 stream:", []string{"controls 1000 and 1020 (gap 20) + IQR 30 = ±50 Mbit/s, ±5.0 % of 1010"}},
		{"noise, 4 streams:", []string{"controls 810 and 830 (gap 20) + IQR 10 = ±30 Mbit/s, ±3.7 % of 820"}},
		{"TLS (controls' mean) / static", []string{"2.02"}},
	} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, c.label) {
				line = l[len(c.label):]
				break
			}
		}
		if line == "" {
			t.Errorf("no row %q in\n%s", c.label, out)
			continue
		}
		rest := line
		for _, w := range c.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("row %q: %q missing (or out of order) in %q", c.label, w, line)
				break
			}
			rest = rest[i+len(w):]
		}
	}

	// Without a pair of controls nothing is judged.
	b.Reset()
	ThroughputTable(&b, rs[:2], 3, 5)
	if out := b.String(); !strings.Contains(out, "differences are not judged") || strings.Contains(out, "control\n") || strings.Contains(out, "%") {
		t.Errorf("one control only:\n%s", out)
	}
}

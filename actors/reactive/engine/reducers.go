package engine

import (
	"strconv"
)

func parseNumber(v string) (float64, bool) {
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// Native returns the built-in reducer of @skipruntime/helpers named
// sum, min, max or count.
func Native(name string) (Reducer, bool) {
	switch name {
	case "sum":
		return sum{}, true
	case "min":
		return extreme{name: "Min", less: func(a, b float64) bool { return a < b }}, true
	case "max":
		return extreme{name: "Max", less: func(a, b float64) bool { return a > b }}, true
	case "count":
		return count{}, true
	}
	return nil, false
}

type sum struct{}

func (sum) Initial() (string, bool) { return "0", true }

func (sum) Add(acc string, has bool, v string) (string, error) {
	x, err := numberOf("Sum", v)
	if err != nil {
		return "", err
	}
	a := 0.0
	if has {
		a, _ = parseNumber(acc)
	}
	return FormatNumber(a + x), nil
}

func (sum) Remove(acc, v string) (string, bool, error) {
	x, err := numberOf("Sum", v)
	if err != nil {
		return "", false, err
	}
	a, _ := parseNumber(acc)
	return FormatNumber(a - x), true, nil
}

type count struct{}

func (count) Initial() (string, bool) { return "0", true }

func (count) Add(acc string, has bool, _ string) (string, error) {
	a := 0.0
	if has {
		a, _ = parseNumber(acc)
	}
	return FormatNumber(a + 1), nil
}

func (count) Remove(acc, _ string) (string, bool, error) {
	a, _ := parseNumber(acc)
	return FormatNumber(a - 1), true, nil
}

// extreme is Min or Max: removing the current extreme cannot be undone
// without the other values, so it asks for a recomputation.
type extreme struct {
	name string
	less func(a, b float64) bool
}

func (extreme) Initial() (string, bool) { return "", false }

func (m extreme) Add(acc string, has bool, v string) (string, error) {
	x, err := numberOf(m.name, v)
	if err != nil {
		return "", err
	}
	if !has {
		return FormatNumber(x), nil
	}
	a, _ := parseNumber(acc)
	if m.less(x, a) {
		return FormatNumber(x), nil
	}
	return acc, nil
}

func (m extreme) Remove(acc, v string) (string, bool, error) {
	x, err := numberOf(m.name, v)
	if err != nil {
		return "", false, err
	}
	a, _ := parseNumber(acc)
	if x == a {
		return "", false, nil
	}
	return acc, true, nil
}

package synap

import (
	"math"
	"testing"
)

func TestGeoScoreRoundTrip(t *testing.T) {
	for _, c := range [][2]float64{{37.7749, -122.4194}, {-33.8688, 151.2093}, {0, 0}, {89.9, 179.9}, {-89.9, -179.9}} {
		lat, lon := geoDecode(geoScore(c[0], c[1]))
		if math.Abs(lat-c[0]) > 1e-5 || math.Abs(lon-c[1]) > 1e-5 {
			t.Errorf("%v decodes as %v, %v", c, lat, lon)
		}
	}
}

func TestHaversine(t *testing.T) {
	// San Francisco to New York: about 4,130 km.
	if d := haversine(37.7749, -122.4194, 40.7128, -74.0060) / 1000; d < 4100 || d > 4160 {
		t.Errorf("SF-NY = %.0f km", d)
	}
	if d := haversine(10, 10, 10, 10); d != 0 {
		t.Errorf("a point to itself = %v", d)
	}
}

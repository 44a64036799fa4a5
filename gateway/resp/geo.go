package resp

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// Geo commands keep positions in sorted sets, as Redis does: a member's
// score is its 52-bit geohash (longitude and latitude interleaved, the
// latitude within Web Mercator's ±85.05112878), so ZRANGE, ZREM and the
// rest work on geo keys and the HTTP door sees an ordinary sorted set.
// The arithmetic below is Redis's (geohash.c, geohash_helper.c), step for
// step, so that positions, distances and the order of unsorted search
// results are the same as Redis's.

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	register(
		k1(&cmdSpec{name: "geoadd", arity: -5, flags: fWrite, run: cmdGeoAdd}),
		k1(&cmdSpec{name: "geopos", arity: -2, flags: fReadonly, run: cmdGeoPos}),
		k1(&cmdSpec{name: "geohash", arity: -2, flags: fReadonly, run: cmdGeoHash}),
		k1(&cmdSpec{name: "geodist", arity: -4, flags: fReadonly, run: cmdGeoDist}),
		k1(&cmdSpec{name: "georadius", arity: -6, flags: fWrite, run: geoSearch(1, geoCoords)}),
		k1(&cmdSpec{name: "georadius_ro", arity: -6, flags: fReadonly, run: geoSearch(1, geoCoords|geoNoStore)}),
		k1(&cmdSpec{name: "georadiusbymember", arity: -5, flags: fWrite, run: geoSearch(1, geoMember)}),
		k1(&cmdSpec{name: "georadiusbymember_ro", arity: -5, flags: fReadonly, run: geoSearch(1, geoMember|geoNoStore)}),
		k1(&cmdSpec{name: "geosearch", arity: -7, flags: fReadonly, run: geoSearch(1, geoSearchCmd)}),
		&cmdSpec{name: "geosearchstore", arity: -8, flags: fWrite, first: 1, last: 2, ste: 1, run: geoSearch(2, geoSearchCmd|geoSearchStore)},
	)
	// GEORADIUS's STORE and STOREDIST name a second key (EXEC holds it).
	storeKeys := func(args [][]byte) []string {
		if len(args) < 2 {
			return nil
		}
		keys := []string{string(args[1])}
		for i := 2; i+1 < len(args); i++ {
			if eq(args[i], "STORE") || eq(args[i], "STOREDIST") {
				keys = append(keys, string(args[i+1]))
				i++
			}
		}
		return keys
	}
	keyFuncs["georadius"] = storeKeys
	keyFuncs["georadiusbymember"] = storeKeys
}

const (
	geoLatMin  = -85.05112878
	geoLatMax  = 85.05112878
	geoLonMin  = -180.0
	geoLonMax  = 180.0
	geoStepMax = 26

	earthRadius = 6372797.560856 // metres, Redis's EARTH_RADIUS_IN_METERS
	mercatorMax = 20037726.37
)

type geoBits struct {
	bits uint64
	step uint
}

func (h geoBits) zero() bool { return h.bits == 0 && h.step == 0 }

type geoRange struct{ min, max float64 }

type geoArea struct{ lon, lat geoRange }

var (
	geoLonRange = geoRange{geoLonMin, geoLonMax}
	geoLatRange = geoRange{geoLatMin, geoLatMax}
)

func interleave64(xlo, ylo uint32) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF}
	s := [...]uint{1, 2, 4, 8, 16}
	x, y := uint64(xlo), uint64(ylo)
	for i := 4; i >= 0; i-- {
		x = (x | x<<s[i]) & b[i]
		y = (y | y<<s[i]) & b[i]
	}
	return x | y<<1
}

func deinterleave64(v uint64) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF}
	s := [...]uint{0, 1, 2, 4, 8, 16}
	x, y := v, v>>1
	for i := range b {
		x = (x | x>>s[i]) & b[i]
		y = (y | y>>s[i]) & b[i]
	}
	return x | y<<32
}

// geoEncode is geohashEncode: false outside the ranges.
func geoEncode(lonR, latR geoRange, lon, lat float64, step uint) (geoBits, bool) {
	if lon > geoLonMax || lon < geoLonMin || lat > geoLatMax || lat < geoLatMin {
		return geoBits{}, false
	}
	if lat < latR.min || lat > latR.max || lon < lonR.min || lon > lonR.max {
		return geoBits{}, false
	}
	latOff := (lat - latR.min) / (latR.max - latR.min)
	lonOff := (lon - lonR.min) / (lonR.max - lonR.min)
	latOff *= float64(uint64(1) << step)
	lonOff *= float64(uint64(1) << step)
	return geoBits{bits: interleave64(uint32(latOff), uint32(lonOff)), step: step}, true
}

func geoDecode(lonR, latR geoRange, h geoBits) (geoArea, bool) {
	if h.zero() {
		return geoArea{}, false
	}
	sep := deinterleave64(h.bits)
	latScale := latR.max - latR.min
	lonScale := lonR.max - lonR.min
	ilat := uint32(sep)
	ilon := uint32(sep >> 32)
	div := float64(uint64(1) << h.step)
	return geoArea{
		lat: geoRange{latR.min + (float64(ilat)*1.0/div)*latScale, latR.min + (float64(ilat+1)*1.0/div)*latScale},
		lon: geoRange{lonR.min + (float64(ilon)*1.0/div)*lonScale, lonR.min + (float64(ilon+1)*1.0/div)*lonScale},
	}, true
}

// geoScoreToLonLat decodes a member's score to the centre of its cell.
func geoScoreToLonLat(score float64) (lon, lat float64, ok bool) {
	area, ok := geoDecode(geoLonRange, geoLatRange, geoBits{bits: uint64(score), step: geoStepMax})
	if !ok {
		return 0, 0, false
	}
	lon = min(max((area.lon.min+area.lon.max)/2, geoLonMin), geoLonMax)
	lat = min(max((area.lat.min+area.lat.max)/2, geoLatMin), geoLatMax)
	return lon, lat, true
}

func geoScore(lon, lat float64) float64 {
	h, _ := geoEncode(geoLonRange, geoLatRange, lon, lat, geoStepMax)
	return float64(h.bits << (52 - h.step*2))
}

// The interleaved hash keeps longitude in the odd bits and latitude in the
// even bits: moving a cell one step along an axis adds or subtracts one in
// that axis's bits alone.
const (
	geoLonBits = 0xaaaaaaaaaaaaaaaa
	geoLatBits = 0x5555555555555555
)

func geoMoveX(h *geoBits, d int) { geoMove(h, d, geoLonBits, geoLatBits) }
func geoMoveY(h *geoBits, d int) { geoMove(h, d, geoLatBits, geoLonBits) }

// geoMove moves h one cell along the axis whose bits are axis (other: the
// other axis's bits), forward for d > 0, else back.
func geoMove(h *geoBits, d int, axis, other uint64) {
	v := h.bits & axis
	keep := h.bits & other
	zz := other >> (64 - h.step*2)
	if d > 0 {
		v += zz + 1
	} else {
		v |= zz
		v -= zz + 1
	}
	v &= axis >> (64 - h.step*2)
	h.bits = v | keep
}

// geoNeighbors are a cell's eight neighbours in Redis's search order:
// north, south, east, west, north-east, north-west, south-east,
// south-west.
func geoNeighbors(h geoBits) [8]geoBits {
	move := func(dx, dy int) geoBits {
		n := h
		if dx != 0 {
			geoMoveX(&n, dx)
		}
		if dy != 0 {
			geoMoveY(&n, dy)
		}
		return n
	}
	return [8]geoBits{move(0, 1), move(0, -1), move(1, 0), move(-1, 0), move(1, 1), move(-1, 1), move(1, -1), move(-1, -1)}
}

func degRad(a float64) float64 { return a * (math.Pi / 180.0) }
func radDeg(a float64) float64 { return a / (math.Pi / 180.0) }

func geoLatDistance(lat1, lat2 float64) float64 {
	return earthRadius * math.Abs(degRad(lat2)-degRad(lat1))
}

// geoDistance is the haversine distance in metres.
func geoDistance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := math.Sin((lon2r - lon1r) / 2)
	if v == 0 {
		return geoLatDistance(lat1, lat2)
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := math.Sin((lat2r - lat1r) / 2)
	a := u*u + math.Cos(lat1r)*math.Cos(lat2r)*v*v
	return 2.0 * earthRadius * math.Asin(math.Sqrt(a))
}

// geoShape is a search area: a circle (radius) or a box (width, height),
// in the unit's measure; conversion turns the unit into metres.
type geoShape struct {
	box                   bool
	lon, lat              float64
	radius, width, height float64
	conversion            float64
}

// within reports whether a point is in the shape, and its distance from
// the centre in metres.
func (s *geoShape) within(lon, lat float64) (float64, bool) {
	if !s.box {
		d := geoDistance(s.lon, s.lat, lon, lat)
		return d, d <= s.radius*s.conversion
	}
	if geoLatDistance(lat, s.lat) > s.height*s.conversion/2 {
		return 0, false
	}
	if geoDistance(lon, lat, s.lon, lat) > s.width*s.conversion/2 {
		return 0, false
	}
	return geoDistance(s.lon, s.lat, lon, lat), true
}

func geoStepsByRadius(meters, lat float64) uint {
	if meters == 0 {
		return 26
	}
	step := 1
	for meters < mercatorMax {
		meters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint(min(max(step, 1), 26))
}

// cells are the geohash cells to search, as geohashCalculateAreasByShapeWGS84
// chooses them: the centre's cell then its neighbours, zero where a
// neighbour cannot hold a point of the shape.
func (s *geoShape) cells() [9]geoBits {
	height := s.conversion * s.radius
	width := height
	if s.box {
		height, width = s.conversion*s.height/2, s.conversion*s.width/2
	}
	latDelta := radDeg(height / earthRadius)
	lonDeltaTop := radDeg(width / earthRadius / math.Cos(degRad(s.lat+latDelta)))
	lonDeltaBottom := radDeg(width / earthRadius / math.Cos(degRad(s.lat-latDelta)))
	minLon, maxLon := s.lon-lonDeltaTop, s.lon+lonDeltaTop
	if s.lat < 0 {
		minLon, maxLon = s.lon-lonDeltaBottom, s.lon+lonDeltaBottom
	}
	minLat, maxLat := s.lat-latDelta, s.lat+latDelta

	radius := s.radius
	if s.box {
		radius = math.Sqrt((s.width/2)*(s.width/2) + (s.height/2)*(s.height/2))
	}
	radius *= s.conversion
	steps := geoStepsByRadius(radius, s.lat)
	hash, _ := geoEncode(geoLonRange, geoLatRange, s.lon, s.lat, steps)
	nb := geoNeighbors(hash)
	area, _ := geoDecode(geoLonRange, geoLatRange, hash)

	north, _ := geoDecode(geoLonRange, geoLatRange, nb[0])
	south, _ := geoDecode(geoLonRange, geoLatRange, nb[1])
	east, _ := geoDecode(geoLonRange, geoLatRange, nb[2])
	west, _ := geoDecode(geoLonRange, geoLatRange, nb[3])
	if steps > 1 && (north.lat.max < maxLat || south.lat.min > minLat || east.lon.max < maxLon || west.lon.min > minLon) {
		steps--
		hash, _ = geoEncode(geoLonRange, geoLatRange, s.lon, s.lat, steps)
		nb = geoNeighbors(hash)
		area, _ = geoDecode(geoLonRange, geoLatRange, hash)
	}
	const n, so, e, w, ne, nw, se, sw = 0, 1, 2, 3, 4, 5, 6, 7
	if steps >= 2 {
		if area.lat.min < minLat {
			nb[so], nb[sw], nb[se] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lat.max > maxLat {
			nb[n], nb[ne], nb[nw] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lon.min < minLon {
			nb[w], nb[sw], nb[nw] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lon.max > maxLon {
			nb[e], nb[se], nb[ne] = geoBits{}, geoBits{}, geoBits{}
		}
	}
	var out [9]geoBits
	out[0] = hash
	copy(out[1:], nb[:])
	return out
}

// geoPoint is a search result.
type geoPoint struct {
	member   string
	score    float64
	lon, lat float64
	dist     float64
}

// search finds the members of all (sorted by score) inside the shape,
// cell by cell as Redis does, stopping at limit when it is not 0.
func (s *geoShape) search(all []*messages.ScoredMember, limit int) []geoPoint {
	var out []geoPoint
	cells := s.cells()
	last := -1
	for i, cell := range cells {
		if cell.zero() {
			continue
		}
		// Huge radii make neighbours repeat: skip a cell the same as the
		// one searched before.
		if last >= 0 && cell == cells[last] {
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		lo := float64(cell.bits << (52 - cell.step*2))
		next := cell
		next.bits++
		hi := float64(next.bits << (52 - next.step*2))
		at := sort.Search(len(all), func(j int) bool { return all[j].Score >= lo })
		for ; at < len(all) && all[at].Score < hi; at++ {
			m := all[at]
			lon, lat, ok := geoScoreToLonLat(m.Score)
			if !ok {
				continue
			}
			if d, in := s.within(lon, lat); in {
				out = append(out, geoPoint{member: m.Member, score: m.Score, lon: lon, lat: lat, dist: d})
			}
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		last = i
	}
	return out
}

// geoLonLat reads a longitude and a latitude, answering the error itself.
func geoLonLat(c *conn, lonArg, latArg []byte) (float64, float64, bool) {
	lon, ok1 := argFloat(lonArg)
	lat, ok2 := argFloat(latArg)
	if !ok1 || !ok2 {
		c.w.err(notFloat)
		return 0, 0, false
	}
	if lon < geoLonMin || lon > geoLonMax || lat < geoLatMin || lat > geoLatMax {
		c.w.err(fmt.Sprintf("ERR invalid longitude,latitude pair %f,%f", lon, lat))
		return 0, 0, false
	}
	return lon, lat, true
}

// geoUnit is the metres in a unit, or answers the error.
func geoUnit(c *conn, u []byte) (float64, bool) {
	switch strings.ToLower(string(u)) {
	case "m":
		return 1, true
	case "km":
		return 1000, true
	case "ft":
		return 0.3048, true
	case "mi":
		return 1609.34, true
	}
	c.w.err("ERR unsupported unit provided. please use M, KM, FT, MI")
	return 0, false
}

// geoFloat reads a number, answering msg when it is not one.
func geoFloat(c *conn, b []byte, msg string) (float64, bool) {
	f, ok := argFloat(b)
	if !ok {
		c.w.err(msg)
	}
	return f, ok
}

// fixed4 is Redis's distance text: rounded to even at four decimals.
func fixed4(d float64) string {
	v := int64(math.RoundToEven(d * 10000))
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for len(s) < 5 {
		s = "0" + s
	}
	s = s[:len(s)-4] + "." + s[len(s)-4:]
	if neg {
		s = "-" + s
	}
	return s
}

// coord writes a coordinate as Redis's addReplyHumanLongDouble: 17
// decimals, trailing zeros cut; a double in RESP3, a bulk string in RESP2.
func (w *writer) coord(f float64) {
	s := strconv.FormatFloat(f, 'f', 17, 64)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	if w.resp3 {
		w.b = append(w.b, ',')
		w.b = append(w.b, s...)
		w.b = append(w.b, '\r', '\n')
		return
	}
	w.bulkString(s)
}

// GEOADD key [NX|XX] [CH] longitude latitude member ... is ZADD with the
// positions' geohashes as scores.
func cmdGeoAdd(c *conn, a [][]byte) {
	at := 2
	nx, xx := false, false
opts:
	for ; at < len(a); at++ {
		switch {
		case eq(a[at], "nx"):
			nx = true
		case eq(a[at], "xx"):
			xx = true
		case eq(a[at], "ch"):
		default:
			break opts
		}
	}
	if (len(a)-at)%3 != 0 || (nx && xx) {
		c.w.err(syntaxErr)
		return
	}
	zadd := append([][]byte{[]byte("zadd")}, a[1:at]...)
	for i := at; i < len(a); i += 3 {
		lon, lat, ok := geoLonLat(c, a[i], a[i+1])
		if !ok {
			return
		}
		score := strconv.FormatUint(uint64(geoScore(lon, lat)), 10)
		zadd = append(zadd, []byte(score), a[i+2])
	}
	cmdZAdd(c, zadd)
}

// geoScores reads the scores of members of a geo key: found is false when
// the key is missing; ok is false when an error was answered.
func (c *conn) geoScores(key string) (scores map[string]float64, found, ok bool) {
	all, ok := c.zall(key)
	if !ok {
		return nil, false, false
	}
	scores = make(map[string]float64, len(all))
	for _, m := range all {
		scores[m.Member] = m.Score
	}
	return scores, len(all) > 0, true
}

func cmdGeoPos(c *conn, a [][]byte) {
	scores, _, ok := c.geoScores(string(a[1]))
	if !ok {
		return
	}
	c.w.array(len(a) - 2)
	for _, m := range a[2:] {
		s, found := scores[string(m)]
		lon, lat, ok := geoScoreToLonLat(s)
		if !found || !ok {
			c.w.nullArray()
			continue
		}
		c.w.array(2)
		c.w.coord(lon)
		c.w.coord(lat)
	}
}

const geoAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// cmdGeoHash answers the standard 11-character geohash: the position is
// decoded and encoded again over latitudes ±90, as Redis does.
func cmdGeoHash(c *conn, a [][]byte) {
	scores, _, ok := c.geoScores(string(a[1]))
	if !ok {
		return
	}
	c.w.array(len(a) - 2)
	for _, m := range a[2:] {
		s, found := scores[string(m)]
		lon, lat, ok := geoScoreToLonLat(s)
		if !found || !ok {
			c.w.null()
			continue
		}
		h, _ := geoEncode(geoRange{-180, 180}, geoRange{-90, 90}, lon, lat, 26)
		var buf [11]byte
		for i := range buf {
			idx := uint64(0)
			if i < 10 {
				idx = (h.bits >> (52 - (uint(i)+1)*5)) & 0x1f
			}
			buf[i] = geoAlphabet[idx]
		}
		c.w.bulk(buf[:])
	}
}

func cmdGeoDist(c *conn, a [][]byte) {
	toMeter := 1.0
	if len(a) == 5 {
		var ok bool
		if toMeter, ok = geoUnit(c, a[4]); !ok {
			return
		}
	} else if len(a) > 5 {
		c.w.err(syntaxErr)
		return
	}
	scores, _, ok := c.geoScores(string(a[1]))
	if !ok {
		return
	}
	s1, ok1 := scores[string(a[2])]
	s2, ok2 := scores[string(a[3])]
	if !ok1 || !ok2 {
		c.w.null()
		return
	}
	lon1, lat1, ok1 := geoScoreToLonLat(s1)
	lon2, lat2, ok2 := geoScoreToLonLat(s2)
	if !ok1 || !ok2 {
		c.w.null()
		return
	}
	c.w.bulkString(fixed4(geoDistance(lon1, lat1, lon2, lat2) / toMeter))
}

// The search commands' forms.
const (
	geoCoords      = 1 << iota // GEORADIUS: around a longitude and latitude
	geoMember                  // GEORADIUSBYMEMBER: around a member
	geoNoStore                 // the _RO forms: no STORE
	geoSearchCmd               // GEOSEARCH's arguments
	geoSearchStore             // GEOSEARCHSTORE: STOREDIST only
)

// geoSearch serves GEORADIUS, GEORADIUSBYMEMBER (and their _RO forms),
// GEOSEARCH and GEOSEARCHSTORE, as Redis's georadiusGeneric: the same
// checks in the same order, so errors are the same.
func geoSearch(src int, flags int) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		key := string(a[src])
		all, ok := c.zall(key)
		if !ok {
			return
		}
		exists := len(all) > 0
		var shape geoShape
		var store string
		storeDist := false
		base := 0
		switch {
		case flags&geoCoords != 0:
			base = 6
			if shape.lon, shape.lat, ok = geoLonLat(c, a[2], a[3]); !ok {
				return
			}
			if !geoRadius(c, a[4:6], &shape) {
				return
			}
		case flags&geoMember != 0:
			base = 5
			if exists {
				if !geoCentre(c, all, a[2], &shape) {
					return
				}
				if !geoRadius(c, a[3:5], &shape) {
					return
				}
			}
		default:
			base = 2
			if flags&geoSearchStore != 0 {
				base, store = 3, string(a[1])
			}
		}
		withDist, withHash, withCoord, any := false, false, false, false
		fromMember, fromLoc, byRadius, byBox := false, false, false, false
		sortDir := 0 // 1 ascending, 2 descending
		count := int64(0)
		rest := a[base:]
		for i := 0; i < len(rest); i++ {
			arg := rest[i]
			left := len(rest)
			switch {
			case eq(arg, "withdist"):
				withDist = true
			case eq(arg, "withhash"):
				withHash = true
			case eq(arg, "withcoord"):
				withCoord = true
			case eq(arg, "any"):
				any = true
			case eq(arg, "asc"):
				sortDir = 1
			case eq(arg, "desc"):
				sortDir = 2
			case eq(arg, "count") && i+1 < left:
				n, ok := argInt(rest[i+1])
				if !ok {
					c.w.err(notInteger)
					return
				}
				if n <= 0 {
					c.w.err("ERR COUNT must be > 0")
					return
				}
				count = n
				i++
			case (eq(arg, "store") || eq(arg, "storedist")) && i+1 < left && flags&(geoNoStore|geoSearchCmd) == 0:
				store, storeDist = string(rest[i+1]), eq(arg, "storedist")
				i++
			case eq(arg, "storedist") && flags&geoSearchStore != 0:
				storeDist = true
			case eq(arg, "frommember") && i+1 < left && flags&geoSearchCmd != 0 && !fromLoc:
				if exists && !geoCentre(c, all, rest[i+1], &shape) {
					return
				}
				fromMember = true
				i++
			case eq(arg, "fromlonlat") && i+2 < left && flags&geoSearchCmd != 0 && !fromMember:
				if shape.lon, shape.lat, ok = geoLonLat(c, rest[i+1], rest[i+2]); !ok {
					return
				}
				fromLoc = true
				i += 2
			case eq(arg, "byradius") && i+2 < left && flags&geoSearchCmd != 0 && !byBox:
				if !geoRadius(c, rest[i+1:i+3], &shape) {
					return
				}
				byRadius = true
				i += 2
			case eq(arg, "bybox") && i+3 < left && flags&geoSearchCmd != 0 && !byRadius:
				w, ok := geoFloat(c, rest[i+1], "ERR need numeric width")
				if !ok {
					return
				}
				h, ok := geoFloat(c, rest[i+2], "ERR need numeric height")
				if !ok {
					return
				}
				if h < 0 || w < 0 {
					c.w.err("ERR height or width cannot be negative")
					return
				}
				if shape.conversion, ok = geoUnit(c, rest[i+3]); !ok {
					return
				}
				shape.box, shape.width, shape.height = true, w, h
				byBox = true
				i += 3
			default:
				c.w.err(syntaxErr)
				return
			}
		}
		if store != "" && (withDist || withHash || withCoord) {
			what := "STORE option in GEORADIUS"
			if flags&geoSearchStore != 0 {
				what = "GEOSEARCHSTORE"
			}
			c.w.err("ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
			return
		}
		if flags&geoSearchCmd != 0 && !fromMember && !fromLoc {
			c.w.err("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + string(a[0]))
			return
		}
		if flags&geoSearchCmd != 0 && !byRadius && !byBox {
			c.w.err("ERR exactly one of BYRADIUS and BYBOX can be specified for " + string(a[0]))
			return
		}
		if any && count == 0 {
			c.w.err("ERR the ANY argument requires COUNT argument")
			return
		}
		if count != 0 && sortDir == 0 && !any {
			sortDir = 1
		}
		run := func() bool {
			// Under the hold, the key is read again: it may have changed
			// since the arguments were checked.
			if store != "" {
				var ok bool
				if all, ok = c.zall(key); !ok {
					return false
				}
			}
			limit := 0
			if any {
				limit = int(min(count, int64(len(all))+1))
			}
			points := shape.search(all, limit)
			if len(points) == 0 && store == "" {
				c.w.array(0)
				return true
			}
			switch sortDir {
			case 1:
				sort.SliceStable(points, func(i, j int) bool { return points[i].dist < points[j].dist })
			case 2:
				sort.SliceStable(points, func(i, j int) bool { return points[i].dist > points[j].dist })
			}
			if count > 0 && int64(len(points)) > count {
				points = points[:count]
			}
			if store == "" {
				geoReply(c, points, shape.conversion, withDist, withHash, withCoord)
				return true
			}
			del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: store})
			if c.failed(del, err) {
				return false
			}
			if len(points) > 0 {
				scored := make([]*messages.ScoredMember, len(points))
				for i, p := range points {
					s := p.score
					if storeDist {
						s = p.dist / shape.conversion
					}
					scored[i] = &messages.ScoredMember{Member: p.member, Score: s}
				}
				add, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: store, Scored: scored})
				if c.failed(add, err) {
					return false
				}
			}
			c.w.int(int64(len(points)))
			return true
		}
		if !exists && store != "" {
			// The source is missing: the destination goes, as in Redis.
			c.atomically([]string{store}, func() bool {
				del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: store})
				if c.failed(del, err) {
					return false
				}
				c.w.int(0)
				return true
			})
			return
		}
		if !exists {
			c.w.array(0)
			return
		}
		if store != "" {
			c.atomically([]string{key, store}, run)
			return
		}
		run()
	}
}

// geoCentre places the search at a member's position.
func geoCentre(c *conn, all []*messages.ScoredMember, member []byte, shape *geoShape) bool {
	for _, m := range all {
		if m.Member == string(member) {
			if lon, lat, ok := geoScoreToLonLat(m.Score); ok {
				shape.lon, shape.lat = lon, lat
				return true
			}
			break
		}
	}
	c.w.err("ERR could not decode requested zset member")
	return false
}

// geoRadius reads "radius unit" into a circular shape.
func geoRadius(c *conn, a [][]byte, shape *geoShape) bool {
	r, ok := geoFloat(c, a[0], "ERR need numeric radius")
	if !ok {
		return false
	}
	if r < 0 {
		c.w.err("ERR radius cannot be negative")
		return false
	}
	if shape.conversion, ok = geoUnit(c, a[1]); !ok {
		return false
	}
	shape.box, shape.radius = false, r
	return true
}

func geoReply(c *conn, points []geoPoint, conversion float64, withDist, withHash, withCoord bool) {
	opts := 0
	for _, on := range []bool{withDist, withHash, withCoord} {
		if on {
			opts++
		}
	}
	c.w.array(len(points))
	for _, p := range points {
		if opts > 0 {
			c.w.array(opts + 1)
		}
		c.w.bulkString(p.member)
		if withDist {
			c.w.bulkString(fixed4(p.dist / conversion))
		}
		if withHash {
			c.w.int(int64(p.score))
		}
		if withCoord {
			c.w.array(2)
			c.w.coord(p.lon)
			c.w.coord(p.lat)
		}
	}
}

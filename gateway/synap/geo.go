package synap

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/mmcloughlin/geohash"

	"github.com/troupe-run/troupe/messages"
)

// Geospatial keys are sorted sets, as in Redis: each member's score is its
// position as a 52-bit interleaved geohash (exact in a float64), so a geo
// key is durable, typed and accounted like any sorted set, and the
// sorted-set commands work on it. Searches read the whole set and filter
// it; they suit sets of up to some hundred thousand members.

var geoCommands = []commandSpec{
	{"geospatial.geoadd", geoAdd},
	{"geospatial.geodist", geoDist},
	{"geospatial.geopos", geoPos},
	{"geospatial.geohash", geoHash},
	{"geospatial.georadius", geoRadius(false)},
	{"geospatial.georadiusbymember", geoRadius(true)},
	{"geospatial.geosearch", geoSearch},
	{"geospatial.stats", geoStats},
	// The short names the issue and Redis users reach for.
	{"geo.add", geoAdd},
	{"geo.dist", geoDist},
	{"geo.pos", geoPos},
	{"geo.hash", geoHash},
	{"geo.radius", geoRadius(false)},
	{"geo.radiusbymember", geoRadius(true)},
	{"geo.search", geoSearch},
}

// geoCounters count the geo commands since start, for geospatial.stats.
type geoCounters struct {
	adds, added, dists, radius, pos, hashes atomic.Int64
}

const (
	geoBits     = 52
	earthRadius = 6372797.560856 // metres, as Redis's haversine uses
)

// geoArgs is the payload of the geospatial commands, in the original's
// field names.
type geoArgs struct {
	Key       string `json:"key"`
	Locations []struct {
		Lat    *float64 `json:"lat"`
		Lon    *float64 `json:"lon"`
		Member string   `json:"member"`
	} `json:"locations"`
	NX         bool          `json:"nx"`
	XX         bool          `json:"xx"`
	Member1    string        `json:"member1"`
	Member2    string        `json:"member2"`
	Member     string        `json:"member"`
	Members    []string      `json:"members"`
	Unit       string        `json:"unit"`
	CenterLat  *float64      `json:"center_lat"`
	CenterLon  *float64      `json:"center_lon"`
	Radius     *float64      `json:"radius"`
	WithDist   bool          `json:"with_dist"`
	WithCoord  bool          `json:"with_coord"`
	WithHash   bool          `json:"with_hash"`
	Count      *int          `json:"count"`
	Sort       string        `json:"sort"`
	FromMember string        `json:"from_member"`
	FromLonLat []float64     `json:"from_lonlat"`
	ByRadius   []interface{} `json:"by_radius"`
	ByBox      []interface{} `json:"by_box"`
}

func geoPayload(c *call) (*geoArgs, error) {
	var p geoArgs
	if err := payloadInto(c, &p); err != nil {
		return nil, err
	}
	if p.Key == "" {
		return nil, invalid("key is required")
	}
	return &p, nil
}

// unitFactor is how many metres one unit is.
func unitFactor(unit string) (float64, error) {
	switch strings.ToLower(unit) {
	case "", "m":
		return 1, nil
	case "km":
		return 1000, nil
	case "mi":
		return 1609.34, nil
	case "ft":
		return 0.3048, nil
	}
	return 0, invalid("unit must be m, km, mi or ft, not %q", unit)
}

func checkCoord(lat, lon float64) error {
	if lat < -90 || lat > 90 || math.IsNaN(lat) {
		return invalid("latitude must be from -90 to 90, not %v", lat)
	}
	if lon < -180 || lon > 180 || math.IsNaN(lon) {
		return invalid("longitude must be from -180 to 180, not %v", lon)
	}
	return nil
}

func geoScore(lat, lon float64) float64 {
	return float64(geohash.EncodeIntWithPrecision(lat, lon, geoBits))
}

func geoDecode(score float64) (lat, lon float64) {
	return geohash.DecodeIntWithPrecision(uint64(score), geoBits)
}

// haversine is the great-circle distance in metres.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	r := math.Pi / 180
	dLat, dLon := (lat2-lat1)*r, (lon2-lon1)*r
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// geospatial.geoadd {key, locations: [{lat, lon, member}], nx?, xx?} ->
// {key, added}
func geoAdd(c *call) error {
	p, err := geoPayload(c)
	if err != nil {
		return err
	}
	if len(p.Locations) == 0 {
		return invalid("locations must not be empty")
	}
	if p.NX && p.XX {
		return invalid("nx and xx cannot both be set")
	}
	scored := make([]*messages.ScoredMember, len(p.Locations))
	for i, l := range p.Locations {
		if l.Lat == nil || l.Lon == nil || l.Member == "" {
			return invalid("locations[%d] needs lat, lon and member", i)
		}
		if err := checkCoord(*l.Lat, *l.Lon); err != nil {
			return invalid("locations[%d]: %s", i, err.Error())
		}
		scored[i] = &messages.ScoredMember{Member: l.Member, Score: geoScore(*l.Lat, *l.Lon)}
	}
	c.s.geo.adds.Add(1)
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: p.Key, Scored: scored, Nx: p.NX, Xx: p.XX})
	if err != nil {
		return err
	}
	c.s.geo.added.Add(rep.Integer)
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("added")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// position reads a member's coordinates; false when it is not there.
func position(c *call, key, member string) (lat, lon float64, ok bool, err error) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_SCORE, Key: key, Member: member})
	if err != nil || !rep.Found {
		return 0, 0, false, err
	}
	lat, lon = geoDecode(rep.Number)
	return lat, lon, true, nil
}

// geospatial.geodist {key, member1, member2, unit = m} -> {key, distance,
// unit}; distance is null when either member is missing.
func geoDist(c *call) error {
	p, err := geoPayload(c)
	if err != nil {
		return err
	}
	f, err := unitFactor(p.Unit)
	if err != nil {
		return err
	}
	if p.Member1 == "" || p.Member2 == "" {
		return invalid("member1 and member2 are required")
	}
	c.s.geo.dists.Add(1)
	lat1, lon1, ok1, err := position(c, p.Key, p.Member1)
	if err != nil {
		return err
	}
	lat2, lon2, ok2, err := position(c, p.Key, p.Member2)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("distance")
	if ok1 && ok2 {
		w.Float(haversine(lat1, lon1, lat2, lon2) / f)
	} else {
		w.Null()
	}
	w.Key("unit")
	w.Str(cmp.Or(p.Unit, "m"))
	w.EndObj()
	return nil
}

// geospatial.geopos {key, members} -> {key, coordinates: [{lat, lon} | null]}
func geoPos(c *call) error {
	p, err := geoPayload(c)
	if err != nil {
		return err
	}
	c.s.geo.pos.Add(1)
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("coordinates")
	w.Arr()
	for _, m := range p.Members {
		lat, lon, ok, err := position(c, p.Key, m)
		if err != nil {
			return err
		}
		if !ok {
			w.Null()
			continue
		}
		writeCoord(c, lat, lon)
	}
	w.EndArr()
	w.EndObj()
	return nil
}

func writeCoord(c *call, lat, lon float64) {
	w := c.out
	w.Obj()
	w.Key("lat")
	w.Float(lat)
	w.Key("lon")
	w.Float(lon)
	w.EndObj()
}

// geospatial.geohash {key, members} -> {key, geohashes: [string | null]}:
// 11-character standard geohashes.
func geoHash(c *call) error {
	p, err := geoPayload(c)
	if err != nil {
		return err
	}
	c.s.geo.hashes.Add(1)
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("geohashes")
	w.Arr()
	for _, m := range p.Members {
		lat, lon, ok, err := position(c, p.Key, m)
		if err != nil {
			return err
		}
		if !ok {
			w.Null()
			continue
		}
		w.Str(geohash.EncodeWithPrecision(lat, lon, 11))
	}
	w.EndArr()
	w.EndObj()
	return nil
}

// geoHit is a member found by a search.
type geoHit struct {
	member   string
	lat, lon float64
	dist     float64 // metres from the centre
	score    float64
}

// search reads every member of key and keeps those inside: a circle of
// radius metres, or a box of width by height metres, around the centre.
func search(c *call, key string, lat, lon, radius, width, height float64) ([]geoHit, error) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: key, Start: 0, Stop: -1})
	if err != nil {
		return nil, err
	}
	var hits []geoHit
	for _, sm := range rep.Scored {
		mlat, mlon := geoDecode(sm.Score)
		d := haversine(lat, lon, mlat, mlon)
		in := d <= radius
		if radius < 0 {
			// A box: the north-south and east-west distances from the centre.
			dy := haversine(lat, lon, mlat, lon)
			dx := haversine(mlat, lon, mlat, mlon)
			in = dy <= height/2 && dx <= width/2
		}
		if in {
			hits = append(hits, geoHit{member: sm.Member, lat: mlat, lon: mlon, dist: d, score: sm.Score})
		}
	}
	return hits, nil
}

// writeHits sorts, trims and writes a search's results.
func writeHits(c *call, key string, hits []geoHit, p *geoArgs, f float64) error {
	switch strings.ToUpper(p.Sort) {
	case "", "ASC":
		slices.SortStableFunc(hits, func(a, b geoHit) int { return cmp.Compare(a.dist, b.dist) })
	case "DESC":
		slices.SortStableFunc(hits, func(a, b geoHit) int { return cmp.Compare(b.dist, a.dist) })
	default:
		return invalid("sort must be ASC or DESC, not %q", p.Sort)
	}
	if p.Count != nil {
		if *p.Count < 0 {
			return invalid("count must not be negative")
		}
		if *p.Count < len(hits) {
			hits = hits[:*p.Count]
		}
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(key)
	w.Key("results")
	w.Arr()
	for _, h := range hits {
		w.Obj()
		w.Key("member")
		w.Str(h.member)
		if p.WithDist {
			w.Key("distance")
			w.Float(h.dist / f)
		}
		if p.WithCoord {
			w.Key("coord")
			writeCoord(c, h.lat, h.lon)
		}
		if p.WithHash {
			w.Key("hash")
			w.Int(int64(h.score))
		}
		w.EndObj()
	}
	w.EndArr()
	w.EndObj()
	return nil
}

// geospatial.georadius {key, center_lat, center_lon, radius, unit, with_dist,
// with_coord, count, sort} and georadiusbymember {key, member, radius, ...}
// -> {key, results: [{member, distance?, coord?}]}, nearest first unless
// sort is DESC.
func geoRadius(byMember bool) command {
	return func(c *call) error {
		p, err := geoPayload(c)
		if err != nil {
			return err
		}
		f, err := unitFactor(p.Unit)
		if err != nil {
			return err
		}
		if p.Radius == nil || *p.Radius < 0 {
			return invalid("radius is required and must not be negative")
		}
		c.s.geo.radius.Add(1)
		var lat, lon float64
		if byMember {
			var ok bool
			if lat, lon, ok, err = position(c, p.Key, p.Member); err != nil {
				return err
			} else if !ok {
				return errorf(404, messages.CodeNotFound, "member %q is not in %q", p.Member, p.Key)
			}
		} else {
			if p.CenterLat == nil || p.CenterLon == nil {
				return invalid("center_lat and center_lon are required")
			}
			lat, lon = *p.CenterLat, *p.CenterLon
			if err := checkCoord(lat, lon); err != nil {
				return err
			}
		}
		hits, err := search(c, p.Key, lat, lon, *p.Radius*f, 0, 0)
		if err != nil {
			return err
		}
		return writeHits(c, p.Key, hits, p, f)
	}
}

// geospatial.geosearch {key, from_member | from_lonlat: [lon, lat],
// by_radius: [radius, unit] | by_box: [width, height, unit], with_dist,
// with_coord, with_hash, count, sort} -> {key, results}
func geoSearch(c *call) error {
	p, err := geoPayload(c)
	if err != nil {
		return err
	}
	c.s.geo.radius.Add(1)
	var lat, lon float64
	switch {
	case p.FromMember != "":
		var ok bool
		if lat, lon, ok, err = position(c, p.Key, p.FromMember); err != nil {
			return err
		} else if !ok {
			return errorf(404, messages.CodeNotFound, "member %q is not in %q", p.FromMember, p.Key)
		}
	case len(p.FromLonLat) == 2:
		lon, lat = p.FromLonLat[0], p.FromLonLat[1]
		if err := checkCoord(lat, lon); err != nil {
			return err
		}
	default:
		return invalid("from_member or from_lonlat ([lon, lat]) is required")
	}
	// The unit comes last in by_radius and by_box.
	num := func(v any) (float64, bool) { f, ok := v.(float64); return f, ok && f >= 0 }
	unitOf := func(v any) (float64, error) { s, _ := v.(string); return unitFactor(s) }
	var f, radius, width, height float64
	switch {
	case len(p.ByRadius) == 2:
		r, ok := num(p.ByRadius[0])
		if f, err = unitOf(p.ByRadius[1]); err != nil {
			return err
		}
		if !ok {
			return invalid("by_radius must be [radius, unit] with a radius not negative")
		}
		radius = r * f
	case len(p.ByBox) == 3:
		wd, ok1 := num(p.ByBox[0])
		ht, ok2 := num(p.ByBox[1])
		if f, err = unitOf(p.ByBox[2]); err != nil {
			return err
		}
		if !ok1 || !ok2 {
			return invalid("by_box must be [width, height, unit] with sizes not negative")
		}
		radius, width, height = -1, wd*f, ht*f
	default:
		return invalid("by_radius [radius, unit] or by_box [width, height, unit] is required")
	}
	hits, err := search(c, p.Key, lat, lon, radius, width, height)
	if err != nil {
		return err
	}
	return writeHits(c, p.Key, hits, p, f)
}

// geospatial.stats {} -> {total_keys, total_locations, geoadd_count,
// geodist_count, georadius_count, geopos_count, geohash_count}. Geo keys are
// sorted sets: total_keys counts every sorted set and total_locations their
// members, read from the keyspace (the original counts what geoadd added
// since it started, and never what went); the command counts are since the
// server started.
func geoStats(c *call) error {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT, Field: "zset"})
	if err != nil {
		return err
	}
	g := &c.s.geo
	w := c.out
	w.Obj()
	w.Key("total_keys")
	w.Int(rep.Integer)
	w.Key("total_locations")
	w.Int(rep.Elements)
	for _, f := range []struct {
		name string
		n    *atomic.Int64
	}{{"geoadd_count", &g.adds}, {"geodist_count", &g.dists},
		{"georadius_count", &g.radius}, {"geopos_count", &g.pos}, {"geohash_count", &g.hashes}} {
		w.Key(f.name)
		w.Int(f.n.Load())
	}
	w.EndObj()
	return nil
}

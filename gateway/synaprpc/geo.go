package synaprpc

import (
	"strconv"
	"strings"
)

// The geospatial commands, with the original's argument order (latitude
// before longitude, except after FROMLONLAT) and replies: a member, or
// [member, distance|Null, [lat, lon]|Null] when WITHDIST or WITHCOORD.

// geoOptions reads the trailing WITHDIST, WITHCOORD, COUNT n, ASC|DESC.
func geoOptions(a argv, from int, p obj) string {
	for i := from; i < len(a); i++ {
		s, e := a.str(i)
		if e != "" {
			return e
		}
		switch strings.ToUpper(s) {
		case "WITHDIST":
			p["with_dist"] = true
		case "WITHCOORD":
			p["with_coord"] = true
		case "COUNT":
			n, e := a.int(i + 1)
			if e != "" {
				return e
			}
			p["count"] = n
			i++
		case "ASC", "DESC":
			p["sort"] = strings.ToUpper(s)
		}
	}
	return ""
}

func geoResults(rep obj) any {
	rs, _ := rep["results"].([]any)
	out := make([]any, 0, len(rs))
	for _, x := range rs {
		r, _ := x.(obj)
		_, hasDist := r["distance"]
		coord, hasCoord := r["coord"].(obj)
		if !hasDist && !hasCoord {
			out = append(out, text(r["member"]))
			continue
		}
		var c any
		if hasCoord {
			c = []any{flt(coord["lat"]), flt(coord["lon"])}
		}
		out = append(out, []any{text(r["member"]), flt(r["distance"]), c})
	}
	return out
}

func keyMembers(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	ms, e := a.strs(1)
	return obj{"key": k, "members": ms}, e
}

var geoNatives = map[string]nativeFunc{
	// GEOADD key [NX|XX|CH] lat lon member [lat lon member ...]
	"GEOADD": simple("geospatial.geoadd", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		p := obj{"key": k}
		i := 1
		for ; i < len(a); i++ {
			s, _ := a.str(i)
			switch strings.ToUpper(s) {
			case "NX":
				p["nx"] = true
				continue
			case "XX":
				p["xx"] = true
				continue
			case "CH":
				continue
			}
			break
		}
		if (len(a)-i)%3 != 0 || len(a) == i {
			return nil, "ERR wrong number of arguments for 'GEOADD': expected lat/lon/member triplets"
		}
		var locs []obj
		for ; i+2 < len(a); i += 3 {
			lat, e := a.float(i)
			if e != "" {
				return nil, e
			}
			lon, e := a.float(i + 1)
			if e != "" {
				return nil, e
			}
			m, e := a.str(i + 2)
			if e != "" {
				return nil, e
			}
			locs = append(locs, obj{"lat": lat, "lon": lon, "member": m})
		}
		p["locations"] = locs
		return p, ""
	}, intField("added")),
	"GEOPOS": simple("geospatial.geopos", keyMembers, func(rep obj) any {
		cs, _ := rep["coordinates"].([]any)
		out := make([]any, len(cs))
		for i, x := range cs {
			if c, ok := x.(obj); ok {
				out[i] = []any{flt(c["lat"]), flt(c["lon"])}
			}
		}
		return out
	}),
	"GEODIST": simple("geospatial.geodist", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		m1, e := a.str(1)
		if e != "" {
			return nil, e
		}
		m2, e := a.str(2)
		if e != "" {
			return nil, e
		}
		unit := "m"
		if len(a) > 3 {
			if unit, e = a.str(3); e != "" {
				return nil, e
			}
		}
		return obj{"key": k, "member1": m1, "member2": m2, "unit": unit}, ""
	}, func(rep obj) any { return flt(rep["distance"]) }),
	"GEOHASH": simple("geospatial.geohash", keyMembers, func(rep obj) any {
		hs, _ := rep["geohashes"].([]any)
		out := make([]any, len(hs))
		for i, h := range hs {
			out[i] = text(h)
		}
		return out
	}),
	// GEORADIUS key lat lon radius unit [options]
	"GEORADIUS": simple("geospatial.georadius", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		lat, e := a.float(1)
		if e != "" {
			return nil, e
		}
		lon, e := a.float(2)
		if e != "" {
			return nil, e
		}
		r, e := a.float(3)
		if e != "" {
			return nil, e
		}
		unit, e := a.str(4)
		if e != "" {
			return nil, e
		}
		p := obj{"key": k, "center_lat": lat, "center_lon": lon, "radius": r, "unit": unit}
		return p, geoOptions(a, 5, p)
	}, geoResults),
	// GEORADIUSBYMEMBER key member radius unit [options]
	"GEORADIUSBYMEMBER": simple("geospatial.georadiusbymember", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		m, e := a.str(1)
		if e != "" {
			return nil, e
		}
		r, e := a.float(2)
		if e != "" {
			return nil, e
		}
		unit, e := a.str(3)
		if e != "" {
			return nil, e
		}
		p := obj{"key": k, "member": m, "radius": r, "unit": unit}
		return p, geoOptions(a, 4, p)
	}, geoResults),
	// GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat, BYRADIUS r unit |
	// BYBOX w h unit, [options]
	"GEOSEARCH": simple("geospatial.geosearch", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		p := obj{"key": k}
		rest := argv{}
		for i := 1; i < len(a); i++ {
			s, e := a.str(i)
			if e != "" {
				return nil, e
			}
			need := map[string]int{"FROMMEMBER": 1, "FROMLONLAT": 2, "BYRADIUS": 2, "BYBOX": 3}[strings.ToUpper(s)]
			if need == 0 {
				rest = append(rest, a[i])
				continue
			}
			if i+need >= len(a) {
				return nil, "ERR syntax error: " + s + " takes " + strconv.Itoa(need) + " arguments"
			}
			switch strings.ToUpper(s) {
			case "FROMMEMBER":
				m, e := a.str(i + 1)
				if e != "" {
					return nil, e
				}
				p["from_member"] = m
			case "FROMLONLAT":
				lon, e := a.float(i + 1)
				if e != "" {
					return nil, e
				}
				lat, e := a.float(i + 2)
				if e != "" {
					return nil, e
				}
				p["from_lonlat"] = []float64{lon, lat}
			case "BYRADIUS":
				r, e := a.float(i + 1)
				if e != "" {
					return nil, e
				}
				u, e := a.str(i + 2)
				if e != "" {
					return nil, e
				}
				p["by_radius"] = []any{r, u}
			case "BYBOX":
				w, e := a.float(i + 1)
				if e != "" {
					return nil, e
				}
				h, e := a.float(i + 2)
				if e != "" {
					return nil, e
				}
				u, e := a.str(i + 3)
				if e != "" {
					return nil, e
				}
				p["by_box"] = []any{w, h, u}
			}
			i += need
		}
		return p, geoOptions(rest, 0, p)
	}, geoResults),
	"GEOSTATS": simple("geospatial.stats", noArgs, func(rep obj) any {
		m := Map{}
		for _, k := range []string{"total_keys", "total_locations", "geoadd_count", "geodist_count", "georadius_count", "geopos_count", "geohash_count"} {
			m = append(m, Pair{k, num(rep[k])})
		}
		return m
	}),
}

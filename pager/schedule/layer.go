package schedule

import "time"

// rotation is a compiled layer: its handoffs and its restriction windows.
//
// Handoff k (k >= 0) is the instant the k-th shift starts; member
// k mod len(members) holds it. Handoff 0 is the layer's start. For daily and
// weekly rotations the later handoffs fall on the handoff time of day, every
// day or every week on the start's weekday, beginning with the first such
// reading at or after the start (skip is 1 when that reading is after the
// start, making shift 0 a partial one). They are computed as wall values and
// resolved in the zone, so a daily shift is 23 or 25 hours long on a DST day.
// Custom rotations step by an absolute duration from the start.
type rotation struct {
	loc     *time.Location
	members []string
	windows []window

	start time.Time // instant of handoff 0

	// daily and weekly
	anchor     time.Time // wall value of the first handoff at the handoff time of day
	skip       int64     // 1 when anchor is after the start, else 0
	periodDays int       // 1 or 7; 0 for custom rotations

	// custom
	lengthSec int64 // whole seconds
}

// handoff returns the instant handoff k happens (k >= 0).
func (r *rotation) handoff(k int64) time.Time {
	if r.periodDays == 0 {
		return time.Unix(r.start.Unix()+k*r.lengthSec, int64(r.start.Nanosecond())).In(r.loc)
	}
	if k == 0 || k < r.skip {
		return r.start
	}
	return resolve(r.anchor.AddDate(0, 0, int(k-r.skip)*r.periodDays), r.loc)
}

// maxAdjust bounds the steps taken from an estimated shift number to the
// right one; the estimate is off by at most one, so this is never reached.
const maxAdjust = 8

// shiftAt returns the number of the shift covering t, or false before the
// layer's start.
func (r *rotation) shiftAt(t time.Time) (int64, bool) {
	if t.Before(r.start) {
		return 0, false
	}
	var k int64
	if r.periodDays == 0 {
		k = (t.Unix() - r.start.Unix()) / r.lengthSec
	} else {
		days := floorDiv(wallOf(t, r.loc).Unix()-r.anchor.Unix(), 86400)
		k = floorDiv(days, int64(r.periodDays)) + r.skip
	}
	k = max(k, 0)
	for range maxAdjust {
		switch {
		case k > 0 && t.Before(r.handoff(k)):
			k--
		case !t.Before(r.handoff(k + 1)):
			k++
		default:
			return k, true
		}
	}
	return 0, false
}

// member returns who holds shift k.
func (r *rotation) member(k int64) string {
	return r.members[k%int64(len(r.members))]
}

// at returns who this layer has on call at t, honouring the restrictions.
func (r *rotation) at(t time.Time) (string, bool) {
	k, ok := r.shiftAt(t)
	if !ok {
		return "", false
	}
	if len(r.windows) > 0 && !inWindows(r.windows, t, r.loc) {
		return "", false
	}
	return r.member(k), true
}

// changes appends to dst the instants in (from, to) at which this layer's
// answer may change: handoffs and restriction edges.
func (r *rotation) changes(dst []time.Time, from, to time.Time) []time.Time {
	k := int64(0)
	if n, ok := r.shiftAt(from); ok {
		k = n + 1
	}
	for ; ; k++ {
		h := r.handoff(k)
		if !h.Before(to) {
			break
		}
		if h.After(from) {
			dst = append(dst, h)
		}
	}
	if len(r.windows) == 0 {
		return dst
	}
	last := dayOf(wallOf(to, r.loc)).AddDate(0, 0, 1)
	for day := dayOf(wallOf(from, r.loc)).AddDate(0, 0, -1); !day.After(last); day = day.AddDate(0, 0, 1) {
		for i := range r.windows {
			s, e, ok := r.windows[i].bounds(day, r.loc)
			if !ok {
				continue
			}
			for _, p := range [2]time.Time{s, e} {
				if p.After(from) && p.Before(to) {
					dst = append(dst, p)
				}
			}
		}
	}
	return dst
}

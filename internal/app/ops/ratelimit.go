package ops

import (
	"encoding/json"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Defaults of the API's per-client request rate (docs/operations.md, "HTTP limits"). A campaign
// engine reading customers one by one is the heaviest legitimate client; 1000 requests a second
// per address is above what one engine pod sends and below what one client needs to crowd the
// others out of the scorer's CPU.
const (
	DefaultRatePerSecond = 1000
	DefaultRateBurst     = 2000
	// DefaultRateClients is how many client addresses the limiter remembers: about 100 bytes
	// each, 1 MiB in all.
	DefaultRateClients = 10000
)

// RateLimit is a token bucket per client address: PerSecond requests a second on average and
// Burst at once. Clients are told apart by their connection's source address (an IPv6 client by
// its /64, which one host can fill with addresses); X-Forwarded-For is not trusted, so behind a
// proxy every client shares the proxy's bucket.
type RateLimit struct {
	PerSecond float64 // 0 disables the limit
	Burst     int     // 0 takes max(1, PerSecond)
	// MaxClients bounds the addresses remembered (0: DefaultRateClients). Past it the least
	// recently seen are forgotten, and come back with a full bucket: memory stays bounded at
	// the price of a looser limit when more clients than that are active at once.
	MaxClients int
}

// Handler returns h behind the limit: a client over its rate is answered 429 with Retry-After
// and a JSON error, and counted in segstream_http_requests_rate_limited_total{listener=name}.
func (rl RateLimit) Handler(name string, h http.Handler, m *Metrics) http.Handler {
	if rl.PerSecond <= 0 {
		return h
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	lim := newLimiter(rl)
	limited := m.limited.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := lim.allow(clientKey(r.RemoteAddr), time.Now())
		if ok {
			h.ServeHTTP(w, r)
			return
		}
		limited.Inc()
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		e.Error.Code = "rate_limited"
		e.Error.Message = "too many requests from this client; retry after " + strconv.Itoa(secs) + " s"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(e)
	})
}

// clientKey is the bucket a remote address draws from: the IPv4 address, or the IPv6 /64.
func clientKey(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		// Not ip:port (a test's fake address, a unix socket): one shared bucket.
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter holds the buckets in two generations: lookups move a client into cur, and when cur is
// half of MaxClients it becomes prev and the old prev is dropped. That bounds memory to MaxClients
// buckets without a sweep, and drops only clients not seen for a whole generation.
type limiter struct {
	rate, burst float64
	half        int

	mu        sync.Mutex
	cur, prev map[netip.Addr]bucket
}

func newLimiter(rl RateLimit) *limiter {
	burst := float64(rl.Burst)
	if burst <= 0 {
		burst = max(1, rl.PerSecond)
	}
	n := rl.MaxClients
	if n <= 0 {
		n = DefaultRateClients
	}
	half := max(1, n/2)
	return &limiter{rate: rl.PerSecond, burst: burst, half: half, cur: make(map[netip.Addr]bucket), prev: map[netip.Addr]bucket{}}
}

// allow takes a token from key's bucket at now. When none is left it says how long until one is.
func (l *limiter) allow(key netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.cur[key]
	if !ok {
		if b, ok = l.prev[key]; ok {
			delete(l.prev, key)
		} else {
			b = bucket{tokens: l.burst, last: now}
		}
		if len(l.cur) >= l.half {
			l.prev, l.cur = l.cur, make(map[netip.Addr]bucket, l.half)
		}
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.last = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.cur[key] = b
	if allowed {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// clients is how many buckets the limiter holds, for tests.
func (l *limiter) clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

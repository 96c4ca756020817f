package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// The shop's API for the demo's checkout journey: POST /api/login, POST
// /api/cart/items, GET /api/cart/{id}. It is stateless (the session, token
// and cart id are signed), so no request can make it hold memory. Every
// CartOutageEvery, from FirstCartOutage after the start, adding to the cart
// answers 503 for CartOutageFor: the journey probe fails at add_to_cart.

// Defaults of the cart outage.
const (
	DefaultCartOutageEvery = 7 * time.Minute
	DefaultCartOutageFor   = time.Minute
	DefaultFirstCartOutage = 4 * time.Minute
)

// DemoUser and DemoPassword log in to the demo shop's API.
const (
	DemoUser     = "demo"
	DemoPassword = "demo"
)

// cartAPI serves the journey's endpoints.
type cartAPI struct {
	shop                    *Shop
	key                     []byte
	every, length, firstOut float64 // seconds
}

func newCartAPI(s *Shop, opts ShopOptions) *cartAPI {
	if opts.CartOutageEvery <= 0 {
		opts.CartOutageEvery = DefaultCartOutageEvery
	}
	if opts.CartOutageFor <= 0 {
		opts.CartOutageFor = DefaultCartOutageFor
	}
	switch {
	case opts.FirstCartOutage == 0:
		opts.FirstCartOutage = DefaultFirstCartOutage
	case opts.FirstCartOutage < 0:
		opts.FirstCartOutage = 0
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &cartAPI{shop: s, key: key, every: opts.CartOutageEvery.Seconds(),
		length: min(opts.CartOutageFor, opts.CartOutageEvery).Seconds(), firstOut: opts.FirstCartOutage.Seconds()}
}

// InCartOutage reports whether adding to the cart fails at t.
func (s *Shop) InCartOutage(t time.Time) bool {
	c := s.cartAPI
	x := s.elapsed(t) - c.firstOut
	return x >= 0 && math.Mod(x, c.every) < c.length
}

func (c *cartAPI) sign(parts ...string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// session returns the session of the request's cookie, or "".
func (c *cartAPI) session(r *http.Request) string {
	ck, err := r.Cookie("shop_session")
	if err != nil {
		return ""
	}
	id, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(c.sign("session", id))) {
		return ""
	}
	return id
}

func (c *cartAPI) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ User, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send JSON: {\"user\":…,\"password\":…}"})
		return
	}
	if in.User != DemoUser || in.Password != DemoPassword {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong user or password"})
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: "shop_session", Value: id + "." + c.sign("session", id), Path: "/", HttpOnly: true})
	writeJSON(w, http.StatusOK, map[string]string{"user": in.User, "token": c.sign("csrf", id)})
}

var skuRE = regexp.MustCompile(`^SKU-[0-9]{1,6}$`)

func (c *cartAPI) addItem(w http.ResponseWriter, r *http.Request) {
	sess := c.session(r)
	if sess == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "log in first"})
		return
	}
	if !hmac.Equal([]byte(r.Header.Get("X-CSRF-Token")), []byte(c.sign("csrf", sess))) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong X-CSRF-Token"})
		return
	}
	if c.shop.InCartOutage(c.shop.now()) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "cart service unavailable: connection pool exhausted"})
		return
	}
	var in struct {
		SKU string `json:"sku"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || !skuRE.MatchString(in.SKU) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send JSON: {"sku":"SKU-42"}`})
		return
	}
	id := in.SKU + "." + c.sign("cart", sess, in.SKU)
	writeJSON(w, http.StatusOK, map[string]any{"cart_id": id, "items": 1})
}

func (c *cartAPI) viewCart(w http.ResponseWriter, r *http.Request) {
	sess := c.session(r)
	if sess == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "log in first"})
		return
	}
	sku, sig, ok := strings.Cut(r.PathValue("id"), ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(c.sign("cart", sess, sku))) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such cart"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": []map[string]any{{"sku": sku, "qty": 1}}})
}

func (c *cartAPI) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/login", c.login)
	mux.HandleFunc("POST /api/cart/items", c.addItem)
	mux.HandleFunc("GET /api/cart/{id}", c.viewCart)
}

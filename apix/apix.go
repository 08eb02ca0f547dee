// Package apix is the one JSON shape of every segstream HTTP endpoint (the scorer's read API and
// the retrainer's): a value, or {"error": {"code": ..., "message": ...}} whose code is stable for
// a client to branch on and whose message says what to do.
package apix

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is the body of every error answer.
type Error struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError answers status with an Error.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	var e Error
	e.Error.Code, e.Error.Message = code, msg
	WriteJSON(w, status, e)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Limit reads the query parameter limit: def when absent, else 1..max. Otherwise it answers 400
// bad_limit and reports false.
func Limit(w http.ResponseWriter, r *http.Request, def, max int) (int, bool) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return def, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > max {
		WriteError(w, http.StatusBadRequest, "bad_limit", "limit must be 1.."+strconv.Itoa(max))
		return 0, false
	}
	return n, true
}
